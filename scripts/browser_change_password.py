#!/usr/bin/env python3
"""Real browser through an expired or must-change password: headless Debian Chromium (Selenium)
signs in at an SP through altgate, gets altgate's change-password page, changes the password and
lands signed in at the SP. Same setup and conventions as scripts/browser_signin.py (whose browser
setup it reuses: the IdP certificate trusted through a fresh NSS database, never ignored).

    /var/tmp/altgate-pyenv/bin/python scripts/browser_change_password.py --ca altgate-https.pem \
        --sp http://localhost:8301 --username u@example.test --old-password 'Old-Pw-1!' \
        --new-password 'New-Pw-2!' [--weak-password abc] [--mismatch]

Flow (each wait at most --timeout seconds, at most 20):
  1. open SP /login; the SP redirects to the IdP; wait for #userNameInput;
  2. type the username and the OLD password, submit; wait for the change page (#newPasswordInput),
     record its heading, #passwordIntro, the hidden field names of form#updatePasswordForm and
     whether the old password appears anywhere in the page source;
  3. with --mismatch: type two different new passwords, expect #errorText (recorded);
  4. with --weak-password: type it twice, expect #errorText (recorded) and the form again;
  5. type the new password twice, submit; wait for the SP's #signed-in (recorded);
  6. record the IdP's cookies (names and flags only).

Prints ONE JSON object; exit 0 when every step succeeded, 1 otherwise (2: setup failure), the JSON
then being {"error", "step", "url", "title", "page_text", "page_source", "partial"}.
"""

import argparse
import json
import os
import shutil
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_signin import Run, StepFailed  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


class ChangeRun(Run):
    def submit_and_wait_gone(self, button):
        button.click()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                button.is_displayed()
            except WebDriverException:
                return
            time.sleep(0.05)
        raise StepFailed(self.step, "the form never left the page after submitting")

    def fill_new(self, new, confirm):
        fields = [self.find("#newPasswordInput"), self.find("#confirmNewPasswordInput"), self.find("#submitButton")]
        if any(f is None for f in fields):
            raise StepFailed(self.step, "change-password form incomplete")
        fields[0].clear()
        fields[0].send_keys(new)
        fields[1].clear()
        fields[1].send_keys(confirm)
        self.submit_and_wait_gone(fields[2])

    def error_on_change_page(self, what):
        el = self.wait_for(what, lambda: (self.find("#errorText") if self.find("#newPasswordInput") else None),
                           fail_on=[("#signed-in", "signed in although the new password was refused")])
        return {"error_text": el.text.strip(), "form_shown_again": self.find("#newPasswordInput") is not None,
                "url": self.driver.current_url}

    def flow(self):
        a = self.args
        sp = a.sp.rstrip("/")
        t0 = time.monotonic()
        r = self.result["sp"] = {"base": sp}

        self.step = "sp-to-idp-form"
        self.driver.get(f"{sp}/login")
        self.wait_for("the IdP sign-in form (#userNameInput)", lambda: self.find("#userNameInput"),
                      fail_on=self.sp_error_check(sp))
        idp = urlsplit(self.driver.current_url)
        self.result["idp_base"] = f"{idp.scheme}://{idp.netloc}"
        if idp.scheme != "https":
            raise StepFailed(self.step, f"IdP page is not HTTPS: {self.driver.current_url}")

        self.step = "old-password"
        self.fill_and_submit(a.username, a.old_password)
        self.wait_for("the change-password page (#newPasswordInput)", lambda: self.find("#newPasswordInput"),
                      fail_on=[("#signed-in", "signed in without changing the password"),
                               ("#errorText", "the IdP refused the old password")])
        src = self.driver.page_source
        r["change_page"] = {
            "url": self.driver.current_url,
            "title": self.driver.title,
            "heading": self.find("h1").text.strip() if self.find("h1") else None,
            "intro": self.find("#passwordIntro").text.strip() if self.find("#passwordIntro") else None,
            "hidden_fields": [e.get_attribute("name") for e in
                              self.driver.find_elements(By.CSS_SELECTOR, "form#updatePasswordForm input[type=hidden]")],
            "old_password_in_page": a.old_password in src,
        }

        if a.mismatch:
            self.step = "mismatch"
            self.fill_new(a.new_password, a.new_password + "x")
            r["mismatch"] = self.error_on_change_page("#errorText after two different new passwords")

        if a.weak_password is not None:
            self.step = "weak-password"
            self.fill_new(a.weak_password, a.weak_password)
            r["weak_password"] = self.error_on_change_page("#errorText after a weak new password")

        self.step = "new-password"
        self.fill_new(a.new_password, a.new_password)
        self.wait_for(f"#signed-in on {sp}", self.signed_in_on(sp),
                      fail_on=[("#errorText", "the IdP refused the new password")] + self.sp_error_check(sp))
        r.update(self.read_sp_page())

        self.step = "cookies"
        self.record_cookies()
        self.result["total_ms"] = round((time.monotonic() - t0) * 1000)
        self.result["ok"] = True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ca", required=True, help="PEM of the IdP's HTTPS certificate to trust")
    p.add_argument("--sp", required=True, help="SP base URL, e.g. http://localhost:8301")
    p.add_argument("--username", required=True)
    p.add_argument("--old-password", required=True)
    p.add_argument("--new-password", required=True)
    p.add_argument("--weak-password", help="first try this new password and expect the policy message")
    p.add_argument("--mismatch", action="store_true", help="first type two different new passwords")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--trust-flags", default="P,,")
    p.add_argument("--nickname", default="altgate")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--chromium-arg", action="append", default=[], metavar="FLAG")
    p.add_argument("--certutil", default=shutil.which("certutil") or "/usr/bin/certutil")
    p.add_argument("--snippet", type=int, default=4000)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    args.timeout = max(1.0, min(args.timeout, 20.0))
    for path in (args.ca, args.chromium, args.chromedriver, args.certutil):
        if not os.path.exists(path):
            print(json.dumps({"error": f"missing: {path}", "step": "setup"}))
            return 2
    run = ChangeRun(args)
    code = 0
    try:
        run.trust_certificate()
        run.start_browser()
        run.flow()
        out = run.result
    except StepFailed as exc:
        out, code = run.failure(str(exc)), (2 if exc.step in ("trust", "start-browser") else 1)
    except WebDriverException as exc:
        out, code = run.failure(f"webdriver: {exc.msg or exc}"), 1
    except Exception as exc:  # noqa: BLE001 - report anything as JSON
        out, code = run.failure(f"{type(exc).__name__}: {exc}"), 1
    finally:
        run.close()
    # The failure report carries page source: never the passwords typed.
    text = json.dumps(out, indent=1, sort_keys=True)
    for secret in filter(None, (args.old_password, args.new_password, args.weak_password)):
        text = text.replace(secret, "<password>")
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
