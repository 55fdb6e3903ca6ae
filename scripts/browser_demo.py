#!/usr/bin/env python3
"""The demo as a new user meets it, in a real browser: headless Debian Chromium driven by Selenium.

Run it with the venv made by scripts/setup-python-clients.sh (browser: scripts/setup-browser.sh),
against an altgate serving the shipped demo configuration:

    /var/tmp/altgate-pyenv/bin/python scripts/browser_demo.py --ca certs/server.crt \
        --base https://localhost:8443 --username jdoe@contoso.com --password 'Demo-Passw0rd!' \
        [--wrong-password nope] [--screenshots DIR]

The browser trusts altgate's self-signed certificate the way scripts/browser_signin.py does (its
own NSS database; certificate errors are never ignored).

Flow (each wait at most --timeout seconds):
  1. open BASE/demo/, click "Sign in with WS-Federation", wait for altgate's sign-in form; check
     the page (language, labels, logo loaded, accent colour, help-desk text, keyboard order:
     user name focused, Tab to the password, Tab to the button); screenshot sign-in.png;
  2. with --wrong-password: submit it, wait for #errorText (the user name is kept);
  3. type the password and press Enter (keyboard only), wait for the demo application's
     #signed-in; record the claims and the SSO session; screenshot signed-in.png;
  4. press "Sign out", wait for the demo start page saying there is no SSO session;
  5. open BASE/adfs/ls/?wa=wsignin1.0&wtrealm=urn:altgate:not-registered, wait for the error
     page; record #activityId and #errorTime; screenshot error.png.

Prints ONE JSON object on stdout; exit 0 when everything succeeded, else 1 (2: setup) with
{"error", "step", "url", "page_text", "partial"} as browser_signin.py reports it.
"""

import argparse
import base64
import json
import os
import shutil
import sys
import time

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_signin import Run, StepFailed  # noqa: E402

# Screenshots are taken at this width; the height follows the page.
SHOT_WIDTH = 900


class DemoRun(Run):
    def screenshot(self, name):
        """A PNG of the whole page at SHOT_WIDTH pixels wide, into --screenshots."""
        if not self.args.screenshots:
            return None
        height = self.driver.execute_script(
            "return Math.ceil(Math.max(document.body.scrollHeight, document.documentElement.scrollHeight))")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": SHOT_WIDTH, "height": min(int(height) + 8, 2400), "scale": 1},
        })
        path = os.path.join(self.args.screenshots, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        self.result.setdefault("screenshots", []).append(path)
        return path

    def active_id(self):
        return self.driver.execute_script("return document.activeElement && document.activeElement.id")

    def text(self, css):
        el = self.find(css)
        return el.text.strip() if el is not None else None

    def sign_in_page_checks(self):
        d = self.driver
        js = d.execute_script
        checks = {
            "url": d.current_url,
            "title": d.title,
            "html_lang": js("return document.documentElement.getAttribute('lang')"),
            "labels": js("""return Array.from(document.querySelectorAll('label')).map(l => {
                const f = document.getElementById(l.htmlFor);
                return {for: l.htmlFor, text: l.textContent.trim(), field: f ? f.tagName : null};
            })"""),
            "logo": js("""const i = document.querySelector('.brand img');
                return i ? {alt: i.alt, loaded: i.complete && i.naturalWidth > 0, src: i.getAttribute('src')} : null"""),
            "button_background": js(
                "return getComputedStyle(document.getElementById('submitButton')).backgroundColor"),
            "button_color": js("return getComputedStyle(document.getElementById('submitButton')).color"),
            "help_desk": self.text("#helpDesk"),
            "hint": self.text("#userHint"),
            "focused_first": self.active_id(),
        }
        # Keyboard: Tab from the user name reaches the password, then the button.
        order = [self.active_id()]
        for _ in range(2):
            d.switch_to.active_element.send_keys(Keys.TAB)
            order.append(self.active_id())
        checks["tab_order"] = order
        checks["focus_outline"] = js(
            "return getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth")
        return checks

    def flow(self):
        a = self.args
        base = a.base.rstrip("/")
        self.driver.set_window_size(SHOT_WIDTH, 900)

        self.step = "demo-home"
        self.driver.get(f"{base}/demo/")
        self.wait_for("the demo start page (#demo-home)", lambda: self.find("#demo-home"))
        self.result["home"] = {"url": self.driver.current_url, "session": self.text("#session-state")}

        self.step = "to-sign-in-form"
        self.find("#signInWsFed").click()
        self.wait_for("altgate's sign-in form (#userNameInput)", lambda: self.find("#userNameInput"))
        self.result["sign_in_page"] = self.sign_in_page_checks()
        # The screenshot shows the form as a user first sees it (nothing focused by Tab).
        self.driver.execute_script("document.activeElement.blur()")
        self.screenshot("sign-in.png")

        if a.wrong_password is not None:
            self.step = "wrong-password"
            user = self.find("#userNameInput")
            user.clear()
            user.send_keys(a.username)
            pw = self.find("#passwordInput")
            pw.send_keys(a.wrong_password)
            old = self.find("form#loginForm")
            pw.send_keys(Keys.ENTER)

            def error_shown():
                try:
                    if old.is_displayed():
                        return None
                except WebDriverException:
                    pass
                return self.find("#errorText")

            err = self.wait_for("#errorText after a wrong password", error_shown,
                                fail_on=[("#signed-in", "signed in with a WRONG password")])
            self.result["wrong_password"] = {
                "error_text": err.text.strip(),
                "username_kept": self.find("#userNameInput").get_attribute("value"),
                "focused": self.active_id(),
            }

        self.step = "sign-in"
        if self.find("#userNameInput").get_attribute("value") != a.username:
            user = self.find("#userNameInput")
            user.clear()
            user.send_keys(a.username)
        pw = self.find("#passwordInput")
        pw.clear()
        pw.send_keys(a.password)
        pw.send_keys(Keys.ENTER)
        self.wait_for("the demo application's #signed-in", lambda: self.find("#signed-in"),
                      fail_on=[("#errorText", "the sign-in failed"), ("#demoError", "the demo application refused the token")])
        claims = self.driver.execute_script("""return Array.from(document.querySelectorAll('#claims tr')).map(r => {
            const code = r.querySelector('th code');
            return [code ? code.textContent : '', r.querySelector('td').textContent];
        })""")
        self.result["signed_in"] = {
            "url": self.driver.current_url,
            "heading": self.text("#signed-in"),
            "who": self.text("#who"),
            "issuer": self.text("#issuer"),
            "claims": claims,
            "session": self.text("#session"),
        }
        self.screenshot("signed-in.png")

        self.step = "sign-out"
        self.find("#signOut").click()
        self.wait_for("the demo start page after sign-out", lambda: self.find("#demo-home"))
        self.result["signed_out"] = {"url": self.driver.current_url, "session": self.text("#session-state")}

        self.step = "error-page"
        self.driver.get(f"{base}/adfs/ls/?wa=wsignin1.0&wtrealm=urn:altgate:not-registered")
        self.wait_for("the error page (#activityId)", lambda: self.find("#activityId"))
        self.result["error_page"] = {
            "error_text": self.text("#errorText"),
            "activity_id": self.text("#activityId"),
            "time": self.text("#errorTime"),
            "help_desk": self.text("#helpDesk"),
        }
        self.screenshot("error.png")
        self.result["ok"] = True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ca", required=True, help="PEM of altgate's HTTPS certificate (self-signed) to trust")
    p.add_argument("--base", required=True, help="altgate's public URL, e.g. https://localhost:8443")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--wrong-password")
    p.add_argument("--screenshots", help="directory for sign-in.png, signed-in.png and error.png")
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--trust-flags", default="P,,")
    p.add_argument("--nickname", default="altgate")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--chromium-arg", action="append", default=["--lang=en-US", "--hide-scrollbars"])
    p.add_argument("--certutil", default=shutil.which("certutil") or "/usr/bin/certutil")
    p.add_argument("--snippet", type=int, default=4000)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    args.timeout = max(1.0, min(args.timeout, 20.0))
    for path in (args.ca, args.chromium, args.chromedriver, args.certutil):
        if not os.path.exists(path):
            print(json.dumps({"error": f"missing: {path}", "step": "setup"}))
            return 2
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)

    run = DemoRun(args)
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
    print(json.dumps(out, indent=1, sort_keys=True))
    return code


if __name__ == "__main__":
    sys.exit(main())
