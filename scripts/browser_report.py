#!/usr/bin/env python3
"""Open an `altgate audit --format html` report in headless Chromium and describe what rendered.

Run it with the venv made by scripts/setup-python-clients.sh (browser: scripts/setup-browser.sh):

    /var/tmp/altgate-pyenv/bin/python scripts/browser_report.py --report audit.html \
        --screenshot audit.png

Loads the file (file:// URL, no network), then records: the page title; the number of rows in
the findings table and the rule of the first row; for each chart (svg#chart-rules,
svg#chart-forests) the number of bars and their rendered widths; the summary counts; what
clicking the "rule" column header does to the order (the table's own script sorts it); the text
filter hiding rows; and the browser console's errors (a Content-Security-Policy violation shows
there). Saves a full-page screenshot (PNG) to --screenshot after scrolling back to the top and
restoring the original order.

Prints ONE JSON object on stdout and exits 0; exits 1 with {"error": ...} when the page could not
be loaded or inspected, 2 for bad usage.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]

INSPECT = """
const rows = Array.from(document.querySelectorAll('#findings tbody tr'));
const chart = id => {
  const svg = document.getElementById(id);
  if (!svg) return null;
  const bars = Array.from(svg.querySelectorAll('rect.bar')).map(r => r.getBoundingClientRect().width);
  const box = svg.getBoundingClientRect();
  return {bars: bars.length, widths: bars, width: box.width, height: box.height,
          labels: Array.from(svg.querySelectorAll('text')).map(t => t.textContent)};
};
return {
  title: document.title,
  rows: rows.length,
  visible_rows: rows.filter(r => r.style.display !== 'none').length,
  first_rule: rows.length ? rows[0].cells[1].textContent : null,
  rules_in_order: rows.map(r => r.cells[1].textContent),
  charts: {rules: chart('chart-rules'), forests: chart('chart-forests')},
  counts: {
    error: document.getElementById('count-error') && document.getElementById('count-error').textContent,
    warning: document.getElementById('count-warning') && document.getElementById('count-warning').textContent,
    info: document.getElementById('count-info') && document.getElementById('count-info').textContent,
  },
  page_height: document.documentElement.scrollHeight,
};
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--report", required=True, help="the HTML report")
    p.add_argument("--screenshot", required=True, help="where to save the PNG")
    p.add_argument("--filter", default="shadows", help="text typed into the filter box")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--timeout", type=int, default=20)
    args = p.parse_args()
    report = pathlib.Path(args.report).resolve()
    if not report.is_file():
        print(json.dumps({"error": f"no report at {report}"}))
        return 2
    workdir = tempfile.mkdtemp(prefix="altgate-report-")
    driver = None
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={os.path.join(workdir, 'profile')}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        env = dict(os.environ)
        env["HOME"] = os.path.join(workdir, "home")
        env["SE_OFFLINE"] = "true"
        service = Service(executable_path=args.chromedriver, env=env,
                          log_output=os.path.join(workdir, "chromedriver.log"))
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(args.timeout)
        driver.get(report.as_uri())
        before = driver.execute_script(INSPECT)
        # Sorting: click the "rule" header, read the order, click again for descending.
        header = driver.find_elements(By.CSS_SELECTOR, "#findings thead th")[1]
        header.click()
        ascending = driver.execute_script(INSPECT)["rules_in_order"]
        header.click()
        descending = driver.execute_script(INSPECT)["rules_in_order"]
        # Filtering.
        box = driver.find_element(By.ID, "filter")
        box.send_keys(args.filter)
        filtered = driver.execute_script(INSPECT)["visible_rows"]
        box.clear()
        driver.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
        driver.get(report.as_uri())  # back to the report order for the screenshot
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(max(int(height) + 40, 1000), 16000))
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(args.screenshot)
        console = [
            {"level": e.get("level"), "message": e.get("message")}
            for e in driver.get_log("browser")
            if e.get("level") in ("SEVERE", "WARNING")
        ]
        result = {
            "ok": True,
            "title": before["title"],
            "rows": before["rows"],
            "first_rule": before["first_rule"],
            "charts": before["charts"],
            "counts": before["counts"],
            "sorted_ascending": ascending == sorted(ascending),
            "sorted_descending": descending == sorted(descending, reverse=True),
            "order_changed": ascending != before["rules_in_order"],
            "filter": args.filter,
            "rows_after_filter": filtered,
            "console": console,
            "screenshot": args.screenshot,
            "screenshot_bytes": os.path.getsize(args.screenshot),
            "browser": driver.capabilities.get("browserVersion"),
        }
        print(json.dumps(result))
        return 0
    except WebDriverException as exc:
        print(json.dumps({"error": f"browser: {exc.msg or exc}"}))
        return 1
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
