#!/usr/bin/env python3
"""The analyst API and CLI over reports that went through the real daemon:
class lists, newest first, every stored field, one event and its raw
message, one address with its audit trail, counts by domain/provider/class
over time, the complaint provider, and placeholders that never suppress."""
import json, os, subprocess, unittest, urllib.request, urllib.error
import harness
import analyst_data

TOKEN = "api-v1-token"
FBL = analyst_data.FBL


class ApiV1(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = harness.Pg().start()
        cls.d = harness.Daemon({
            "smtp": {"fbl_addresses": FBL},
            "store": {"conninfo": cls.pg.conninfo, "batch": "8"},
            "http": {"token": TOKEN},
        })
        cls.d.start()
        cls.http_port = int(cls.d.conf["http"]["listen"].rsplit(":", 1)[1])
        analyst_data.seed(cls.d, cls.pg)

    @classmethod
    def tearDownClass(cls):
        cls.d.finish(cls.pg)

    def get(self, path, token=None, raw=False):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                return r.status, (body if raw else json.loads(body))
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def delete(self, path, token):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", method="DELETE")
        req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status

    def cli(self, *args):
        p = subprocess.run([harness.REBOUND, args[0], "-c", self.d.conf_path, *args[1:]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_class_list_filters(self):
        code, j = self.get("/v1/events?class=hard,soft")
        self.assertEqual(code, 200)
        self.assertEqual(sorted({e["class"] for e in j["items"]}), ["hard", "soft"])
        self.assertEqual(len(j["items"]), 4)
        code, j = self.get("/v1/events?class=hard,bogus")
        self.assertEqual(code, 400)
        self.assertIn("bogus", j["error"])
        code, j = self.get("/v1/events?domain=gmail.com,yahoo.com&class=hard")
        self.assertEqual(len(j["items"]), 3)

    def test_newest_first_and_cursor(self):
        code, j = self.get("/v1/events?limit=4")
        keys = [(e["occurred_at"], e["id"]) for e in j["items"]]
        self.assertEqual(keys, sorted(keys, reverse=True))
        self.assertIsNotNone(j["next_cursor"])
        code, j2 = self.get("/v1/events?limit=100&cursor=" + j["next_cursor"])
        ids = [e["id"] for e in j["items"]] + [e["id"] for e in j2["items"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(len(ids), int(self.pg.psql("SELECT count(*) FROM events")[0][0]))

    def test_every_stored_field(self):
        code, j = self.get("/v1/events?recipient=yvonne@yahoo.com")
        e = j["items"][0]
        stored = [r[0] for r in self.pg.psql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'")]
        for col in stored:
            if col != "address_key":
                self.assertIn(col, e)
        self.assertEqual(e["original_mail_from"], "bounce@bounces.example.com")
        self.assertEqual(e["arrival_date"], "Sun, 22 Nov 2026 09:00:00 +0000")
        self.assertEqual(e["provider"], "yahoo.com")
        self.assertEqual(e["campaign"], "spring")

    def test_event_by_id_and_raw(self):
        eid = int(self.pg.psql("SELECT id FROM events WHERE address_key = 'alice@gmail.com'")[0][0])
        code, j = self.get(f"/v1/events/{eid}")
        self.assertEqual(code, 200)
        self.assertEqual((j["id"], j["recipient"], j["class"]), (eid, "alice@gmail.com", "hard"))
        self.assertTrue(j["queue_id"])
        self.assertTrue(j["has_raw"])
        self.assertEqual(self.get(f"/v1/events/{eid}/raw")[0], 401)
        code, raw = self.get(f"/v1/events/{eid}/raw", token=TOKEN, raw=True)
        self.assertEqual(code, 200)
        self.assertIn(b"Message-ID: <dsn-h1@mx.example.org>", raw)
        self.assertEqual(self.get("/v1/events/999999")[0], 404)
        self.assertEqual(self.get("/v1/events/abc")[0], 404)

    def test_address_view_and_audit(self):
        code, j = self.get("/v1/addresses/Bob@Gmail.com")
        self.assertEqual(code, 200)
        self.assertTrue(j["suppressed"])
        self.assertEqual(j["suppression"]["class"], "hard")
        self.assertEqual([e["class"] for e in j["events"]], ["hard"])
        self.assertEqual(j["events"][0]["rule"] is not None, True)
        self.assertEqual([(a["op"], a["actor"]) for a in j["audit"]], [("add", "policy")])
        self.assertEqual(self.delete("/v1/suppressions/bob@gmail.com", TOKEN), 200)
        code, j = self.get("/v1/addresses/bob@gmail.com")
        self.assertFalse(j["suppressed"])
        self.assertEqual([(a["op"], a["actor"]) for a in j["audit"]],
                         [("remove", "api"), ("add", "policy")])
        self.assertEqual(self.get("/v1/addresses/not-an-address")[0], 400)

    def test_stats_by_class_filter_and_interval(self):
        code, j = self.get("/v1/stats?by=domain&class=hard")
        self.assertEqual(code, 200)
        self.assertEqual({r["key"]: r["count"] for r in j["by_domain"]},
                         {"gmail.com": 2, "yahoo.com": 1})
        code, j = self.get("/v1/stats?by=provider")
        self.assertEqual({r["key"]: r["count"] for r in j["by_provider"]},
                         {"yahoo.com": 2, "isp.example": 4})
        code, j = self.get("/v1/stats?by=class&interval=hour&class=hard,soft,block")
        total = sum(r["count"] for r in j["by_class"])
        self.assertEqual(total, 5)
        self.assertEqual(sum(r["count"] for r in j["series"]), total)
        self.assertTrue(all(r["t"].endswith(":00:00Z") for r in j["series"]))
        code, j = self.get("/v1/stats?by=campaign&class=complaint&provider=yahoo.com")
        self.assertEqual({r["key"]: r["count"] for r in j["by_campaign"]},
                         {"spring": 1, "autumn": 1})
        self.assertEqual(self.get("/v1/stats?interval=week")[0], 400)
        self.assertEqual(self.get("/v1/stats?by=nope")[0], 400)
        code, j = self.get("/v1/stats?by=class&until=1d")
        self.assertEqual(j["by_class"], [])

    def test_complaint_provider(self):
        code, j = self.get("/v1/complaints?provider=yahoo.com")
        self.assertEqual(sorted(e["recipient"] for e in j["items"]),
                         ["yuri@yahoo.com", "yvonne@yahoo.com"])
        code, out, err = self.cli("complaints", "--provider", "yahoo.com")
        self.assertEqual(code, 0, err)
        self.assertIn("2 complaints", out)

    def test_placeholders_stored_not_suppressed(self):
        rows = self.pg.psql("SELECT e.address_key, s.id IS NULL FROM events e LEFT JOIN"
                            " suppressions s ON s.address_key = e.address_key"
                            " WHERE e.message_id IN (SELECT id FROM messages WHERE"
                            " mail_from IS NOT NULL OR true) AND e.class = 'complaint'"
                            " ORDER BY 1")
        got = dict((k, t) for k, t in rows)
        self.assertEqual(got["redacted@example.net"], "t")
        self.assertEqual(got["someone@example.com"], "t")
        self.assertEqual(got["undisclosed-recipient-in-headers@libsisimai.org.invalid"], "t")
        # a named complainer still is
        self.assertEqual(got["carol@isp.example"], "f")
        self.assertEqual(got["yvonne@yahoo.com"], "f")

    def test_cli_stats_class_by_domain(self):
        code, out, err = self.cli("stats", "--class", "hard", "--by", "domain")
        self.assertEqual(code, 0, err)
        lines = [l.split() for l in out.splitlines() if l.startswith("  ")]
        self.assertIn(["gmail.com", "2"], lines)
        self.assertIn(["yahoo.com", "1"], lines)
        self.assertNotIn("isp.example", out.split("suppressed now:")[0])
        code, out, err = self.cli("stats", "--class", "hard,nope")
        self.assertEqual(code, 2)
        code, out, err = self.cli("stats", "--class", "hard,soft", "--by", "class", "--interval", "hour")
        self.assertEqual(code, 0, err)
        series = out.split("per hour, by class:\n")[1].split("suppressed now:")[0].split("\n")
        got = {l.split()[1]: int(l.split()[2]) for l in series if l.strip()}
        self.assertEqual(got, {"hard": 3, "soft": 1})
        self.assertEqual(self.cli("stats", "--interval", "week")[0], 2)

    def test_cli_history(self):
        code, out, err = self.cli("history", "carl@yahoo.com")
        self.assertEqual(code, 0, err)
        self.assertIn("state: suppressed class=hard", out)
        self.assertIn("class=hard reason=userunknown status=5.1.1", out)
        self.assertIn("op=add origin=automatic actor=policy", out)
        code, out, err = self.cli("history", "nobody@yahoo.com")
        self.assertEqual(code, 1)
        self.assertIn("state: not suppressed", out)


if __name__ == "__main__":
    harness.run()
