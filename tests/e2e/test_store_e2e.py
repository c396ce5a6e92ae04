#!/usr/bin/env python3
"""Reports over SMTP into PostgreSQL through the real daemon: suppressions for
hard bounces, complaints and repeated soft bounces, none for blocks, one
count per report however often it arrives, and nothing lost or doubled when
PostgreSQL goes away mid-run and comes back."""
import os, smtplib, subprocess, time, unittest
import harness
import store_msgs as m


class StoreE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = harness.Pg().start()
        cls.d = harness.Daemon({
            "smtp": {"fbl_addresses": "fbl@bounces.example.com"},
            "store": {"conninfo": cls.pg.conninfo, "retry_max_seconds": "1", "batch": "8"},
            "tenants": {"acme": "acme.example"},
        })
        cls.d.conf["smtp"]["domains"] = "bounces.example.com;.acme.example"
        cls.d.write_conf()
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.finish(cls.pg)

    def send(self, data, rcpt="bounce@bounces.example.com"):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=30) as s:
            s.sendmail("", [rcpt], data)

    def q(self, sql):
        return self.pg.psql(sql)

    def wait(self, sql, want, timeout=20):
        self.pg.wait(self, sql, want, lambda: self.d.log()[-2000:], timeout)

    def test_hard_bounce_with_swaks(self):
        path = os.path.join(self.d.dir, "hard.eml")
        with open(path, "wb") as f:
            f.write(m.dsn("hard", "Alice@Example.ORG", "hard1"))
        p = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.d.port}", "--from", "",
                            "--to", "bounce@bounces.example.com", "--data", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))
        self.wait("SELECT tenant, address, class, reason, expires_at IS NULL, origin"
                  " FROM suppressions WHERE address_key = 'alice@example.org'",
                  [["default", "Alice@example.org", "hard", "userunknown", "t", "automatic"]])
        self.assertEqual(self.q("SELECT e.status, e.campaign, m.kind, m.outcome FROM events e"
                                " JOIN messages m ON m.id = e.message_id"
                                " WHERE e.address_key = 'alice@example.org'"),
                         [["5.1.1", "spring-42", "dsn", "ok"]])
        self.assertEqual(self.q("SELECT actor, op FROM suppression_audit"
                                " WHERE address_key = 'alice@example.org'"), [["policy", "add"]])

    def test_complaint_and_not_spam(self):
        self.send(m.arf("Carol@example.net", "c1"), "fbl@bounces.example.com")
        self.send(m.arf("dave@example.net", "c2", "not-spam"), "fbl@bounces.example.com")
        self.wait("SELECT count(*) FROM events WHERE address_key IN"
                  " ('carol@example.net', 'dave@example.net')", [["2"]])
        self.assertEqual(self.q("SELECT address_key, class FROM suppressions WHERE address_key"
                                " IN ('carol@example.net', 'dave@example.net')"),
                         [["carol@example.net", "complaint"]])

    def test_soft_three_do_two_do_not(self):
        for i in range(3):
            self.send(m.dsn("soft", "soft3@example.org", f"s3-{i}"))
        for i in range(2):
            self.send(m.dsn("soft", "soft2@example.org", f"s2-{i}"))
        self.wait("SELECT count(*) FROM events WHERE address_key LIKE 'soft_@example.org'",
                  [["5"]])
        self.assertEqual(self.q("SELECT address_key, class, event_count,"
                                " expires_at - last_seen = interval '30 days'"
                                " FROM suppressions WHERE address_key LIKE 'soft_@example.org'"),
                         [["soft3@example.org", "soft", "3", "t"]])

    def test_delayed_neither_counts_nor_resets(self):
        """A delayed DSN between soft failures is no failure and no delivery:
        the third soft failure still suppresses."""
        for i, kind in enumerate(["soft", "soft", "delayed", "delayed", "soft"]):
            self.send(m.dsn(kind, "slow@example.org", f"dl-{i}"))
        self.wait("SELECT count(*) FROM events WHERE address_key = 'slow@example.org'", [["5"]])
        self.assertEqual(self.q("SELECT class, count(*) FROM events"
                                " WHERE address_key = 'slow@example.org' GROUP BY class ORDER BY 1"),
                         [["soft", "3"], ["unknown", "2"]])
        self.assertEqual(self.q("SELECT class, event_count FROM suppressions"
                                " WHERE address_key = 'slow@example.org'"), [["soft", "3"]])

    def test_block_never_suppresses(self):
        for i in range(3):
            self.send(m.dsn("block", "blocked@example.org", f"b-{i}"))
        self.wait("SELECT count(*) FROM events WHERE address_key = 'blocked@example.org'"
                  " AND class = 'block'", [["3"]])
        self.assertEqual(self.q("SELECT count(*) FROM suppressions"
                                " WHERE address_key = 'blocked@example.org'"), [["0"]])

    def test_same_report_twice_counts_once(self):
        data = m.dsn("soft", "twice@example.org", "tw")
        for _ in range(3):
            self.send(data)
        self.send(m.dsn("hard", "marker@example.org", "tw-marker"))
        self.wait("SELECT count(*) FROM events WHERE address_key = 'marker@example.org'", [["1"]])
        self.assertEqual(self.q("SELECT count(*) FROM events WHERE address_key = 'twice@example.org'"),
                         [["1"]])
        self.assertEqual(self.q("SELECT count(*) FROM suppressions"
                                " WHERE address_key = 'twice@example.org'"), [["0"]])
        self.assertIn("stored duplicate=yes", self.d.log())

    def test_tenant_and_unparsed(self):
        self.send(m.dsn("hard", "t@example.org", "tn", to="b@mail.acme.example"),
                  "b@mail.acme.example")
        self.send(b"Subject: hello\r\n\r\nnot a bounce at all\r\n")
        self.wait("SELECT tenant FROM suppressions WHERE address_key = 't@example.org'",
                  [["acme"]])
        self.wait("SELECT kind, convert_from(raw, 'UTF8') LIKE '%not a bounce at all%'"
                  " FROM messages WHERE kind = 'none'", [["none", "t"]])

    def test_zz_postgres_restart_mid_run(self):
        base = int(self.q("SELECT count(*) FROM messages")[0][0])
        sent = 0
        for i in range(10):
            self.send(m.dsn("block", f"r{i}@example.org", f"pg-a-{i}"))
            sent += 1
        self.pg.stop("fast")
        try:
            for i in range(10):
                # acknowledged while the database is down: spooled, not lost
                self.send(m.dsn("block", f"r{i}@example.org", f"pg-b-{i}"))
                sent += 1
            time.sleep(2)
        finally:
            self.pg.start()
        for i in range(10):
            self.send(m.dsn("block", f"r{i}@example.org", f"pg-c-{i}"))
            sent += 1
        self.wait("SELECT count(*) FROM messages", [[str(base + sent)]], timeout=40)
        self.assertEqual(self.q("SELECT count(*) FROM events WHERE address_key LIKE 'r_@example.org'"),
                         [[str(sent)]])
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT sha256) FROM messages"),
                         [[str(base + sent), str(base + sent)]])
        log = self.d.log()
        self.assertEqual(log.count("store state=down"), 1, log[-3000:])
        self.assertEqual(log.count("store state=up"), 1, log[-3000:])

    def test_zzz_reprocess_agrees_with_live_policy(self):
        # same rules, same raw messages: the incremental (live) policy and the
        # replayed one must give the same suppressions
        self.send(m.dsn("hard", "last@example.org", "last"))
        self.wait("SELECT count(*) FROM events WHERE address_key = 'last@example.org'", [["1"]])
        before = self.q("SELECT tenant, address_key, class, reason, first_seen, last_seen,"
                        " event_count, expires_at, event_id FROM suppressions ORDER BY 1, 2")
        p = subprocess.run([harness.REBOUND, "reprocess", "-c", self.d.conf_path,
                            "--since", "2000-01-01"], cwd=harness.ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("added 0, changed 0, removed 0", out)
        self.assertEqual(before, self.q("SELECT tenant, address_key, class, reason, first_seen,"
                                        " last_seen, event_count, expires_at, event_id"
                                        " FROM suppressions ORDER BY 1, 2"))


if __name__ == "__main__":
    harness.run()
