#!/usr/bin/env python3
"""Windows integrated sign-in in a real browser: headless Debian Chromium, allowed to answer
Negotiate challenges from the IdP's host, signs in to a SAML SP through altgate with the
Kerberos ticket in KRB5CCNAME and never sees the sign-in form.

    KRB5_CONFIG=... KRB5CCNAME=FILE:... /var/tmp/altgate-pyenv/bin/python \\
        scripts/browser_kerberos.py --ca altgate-https.pem --idp-host sts.contoso.com \\
        --sp http://localhost:8301 [--user-agent UA]

What Chromium on Linux needs, all inside the run's own HOME and profile:
  - `--auth-server-allowlist=HOST` (the Intranet zone of Windows, `AuthServerAllowlist` policy);
  - a host name that resolves (Chromium asks for HTTP@<canonical name>; with an IP address or
    --host-resolver-rules it would ask for HTTP@<ip>, which has no key);
  - `<profile>/Local State` holding {"net":{"received_http_auth_negotiate_headers":true}}: a
    fresh profile's first Negotiate challenge otherwise fails;
  - the IdP's certificate trusted in $HOME/.pki/nssdb (see browser_signin.py).

Flow: open SP /login (the SP redirects to altgate), wait for the SP's #signed-in, recording
whether altgate's #userNameInput was ever seen on the way. Prints ONE JSON object; exit 0 when
signed in, 1 otherwise (2 for a setup failure).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_signin import Run, StepFailed, browser_arguments, execute  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402


class KerberosRun(Run):
    def seed_profile(self):
        with open(os.path.join(self.profile, "Local State"), "w") as f:
            json.dump({"net": {"received_http_auth_negotiate_headers": True}}, f)

    def flow(self):
        a = self.args
        sp = a.sp.rstrip("/")
        self.step = "sign-in"
        t0 = time.monotonic()
        self.driver.get(f"{sp}/login")
        form_seen = False
        deadline = time.monotonic() + self.timeout
        signed_in = None
        while time.monotonic() < deadline:
            try:
                if self.find("#userNameInput") is not None:
                    form_seen = True
                    break
                if self.find("h1#error") is not None:
                    raise StepFailed(self.step, f"service provider rejected the sign-in: {self.find('h1#error').text}")
                signed_in = self.signed_in_on(sp)()
                if signed_in:
                    break
                code = self.browser_error()
                if code:
                    raise StepFailed(self.step, f"browser shows an error page ({code})")
            except WebDriverException:
                pass
            time.sleep(0.05)
        self.result["sign_in_form_shown"] = form_seen
        if form_seen:
            raise StepFailed(self.step, "altgate showed the sign-in form: Negotiate did not sign in")
        if not signed_in:
            raise StepFailed(self.step, f"timed out after {self.timeout}s waiting for the SP")
        self.result["sp"] = self.read_sp_page()
        self.result["seconds"] = round(time.monotonic() - t0, 3)
        self.result["ok"] = True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ca", required=True)
    p.add_argument("--idp-host", required=True, help="the IdP host Chromium may answer Negotiate for")
    p.add_argument("--sp", required=True, help="SP base URL, e.g. http://localhost:8301")
    p.add_argument("--user-agent", help="override Chromium's User-Agent")
    browser_arguments(p)
    args = p.parse_args()
    args.timeout = max(1.0, min(args.timeout, 20.0))
    args.chromium_arg.append(f"--auth-server-allowlist={args.idp_host}")
    if args.user_agent:
        args.chromium_arg.append(f"--user-agent={args.user_agent}")
    return execute(KerberosRun(args), KerberosRun.seed_profile)


if __name__ == "__main__":
    sys.exit(main())
