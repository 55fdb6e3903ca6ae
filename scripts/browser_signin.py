#!/usr/bin/env python3
"""Real browser sign-in through altgate: headless Debian Chromium driven by Selenium.

Run it with the venv made by scripts/setup-python-clients.sh (browser: scripts/setup-browser.sh):

    /var/tmp/altgate-pyenv/bin/python scripts/browser_signin.py --ca altgate-https.pem \
        --sp1 http://localhost:8301 --sp2 http://localhost:8302 \
        --username alice@example.test --password 'Secret1!' [--wrong-password nope]

The browser trusts the IdP's HTTPS certificate (a self-signed leaf, given by --ca) the way a person
would make Chromium trust it on Linux: it is put into the NSS database of a fresh HOME
(certutil -d sql:$HOME/.pki/nssdb -A -t "P,," ...; "P" = trusted peer, which is what a
self-signed leaf needs). Certificate errors are never ignored.

Flow (each wait at most --timeout seconds, 20 by default and at most 20):
  1. open SP1 /login; the SP redirects to the IdP; wait for #userNameInput (record the IdP page's
     URL, title and whether <html lang> is set);
  2. with --wrong-password: type it, submit, wait for #errorText on the IdP page (record its text);
  3. type the username and the right password, submit, wait for SP1's #signed-in (record its text,
     #attributes JSON, #relay-state, #session JSON);
  4. open SP2 /login; the IdP should answer from its SSO cookie with no sign-in form: wait for SP2's
     #signed-in, recording whether #userNameInput ever appeared;
  5. record the IdP's cookies as the browser holds them (name, flags; values are not printed).

Prints ONE JSON object on stdout. Exit 0 when everything succeeded; otherwise exit 1 (2 for bad
usage or a setup failure) and the JSON is {"error": ..., "step": ..., "url": ..., "title": ...,
"page_text": visible text snippet, "page_source": HTML snippet, "partial": what was recorded so
far}. A certificate Chromium does not trust shows up as
"error": "browser shows a certificate error (ERR_CERT_AUTHORITY_INVALID) instead of ...".
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--password-store=basic",
    "--window-size=1200,900",
]

# Chromium's own error pages: the certificate interstitial keeps the page's URL and shows
# "net::ERR_CERT_..."; network errors load chrome-error://chromewebdata/ with "ERR_...".
NET_ERROR = re.compile(r"net::(ERR_[A-Z_]+)")
ANY_ERROR = re.compile(r"\b(ERR_[A-Z_]+)")


class StepFailed(Exception):
    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


class Run:
    def __init__(self, args):
        self.args = args
        self.timeout = args.timeout
        self.result = {}
        self.driver = None
        self.step = "setup"
        self.workdir = tempfile.mkdtemp(prefix="altgate-browser-")
        self.home = os.path.join(self.workdir, "home")
        self.nssdb = os.path.join(self.home, ".pki", "nssdb")
        self.profile = os.path.join(self.workdir, "profile")

    # --- setup ----------------------------------------------------------------------------
    def trust_certificate(self):
        os.makedirs(self.nssdb, mode=0o700)
        os.makedirs(self.profile, mode=0o700)
        db = f"sql:{self.nssdb}"
        for cmd in (
            [self.args.certutil, "-d", db, "-N", "--empty-password"],
            [self.args.certutil, "-d", db, "-A", "-t", self.args.trust_flags, "-n", self.args.nickname,
             "-i", self.args.ca],
        ):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise StepFailed("trust", f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
        listing = subprocess.run([self.args.certutil, "-d", db, "-L"], capture_output=True, text=True).stdout
        trust = None
        for line in listing.splitlines():
            if line.startswith(self.args.nickname + " ") or line.strip().startswith(self.args.nickname):
                trust = line.split()[-1]
        self.result["trust"] = {
            "nssdb": db,
            "command": f'certutil -d sql:$HOME/.pki/nssdb -A -t "{self.args.trust_flags}" -n {self.args.nickname} -i CERT.pem',
            "flags": self.args.trust_flags,
            "listed_as": trust,
        }

    def start_browser(self):
        options = webdriver.ChromeOptions()
        options.binary_location = self.args.chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        for flag in self.args.chromium_arg:
            options.add_argument(flag)
        options.page_load_strategy = "normal"
        env = dict(os.environ)
        env["HOME"] = self.home  # Chromium reads $HOME/.pki/nssdb
        env["SE_OFFLINE"] = "true"
        service = Service(
            executable_path=self.args.chromedriver,
            env=env,
            log_output=os.path.join(self.workdir, "chromedriver.log"),
        )
        try:
            self.driver = webdriver.Chrome(service=service, options=options)
        except WebDriverException as exc:
            raise StepFailed("start-browser", f"could not start chromium via chromedriver: {exc.msg or exc}")
        self.driver.set_page_load_timeout(self.timeout)
        caps = self.driver.capabilities
        self.result["browser"] = {
            "name": caps.get("browserName"),
            "version": caps.get("browserVersion"),
            "chromedriver": (caps.get("chrome") or {}).get("chromedriverVersion", "").split(" ")[0],
            "headless": True,
        }

    # --- helpers --------------------------------------------------------------------------
    def find(self, css):
        try:
            els = self.driver.find_elements(By.CSS_SELECTOR, css)
        except WebDriverException:
            return None
        return els[0] if els else None

    def page_state(self):
        d = self.driver
        try:
            return {"url": d.current_url, "title": d.title}
        except WebDriverException as exc:
            return {"url": None, "title": None, "driver_error": str(exc)}

    def browser_error(self):
        """Chromium's error code when it shows its own error page (certificate, network), else None."""
        try:
            url = self.driver.current_url
            src = self.driver.page_source
        except WebDriverException:
            return None
        m = NET_ERROR.search(src)
        if m is None and url.startswith("chrome-error:"):
            m = ANY_ERROR.search(src) or re.match(r"(.*)", "unknown chrome error page")
        return m.group(1) if m else None

    def wait_for(self, what, predicate, fail_on=()):
        """Poll predicate() until it returns something truthy, at most self.timeout seconds.

        fail_on: (css, description) pairs; seeing one of them first is a failure."""
        deadline = time.monotonic() + self.timeout
        last_exc = None
        while time.monotonic() < deadline:
            try:
                for css, desc in fail_on:
                    el = self.find(css)
                    if el is not None:
                        raise StepFailed(self.step, f"{desc}: {el.text.strip()[:1000]}")
                got = predicate()
                if got:
                    return got
                code = self.browser_error()
                if code:
                    kind = "a certificate error" if "CERT" in code else "an error page"
                    raise StepFailed(self.step, f"browser shows {kind} ({code}) instead of {what}")
            except StepFailed:
                raise
            except WebDriverException as exc:  # page in transition
                last_exc = exc
            time.sleep(0.1)
        raise StepFailed(self.step, f"timed out after {self.timeout}s waiting for {what}"
                         + (f" (last driver error: {last_exc.msg})" if last_exc else ""))

    def on_origin(self, base):
        want = urlsplit(base)
        def check():
            got = urlsplit(self.driver.current_url)
            return (got.scheme, got.netloc) == (want.scheme, want.netloc)
        return check

    def signed_in_on(self, base):
        origin = self.on_origin(base)
        def check():
            if not origin():
                return None
            return self.find("#signed-in")
        return check

    def read_sp_page(self):
        out = {"url": self.driver.current_url, "signed_in_text": self.find("#signed-in").text.strip()}
        for key, css, is_json in (("attributes", "#attributes", True), ("relay_state", "#relay-state", False),
                                  ("session", "#session", True)):
            el = self.find(css)
            if el is None:
                out[key] = None
                continue
            text = el.text
            if is_json:
                try:
                    out[key] = json.loads(text)
                except ValueError:
                    out[key] = {"unparsed": text}
            else:
                out[key] = text.strip()
        return out

    def sp_error_check(self, base):
        """(css, description) for an SP's rejection page, only while on that SP."""
        return [("h1#error", f"service provider {base} rejected the sign-in")]

    def fill_and_submit(self, username, password):
        user = self.find("#userNameInput")
        pw = self.find("#passwordInput")
        btn = self.find("#submitButton")
        missing = [n for n, e in (("#userNameInput", user), ("#passwordInput", pw), ("#submitButton", btn)) if e is None]
        if missing:
            raise StepFailed(self.step, f"sign-in form incomplete, missing {missing}")
        user.clear()
        user.send_keys(username)
        pw.clear()
        pw.send_keys(password)
        btn.click()
        # The click posts the form: wait until the old page is gone, so what follows never reads
        # the previous page (its #errorText) as the answer.
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                btn.is_displayed()
            except WebDriverException:
                return
            time.sleep(0.05)
        raise StepFailed(self.step, "the sign-in form never left the page after submitting")

    # --- the flow -------------------------------------------------------------------------
    def flow(self):
        a = self.args
        sp1, sp2 = a.sp1.rstrip("/"), a.sp2.rstrip("/")
        t0 = time.monotonic()
        timings = {}
        self.result["sp1"] = r1 = {"base": sp1}
        self.result["sp2"] = r2 = {"base": sp2}

        # 1. SP1 -> IdP sign-in form
        self.step = "sp1-to-idp-form"
        r1["login_url"] = f"{sp1}/login"
        self.driver.get(r1["login_url"])
        self.wait_for("the IdP sign-in form (#userNameInput)", lambda: self.find("#userNameInput"),
                      fail_on=self.sp_error_check(sp1))
        lang = self.driver.execute_script("return document.documentElement.getAttribute('lang')")
        r1["idp_form"] = {
            "url": self.driver.current_url,
            "title": self.driver.title,
            "html_lang": lang,
            "lang_set": bool(lang and lang.strip()),
            "secure_context": self.driver.execute_script("return window.isSecureContext"),
            "form_method": (self.find("form#loginForm").get_attribute("method") if self.find("form#loginForm") else None),
            "hidden_fields": [e.get_attribute("name") for e in
                              self.driver.find_elements(By.CSS_SELECTOR, "form#loginForm input[type=hidden]")],
        }
        idp_origin = urlsplit(self.driver.current_url)
        idp_base = f"{idp_origin.scheme}://{idp_origin.netloc}"
        self.result["idp_base"] = idp_base
        if idp_origin.scheme != "https":
            raise StepFailed(self.step, f"IdP sign-in page is not HTTPS: {self.driver.current_url}")
        timings["sp1_to_idp_form"] = round((time.monotonic() - t0) * 1000)

        # 2. wrong password -> #errorText, still on the IdP
        if a.wrong_password is not None:
            self.step = "wrong-password"
            t = time.monotonic()
            old_form = self.find("form#loginForm")
            self.fill_and_submit(a.username, a.wrong_password)

            def error_shown():
                if not self.on_origin(idp_base)():
                    return None
                try:
                    if old_form.is_displayed():  # the old page is still there
                        return None
                except WebDriverException:
                    pass  # stale: a new page has loaded
                el = self.find("#errorText")
                return el if el is not None and el.text.strip() else None

            err = self.wait_for("#errorText on the IdP page after a wrong password", error_shown,
                                fail_on=[("#signed-in", "signed in with a WRONG password")])
            r1["wrong_password"] = {
                "error_text": err.text.strip(),
                "url": self.driver.current_url,
                "title": self.driver.title,
                "form_shown_again": self.find("#userNameInput") is not None,
                "username_kept": (self.find("#userNameInput").get_attribute("value")
                                  if self.find("#userNameInput") else None),
            }
            timings["wrong_password"] = round((time.monotonic() - t) * 1000)

        # 3. right password -> SP1 signed in
        self.step = "sp1-sign-in"
        t = time.monotonic()
        self.fill_and_submit(a.username, a.password)
        self.wait_for(f"#signed-in on {sp1}", self.signed_in_on(sp1),
                      fail_on=[("#errorText", "the IdP rejected the right password")] + self.sp_error_check(sp1))
        r1.update(self.read_sp_page())
        timings["sp1_sign_in"] = round((time.monotonic() - t) * 1000)

        # 4. SP2 -> SSO, no sign-in form
        self.step = "sp2-sso"
        t = time.monotonic()
        r2["login_url"] = f"{sp2}/login"
        self.driver.get(r2["login_url"])
        seen = {"form": False, "idp_urls": []}

        def sso_done():
            url = self.driver.current_url
            if url.startswith(idp_base) and url not in seen["idp_urls"]:
                seen["idp_urls"].append(url.split("?", 1)[0])
            if self.find("#userNameInput") is not None:
                seen["form"] = True
                raise StepFailed(self.step, "the IdP showed the sign-in form again instead of single sign-on")
            return self.signed_in_on(sp2)()

        try:
            self.wait_for(f"#signed-in on {sp2} (single sign-on)", sso_done, fail_on=self.sp_error_check(sp2))
        finally:
            r2["sign_in_form_shown"] = seen["form"]
        r2.update(self.read_sp_page())
        timings["sp2_sso"] = round((time.monotonic() - t) * 1000)

        # 5. the IdP's cookies as the browser holds them
        self.step = "cookies"
        self.record_cookies()
        timings["total"] = round((time.monotonic() - t0) * 1000)
        self.result["timings_ms"] = timings
        self.result["ok"] = True

    def record_cookies(self):
        """The IdP's cookies as the browser holds them (all cookies if the IdP is not known yet)."""
        try:
            cookies = self.driver.execute_cdp_cmd("Network.getAllCookies", {}).get("cookies", [])
        except WebDriverException as exc:
            self.result["cookies_error"] = str(exc.msg or exc)
            return
        idp = urlsplit(self.result.get("idp_base") or "")
        self.result["idp_cookies"] = [
            {
                "name": c.get("name"),
                "domain": c.get("domain"),
                "path": c.get("path"),
                "secure": c.get("secure"),
                "httpOnly": c.get("httpOnly"),
                "sameSite": c.get("sameSite", "unset"),
                "session": c.get("session"),
                "port": c.get("sourcePort"),
                "value_length": len(c.get("value") or ""),
            }
            for c in cookies
            if not idp.hostname
            or ((c.get("domain") or "").lstrip(".") == idp.hostname
                and c.get("sourcePort") in (None, -1, idp.port or 443))
        ]

    def failure(self, message):
        out = {"error": message, "step": self.step}
        if self.driver is not None:
            self.record_cookies()
            out.update(self.page_state())
            try:
                out["page_text"] = self.driver.execute_script(
                    "return document.body ? document.body.innerText : ''")[: self.args.snippet]
            except WebDriverException:
                out["page_text"] = None
            try:
                out["page_source"] = self.driver.page_source[: self.args.snippet]
            except WebDriverException:
                out["page_source"] = None
        out["partial"] = self.result
        return out

    def close(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:
                pass
        if self.args.keep:
            print(f"browser_signin: kept {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ca", required=True, help="PEM of the IdP's HTTPS certificate (self-signed leaf) to trust")
    p.add_argument("--sp1", required=True, help="first SP base URL, e.g. http://localhost:8301")
    p.add_argument("--sp2", required=True, help="second SP base URL (single sign-on check)")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--wrong-password", help="first submit this password and expect #errorText")
    browser_arguments(p)
    args = p.parse_args()
    args.timeout = max(1.0, min(args.timeout, 20.0))

    for path in (args.ca, args.chromium, args.chromedriver, args.certutil):
        if not os.path.exists(path):
            print(json.dumps({"error": f"missing: {path}", "step": "setup"}))
            return 2

    return execute(Run(args))


def browser_arguments(p):
    """The options every browser run shares (the browser, its certificate trust, reporting)."""
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per step (at most 20)")
    p.add_argument("--trust-flags", default="P,,", help='certutil -t trust flags (default "P,,": trusted peer)')
    p.add_argument("--nickname", default="altgate")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--chromium-arg", action="append", default=[], metavar="FLAG",
                   help="extra Chromium flag (repeatable), e.g. --chromium-arg=--disable-http2")
    p.add_argument("--certutil", default=shutil.which("certutil") or "/usr/bin/certutil")
    p.add_argument("--snippet", type=int, default=4000, help="page source characters in a failure report")
    p.add_argument("--keep", action="store_true", help="keep the temporary HOME/profile (path on stderr)")


def execute(run, prepare=lambda run: None):
    """Trusts the certificate, runs `prepare(run)`, starts the browser and the flow; prints ONE
    JSON object (the result, or the failure report) and returns the exit code: 0 done, 1 failed,
    2 setup failed."""
    code = 0
    try:
        run.trust_certificate()
        prepare(run)
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
    print(json.dumps(out, indent=1, sort_keys=True))
    return code


if __name__ == "__main__":
    sys.exit(main())
