"""The HTTP JSON API with curl (and urllib) against a real PostgreSQL."""
import json, os, sys, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupEnv, TOKEN


def seed_events(pg):
    pg.psql("INSERT INTO messages (queue_id, received_at, size, sha256, kind, outcome)"
            " VALUES ('Q1', now(), 100, '\\x01', 'arf', 'ok'), ('Q2', now(), 100, '\\x02', 'dsn', 'ok')")
    rows = [
        # message, recipient, domain, class, reason, feedback_type, reporting_mta, campaign, age
        (1, "angry@gmail.com", "gmail.com", "complaint", "abuse", "abuse", "feedback.gmail.com", "spring", "1 hour"),
        (1, "angry2@yahoo.com", "yahoo.com", "complaint", "abuse", "abuse", "fbl.mail.yahoo.com", "spring", "2 days"),
        (1, "fraud@yahoo.com", "yahoo.com", "complaint", "fraud", "fraud", "fbl.mail.yahoo.com", "autumn", "3 days"),
        (2, "gone@example.com", "example.com", "hard", "user_unknown", None, "mx.example.com", "spring", "1 hour"),
        (2, "Gone@example.com", "example.com", "hard", "user_unknown", None, "mx.example.com", None, "20 days"),
        (2, "full@example.com", "example.com", "soft", "mailbox_full", None, "mx.example.com", None, "40 days"),
    ]
    for m, rcpt, dom, cls, reason, fb, rep, camp, age in rows:
        key = rcpt.lower()
        fbv = f"'{fb}'" if fb else "NULL"
        cv = f"'{camp}'" if camp else "NULL"
        pg.psql("INSERT INTO events (message_id, tenant, occurred_at, recipient, address_key, domain,"
                " kind, class, reason, feedback_type, reporting_mta, campaign, correlation) VALUES"
                f" ({m}, 'default', now() - interval '{age}', '{rcpt}', '{key}', '{dom}',"
                f" 'dsn', '{cls}', '{reason}', {fbv}, '{rep}', {cv}, '{{\"X-Campaign-Id\": \"{camp}\"}}')")


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = LookupEnv()
        cls.env.suppress_sql("gone@example.com", "hard", "user_unknown")
        cls.env.suppress_sql("angry@gmail.com", "complaint", "abuse")
        cls.env.suppress_sql("other@acme.example", "hard", "user_unknown", tenant="acme")
        seed_events(cls.env.pg)
        cls.env.start()
        cls.base = f"http://127.0.0.1:{cls.env.http_port}"

    @classmethod
    def tearDownClass(cls):
        cls.env.destroy()

    def curl_json(self, *args):
        code, body = self.env.curl(*args)
        return code, json.loads(body) if body else None

    def test_get_suppression_record(self):
        code, j = self.curl_json(self.base + "/v1/suppressions/Gone@Example.com")
        self.assertEqual(code, 200)
        self.assertEqual(j["address_key"], "gone@example.com")
        self.assertEqual(j["class"], "hard")
        self.assertEqual(j["reason"], "user_unknown")
        self.assertIsInstance(j["id"], int)
        self.assertRegex(j["first_seen"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsNone(j["expires_at"])

    def test_get_missing_is_404_json(self):
        code, j = self.curl_json(self.base + "/v1/suppressions/nobody@example.com")
        self.assertEqual(code, 404)
        self.assertIn("not suppressed", j["error"])

    def test_lookup_from_index(self):
        code, j = self.curl_json(self.base + "/v1/lookup/angry@gmail.com")
        self.assertEqual(code, 200)
        self.assertEqual(j["suppressed"], True)
        self.assertEqual(j["class"], "complaint")
        self.assertIn("REJECT 5.1.1 <angry@gmail.com>", j["action"])
        code, j = self.curl_json(self.base + "/v1/lookup/fine@gmail.com")
        self.assertEqual((code, j["suppressed"]), (404, False))
        code, j = self.curl_json(self.base + "/v1/lookup/other@acme.example?tenant=acme")
        self.assertEqual(code, 200)
        code, j = self.curl_json(self.base + "/v1/lookup/other@acme.example?tenant=nope")
        self.assertEqual(code, 400)

    def test_list_filters_and_cursor(self):
        code, j = self.curl_json(self.base + "/v1/suppressions?tenant=default&limit=1")
        self.assertEqual(code, 200)
        self.assertEqual(len(j["items"]), 1)
        self.assertIsNotNone(j["next_cursor"])
        code, j2 = self.curl_json(self.base + "/v1/suppressions?tenant=default&limit=1&cursor=" + j["next_cursor"])
        self.assertEqual(code, 200)
        self.assertEqual(len(j2["items"]), 1)
        self.assertNotEqual(j["items"][0]["id"], j2["items"][0]["id"])
        code, j = self.curl_json(self.base + "/v1/suppressions?class=complaint")
        self.assertEqual([i["address"] for i in j["items"]], ["angry@gmail.com"])
        code, j = self.curl_json(self.base + "/v1/suppressions?domain=ACME.example")
        self.assertEqual([i["tenant"] for i in j["items"]], ["acme"])
        code, j = self.curl_json(self.base + "/v1/suppressions?reason=user_unknown&since=1d")
        self.assertEqual(len(j["items"]), 2)
        self.assertIsNone(j["next_cursor"])

    def test_bad_input_is_400(self):
        for q in ["since=yesterday", "limit=0", "limit=abc", "cursor=-1", "class=bogus",
                  "colour=red", "since=%ZZ"]:
            code, body = self.env.curl(self.base + "/v1/suppressions?" + q)
            self.assertEqual(code, 400, q)
            self.assertIn("error", json.loads(body), q)
        code, body = self.env.curl(self.base + "/v1/suppressions/not-an-address")
        self.assertEqual(code, 400)
        code, body = self.env.curl(self.base + "/v1/suppressions/a%00b@example.com")
        self.assertEqual(code, 400)
        code, body = self.env.curl(self.base + "/v1/stats?by=colour")
        self.assertEqual(code, 400)
        code, body = self.env.curl(self.base + "/nope")
        self.assertEqual(code, 404)
        code, body = self.env.curl("-X", "PUT", self.base + "/v1/suppressions")
        self.assertEqual(code, 405)

    def test_post_and_delete_need_token_and_are_audited(self):
        url = self.base + "/v1/suppressions"
        body = json.dumps({"address": "Manual.One@Example.org", "reason": "customer request",
                           "note": "ticket 42"})
        code, _ = self.env.curl("-X", "POST", "-d", body, url)
        self.assertEqual(code, 401)
        code, _ = self.env.curl("-X", "POST", "-H", "Authorization: Bearer wrong", "-d", body, url)
        self.assertEqual(code, 401)
        code, j = self.curl_json("-X", "POST", "-H", f"Authorization: Bearer {TOKEN}", "-d", body, url)
        self.assertEqual(code, 201, j)
        self.assertEqual(j["address"], "Manual.One@example.org")
        self.assertEqual((j["class"], j["origin"], j["note"]), ("manual", "manual", "ticket 42"))
        # visible to lookups within a second
        self.env.wait_for(lambda: self.env.socketmap(["suppressed manual.one@example.org"])[0].startswith(
            "OK REJECT 5.1.1 <manual.one@example.org>: on the suppression list (customer request)"))
        # posting again updates
        code, j = self.curl_json("-X", "POST", "-H", f"Authorization: Bearer {TOKEN}", "-d",
                                 json.dumps({"address": "manual.one@example.org", "class": "soft",
                                             "expires_at": "7d"}), url)
        self.assertEqual(code, 200, j)
        self.assertEqual(j["class"], "soft")
        self.assertIsNotNone(j["expires_at"])
        audit = self.env.pg.psql("SELECT op, actor FROM suppression_audit WHERE address_key ="
                                 " 'manual.one@example.org' ORDER BY id")
        self.assertEqual(audit, [["add", "api"], ["update", "api"]])
        code, _ = self.env.curl("-X", "DELETE", self.base + "/v1/suppressions/manual.one@example.org")
        self.assertEqual(code, 401)
        code, j = self.curl_json("-X", "DELETE", "-H", f"Authorization: Bearer {TOKEN}",
                                 self.base + "/v1/suppressions/manual.one@example.org")
        self.assertEqual((code, j["deleted"]), (200, True))
        code, j = self.curl_json("-X", "DELETE", "-H", f"Authorization: Bearer {TOKEN}",
                                 self.base + "/v1/suppressions/manual.one@example.org")
        self.assertEqual(code, 404)
        self.env.wait_for(lambda: self.env.socketmap(["suppressed manual.one@example.org"])[0] == "NOTFOUND ")
        self.assertEqual(self.env.pg.psql("SELECT op, actor FROM suppression_audit WHERE address_key ="
                                          " 'manual.one@example.org' ORDER BY id DESC LIMIT 1"),
                         [["remove", "api"]])

    def test_post_malformed(self):
        url = self.base + "/v1/suppressions"
        auth = ["-H", f"Authorization: Bearer {TOKEN}"]
        for body in ["", "{", "[]", "null", '{"reason": "x"}', '{"address": 5}',
                     '{"address": "a@b.example", "class": "vip"}', '{"address": "nope"}',
                     '{"address": "a@b.example", "tenant": "ghost"}', '{"address": "a@b.example", "x": 1}',
                     '{"address": "a@b.example", "expires_at": "2001-01-01"}', "\xff\xfe"]:
            code, out = self.env.curl("-X", "POST", *auth, "--data-binary", body, url)
            self.assertEqual(code, 400, body)
            self.assertIn("error", json.loads(out))
        code, out = self.env.curl("-X", "POST", *auth, "--data-binary", "x" * 100000, url)
        self.assertEqual(code, 413)
        self.assertIsNone(self.env.proc.poll())

    def test_events_by_recipient(self):
        code, j = self.curl_json(self.base + "/v1/events?recipient=GONE@example.com")
        self.assertEqual(code, 200)
        self.assertEqual(len(j["items"]), 2)
        self.assertEqual(j["items"][0]["reason"], "user_unknown")
        self.assertIsInstance(j["items"][0]["correlation"], dict)
        code, j = self.curl_json(self.base + "/v1/events?recipient=gone@example.com&since=7d")
        self.assertEqual(len(j["items"]), 1)

    def test_complaints_filters(self):
        code, j = self.curl_json(self.base + "/v1/complaints")
        self.assertEqual((code, len(j["items"])), (200, 3))
        code, j = self.curl_json(self.base + "/v1/complaints?provider=yahoo.com")
        self.assertEqual(sorted(i["recipient"] for i in j["items"]), ["angry2@yahoo.com", "fraud@yahoo.com"])
        code, j = self.curl_json(self.base + "/v1/complaints?feedback_type=fraud")
        self.assertEqual([i["recipient"] for i in j["items"]], ["fraud@yahoo.com"])
        code, j = self.curl_json(self.base + "/v1/complaints?campaign=spring&domain=gmail.com")
        self.assertEqual([i["recipient"] for i in j["items"]], ["angry@gmail.com"])
        code, j = self.curl_json(self.base + "/v1/complaints?since=1d")
        self.assertEqual([i["recipient"] for i in j["items"]], ["angry@gmail.com"])

    def test_stats(self):
        code, j = self.curl_json(self.base + "/v1/stats?since=30d")
        self.assertEqual(code, 200)
        by_class = {r["key"]: r["count"] for r in j["by_class"]}
        self.assertEqual(by_class, {"complaint": 3, "hard": 2})
        self.assertEqual({r["key"]: r["count"] for r in j["by_campaign"]}, {"spring": 3, "autumn": 1})
        self.assertEqual({r["key"]: r["count"] for r in j["by_domain"]}, {"yahoo.com": 2, "gmail.com": 1, "example.com": 2})
        self.assertEqual(sum(r["count"] for r in j["by_day"]), 5)
        self.assertGreaterEqual(j["suppressions"]["total"], 3)
        code, j = self.curl_json(self.base + "/v1/stats?since=60d&by=reason")
        self.assertEqual(code, 200)
        self.assertEqual(set(j), {"since", "suppressible", "by_reason", "suppressions"})
        self.assertEqual({r["key"]: r["count"] for r in j["by_reason"]},
                         {"abuse": 2, "fraud": 1, "user_unknown": 2, "mailbox_full": 1})

    def test_healthz_and_metrics(self):
        self.env.socketmap(["suppressed gone@example.com", "suppressed nobody@example.com"])
        code, j = self.curl_json(self.base + "/healthz")
        self.assertEqual(code, 200)
        self.assertEqual(j["status"], "ok")
        self.assertTrue(j["database"]["ok"])
        self.assertTrue(j["index"]["loaded"])
        self.assertGreaterEqual(j["index"]["entries"], 3)
        self.assertIsNone(j["spool_backlog"])
        code, text = self.env.curl(self.base + "/metrics")
        self.assertEqual(code, 200)
        self.assertRegex(text, r'rebound_lookup_hits_total\{proto="socketmap"\} [1-9]')
        self.assertRegex(text, r'rebound_lookup_misses_total\{proto="socketmap"\} [1-9]')
        self.assertIn('rebound_lookup_seconds_bucket{proto="socketmap",le="+Inf"}', text)
        self.assertRegex(text, r"rebound_index_entries [3-9]")
        self.assertIn("# TYPE rebound_lookup_seconds histogram", text)


if __name__ == "__main__":
    harness.run()
