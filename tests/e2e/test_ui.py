#!/usr/bin/env python3
"""The analysts' page (/ui/) in a real browser: headless Chromium driven by
Selenium against a daemon holding reports sent over SMTP.  Each view is
loaded and its numbers are checked against the JSON API; search -> address
-> raw message -> unsuppress is clicked through; every resource the page
loads comes from the daemon itself; a screenshot of each view is saved in
$REBOUND_BUILD/ui-screenshots/ and checked not to be blank."""
import os, sys

try:
    import selenium  # noqa: F401
except ImportError:
    # Debian's python3-selenium is installed for the system interpreter; a
    # different python3 first on PATH (pyenv, venv) runs this file with it.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import json, struct, unittest, urllib.parse, urllib.request, urllib.error, zlib
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

import harness
import analyst_data


def wait_for(driver):
    """A 20 s wait whose condition is tried again when the page re-rendered the
    element it was reading (a stale reference is "not yet", not a failure)."""
    return WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,))


TOKEN = "ui-token"
READ_TOKEN = "ui-read-token"
SHOTS = os.path.join(os.environ.get("REBOUND_BUILD", os.path.join(harness.ROOT, "build")),
                     "ui-screenshots")


def png_pixels_vary(path):
    """True when the PNG holds more than a couple of distinct byte values in
    its (filtered) scanlines: a blank page is one colour."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    return len(set(raw)) > 16


class UiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = harness.Pg().start()
        cls.d = harness.Daemon({
            "smtp": {"fbl_addresses": analyst_data.FBL},
            "store": {"conninfo": cls.pg.conninfo, "batch": "8"},
            "http": {"token": TOKEN, "read_token": READ_TOKEN},
            # an endpoint nobody answers: every delivery ends dead, for the webhooks view
            "webhook": {"url": f"http://127.0.0.1:{harness.free_port()}/hook", "secret": "s",
                        "timeout": "1", "retry_min_seconds": "1", "retry_max_seconds": "1",
                        "give_up_seconds": "1"},
        })
        cls.d.start()
        cls.base = "http://" + cls.d.conf["http"]["listen"]
        analyst_data.seed(cls.d, cls.pg)
        os.makedirs(SHOTS, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1400,1100", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-default-apps", "--disable-extensions"):
            opts.add_argument(a)
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        cls.driver.set_page_load_timeout(30)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            cls.d.finish(cls.pg)

    # --- helpers ---------------------------------------------------------
    def api(self, path, token=READ_TOKEN):
        req = urllib.request.Request(self.base + path)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_view(self, name):
        wait_for(self.driver).until(
            lambda d: d.find_element(By.ID, "view").get_attribute("data-view") == name and
            d.find_element(By.ID, "view").get_attribute("data-ready") == "1")
        errors = self.driver.find_elements(By.ID, "view-error")
        self.assertEqual([e.text for e in errors], [])

    def text(self, elem_id):
        return self.driver.find_element(By.ID, elem_id).text

    def shot(self, name):
        path = os.path.join(SHOTS, name + ".png")
        self.assertTrue(self.driver.save_screenshot(path))
        self.assertTrue(png_pixels_vary(path), path + " is blank")

    def go(self, fragment, view):
        self.driver.get(self.base + "/ui/" + fragment)
        self.wait_view(view)

    def assert_same_origin(self):
        urls = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
            ".concat([location.href]);")
        self.assertTrue(urls)
        for u in urls:
            self.assertTrue(u.startswith(self.base + "/"), u)

    @staticmethod
    def num(s):
        return int(s.replace(",", ""))

    # --- tests -------------------------------------------------------------
    def test_0_read_token_typed_in(self):
        # the page itself needs no token; its data does
        self.driver.get(self.base + "/ui/")
        wait_for(self.driver).until(
            lambda d: d.find_element(By.ID, "view").get_attribute("data-ready") == "1")
        self.assertIn("bearer token", self.text("view-error"))
        self.driver.find_element(By.ID, "token").send_keys(READ_TOKEN)
        self.driver.find_element(By.ID, "token-save").click()
        self.wait_view("overview")
        self.assertEqual(self.text("token-state"), "token set")

    def test_1_overview_numbers_match_api(self):
        self.go("", "overview")
        code, st = self.api("/v1/stats?since=7d&by=class")
        self.assertEqual(code, 200)
        by_class = {r["key"]: r["count"] for r in st["by_class"]}
        self.assertEqual(by_class["hard"], 3)
        for c in ("hard", "soft", "block", "complaint"):
            self.assertEqual(self.num(self.text("kpi-" + c)), by_class.get(c, 0), c)
        self.assertEqual(self.num(self.text("kpi-total")), sum(by_class.values()))
        self.assertEqual(self.num(self.text("kpi-suppressed")), st["suppressions"]["total"])
        bars = self.driver.find_elements(By.CSS_SELECTOR, "#chart-class rect")
        self.assertEqual({b.get_attribute("data-key"): int(b.get_attribute("data-count")) for b in bars},
                         by_class)
        code, pv = self.api("/v1/stats?since=7d&by=provider&class=complaint")
        bars = self.driver.find_elements(By.CSS_SELECTOR, "#chart-provider rect")
        self.assertEqual({b.get_attribute("data-key"): int(b.get_attribute("data-count")) for b in bars},
                         {r["key"]: r["count"] for r in pv["by_provider"]})
        self.assertIn("yahoo.com", [b.get_attribute("data-key") for b in bars])
        self.assertTrue(self.driver.find_elements(By.CSS_SELECTOR, "#chart-time rect"))
        self.assert_same_origin()
        self.shot("overview")

    def test_2_domains_table_matches_api(self):
        self.go("#/domains", "domains")
        code, st = self.api("/v1/stats?since=7d&by=domain&class=hard,soft")
        want = {r["key"]: r["count"] for r in st["by_domain"]}
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#domains-table tbody tr")
        got = {r.get_attribute("data-domain"): self.num(r.find_elements(By.TAG_NAME, "td")[1].text)
               for r in rows}
        self.assertEqual(got, want)
        self.assertEqual(got["gmail.com"], 2)
        # only hard: the checkboxes re-query
        self.driver.find_element(By.ID, "dom-class-soft").click()
        self.driver.find_element(By.ID, "dom-apply").click()
        wait_for(self.driver).until(lambda d: "class=hard" in d.current_url and
                                             d.find_element(By.ID, "view").get_attribute("data-ready") == "1")
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#domains-table tbody tr")
        got = {r.get_attribute("data-domain"): self.num(r.find_elements(By.TAG_NAME, "td")[1].text)
               for r in rows}
        self.assertEqual(got, {"gmail.com": 2, "yahoo.com": 1})
        self.shot("domains")

    def test_3_complaints_list_matches_api(self):
        self.go("#/complaints", "complaints")
        code, j = self.api("/v1/complaints?since=7d&limit=500")
        self.assertEqual(self.num(self.text("complaint-count")), len(j["items"]))
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#complaints-table tbody tr")
        self.assertEqual([int(r.get_attribute("data-id")) for r in rows], [e["id"] for e in j["items"]])
        self.driver.find_element(By.ID, "cf-provider").send_keys("yahoo.com")
        self.driver.find_element(By.CSS_SELECTOR, "#complaint-filters button").click()
        wait_for(self.driver).until(lambda d: "provider=yahoo.com" in d.current_url and
                                             d.find_element(By.ID, "view").get_attribute("data-ready") == "1")
        self.assertEqual(self.num(self.text("complaint-count")), 2)
        self.shot("complaints")

    def test_4_search_address_raw_unsuppress(self):
        self.go("", "overview")
        box = self.driver.find_element(By.ID, "search")
        box.send_keys("carl@yahoo.com")
        self.driver.find_element(By.ID, "search-go").click()
        self.wait_view("address")
        self.assertEqual(self.text("addr-name"), "carl@yahoo.com")
        self.assertEqual(self.text("addr-state"), "suppressed")
        code, j = self.api("/v1/addresses/carl@yahoo.com")
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#addr-events tbody tr")
        self.assertEqual([int(r.get_attribute("data-id")) for r in rows], [e["id"] for e in j["events"]])
        self.assertIn("5.1.1", rows[0].text)
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#addr-audit tbody tr")), len(j["audit"]))
        # the raw message needs the write token: the read token typed in test_0 is not enough
        self.driver.find_element(By.CSS_SELECTOR, "button.raw-btn").click()
        wait_for(self.driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#raw-box .error"))
        self.assertIn("token", self.driver.find_element(By.CSS_SELECTOR, "#raw-box .error").text)
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "pre.raw"))
        self.driver.find_element(By.ID, "token").send_keys(TOKEN)
        self.driver.find_element(By.ID, "token-save").click()
        wait_for(self.driver).until(
            lambda d: d.find_element(By.ID, "view").get_attribute("data-ready") == "1" and
            d.find_elements(By.CSS_SELECTOR, "button.raw-btn") and
            not d.find_elements(By.CSS_SELECTOR, "#raw-box .error"))
        self.driver.find_element(By.CSS_SELECTOR, "button.raw-btn").click()
        wait_for(self.driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "pre.raw"))
        self.assertIn("Message-ID: <dsn-h3@mx.example.org>",
                      self.driver.find_element(By.CSS_SELECTOR, "pre.raw").text)
        self.shot("address")
        self.driver.find_element(By.ID, "btn-unsuppress").click()
        wait_for(self.driver).until(
            lambda d: d.find_element(By.ID, "view").get_attribute("data-ready") == "1" and
            d.find_elements(By.ID, "addr-state") and d.find_element(By.ID, "addr-state").text == "not suppressed")
        self.assertEqual(self.api("/v1/suppressions/carl@yahoo.com")[0], 404)
        ops = [r.get_attribute("data-op") for r in
               self.driver.find_elements(By.CSS_SELECTOR, "#addr-audit tbody tr")]
        self.assertEqual(ops, ["remove", "add"])
        self.assertIn("api", self.driver.find_element(By.CSS_SELECTOR, "#addr-audit tbody tr").text)
        self.shot("address-unsuppressed")
        # and back on the list by hand, with a reason
        box = self.driver.find_element(By.ID, "suppress-reason")
        box.clear()
        box.send_keys("asked by support")
        self.driver.find_element(By.ID, "btn-suppress").click()
        wait_for(self.driver).until(
            lambda d: d.find_element(By.ID, "view").get_attribute("data-ready") == "1" and
            d.find_elements(By.ID, "addr-state") and d.find_element(By.ID, "addr-state").text == "suppressed")
        code, j = self.api("/v1/suppressions/carl@yahoo.com")
        self.assertEqual((code, j["class"], j["reason"], j["origin"]), (200, "manual", "asked by support", "manual"))
        self.assertEqual(self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#addr-audit tbody tr'))"
            ".map(function (r) { return r.getAttribute('data-op'); });"), ["add", "remove", "add"])

    def test_5_domain_search_lists_events(self):
        self.go("", "overview")
        self.driver.find_element(By.ID, "search").send_keys("gmail.com")
        self.driver.find_element(By.ID, "search-go").click()
        self.wait_view("events")
        code, j = self.api("/v1/events?since=7d&domain=gmail.com&limit=500")
        self.assertEqual(self.num(self.text("event-count")), len(j["items"]))
        self.assertEqual(len(j["items"]), 3)
        self.shot("events")

    def test_6_webhooks_dead_letters(self):
        ok, got = self.pg.poll("SELECT count(*) FROM webhook_outbox WHERE state = 'dead'",
                               [[str(len(analyst_data.messages()))]], timeout=60)
        self.assertTrue(ok, got)
        self.go("#/webhooks", "webhooks")
        code, j = self.api("/v1/webhooks?state=dead&limit=200")
        for s in ("pending", "delivered", "dead"):
            self.assertEqual(self.num(self.text("wh-" + s)), j["counts"][s])
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#webhooks-table tbody tr")
        self.assertEqual([int(r.get_attribute("data-id")) for r in rows], [w["id"] for w in j["items"]])
        self.shot("webhooks")
        # retry one (the token is set by test_4): it leaves the dead list and is tried again
        wid = rows[0].get_attribute("data-id")
        before = int(self.pg.psql(f"SELECT attempts FROM webhook_outbox WHERE id = {wid}")[0][0])
        rows[0].find_element(By.CSS_SELECTOR, "button.retry-btn").click()
        wait_for(self.driver).until(
            lambda d: d.find_element(By.ID, "view").get_attribute("data-ready") == "1" and
            wid not in d.execute_script("return Array.from(document.querySelectorAll("
                                        "'#webhooks-table tbody tr')).map(function (r) {"
                                        " return r.getAttribute('data-id'); });"))
        ok, got = self.pg.poll(f"SELECT attempts > {before} FROM webhook_outbox WHERE id = {wid}",
                               [["t"]], timeout=20)
        self.assertTrue(ok, got)

    def test_7_static_files(self):
        code = urllib.request.urlopen(self.base + "/ui/app.js", timeout=10).status
        self.assertEqual(code, 200)
        try:
            urllib.request.urlopen(self.base + "/ui/nope.js", timeout=10)
            self.fail("no 404")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 404)
            self.assertIn("error", json.loads(e.read()))
        # static files are open, the data behind them is not
        try:
            urllib.request.urlopen(self.base + "/v1/stats", timeout=10)
            self.fail("a read without the read token")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 401)
        with urllib.request.urlopen(self.base + "/ui/", timeout=10) as r:
            self.assertIn("default-src 'self'", r.headers["Content-Security-Policy"])
            self.assertTrue(r.headers["Content-Type"].startswith("text/html"))


if __name__ == "__main__":
    harness.run()
