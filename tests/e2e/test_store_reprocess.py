#!/usr/bin/env python3
"""rebound reprocess --since DATE: after a rules change, stored raw messages are
classified again and suppressions follow (added and removed, audited), and a
second run changes nothing."""
import os, re, smtplib, subprocess, unittest
import harness
import store_msgs as m


class Reprocess(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg, cls.d = harness.store_daemon()
        cls.d.migrate()
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pg.destroy()

    def send(self, data):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=30) as s:
            s.sendmail("", ["bounce@bounces.example.com"], data)

    def wait(self, sql, want, timeout=20):
        self.pg.wait(self, sql, want, lambda: self.d.log()[-2000:], timeout)

    def reprocess(self, conf, *args):
        p = subprocess.run([harness.REBOUND, "reprocess", "-c", conf] + list(args),
                           cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        return p.returncode, p.stdout.decode(errors="replace")

    def test_rules_change(self):
        self.send(m.dsn("block", "blk@example.org", "rp1"))
        self.send(m.dsn("hard", "gone@example.org", "rp2"))
        self.send(b"Subject: hi\r\n\r\nnot a report\r\n")
        self.wait("SELECT count(*) FROM messages", [["3"]])
        self.assertEqual(self.pg.psql("SELECT address_key FROM suppressions"),
                         [["gone@example.org"]])
        self.d.stop()

        # new rules: "blocked" is now hard, "userunknown" now a block
        with open(os.path.join(harness.ROOT, "conf", "rules.conf")) as f:
            rules = f.read()
        rules = re.sub(r"^class blocked\s+block$", "class blocked hard", rules, flags=re.M)
        rules = re.sub(r"^class userunknown\s+hard$", "class userunknown block", rules, flags=re.M)
        rpath = os.path.join(self.d.dir, "rules.conf")
        with open(rpath, "w") as f:
            f.write(rules)
        conf = os.path.join(self.d.dir, "new.conf")
        with open(conf, "w") as f:
            f.write(f"[parser]\nrules = {rpath}\n[store]\nconninfo = {self.pg.conninfo}\n")

        rc, out = self.reprocess(conf, "--since", "2000-01-01")
        self.assertEqual(rc, 0, out)
        self.assertIn("3 messages", out)
        self.assertIn("added 1", out)
        self.assertIn("removed 1", out)
        self.assertEqual(self.pg.psql("SELECT address_key, class, expires_at IS NULL"
                                      " FROM suppressions"), [["blk@example.org", "hard", "t"]])
        self.assertEqual(self.pg.psql("SELECT address_key, op FROM suppression_audit"
                                      " WHERE actor = 'reprocess' ORDER BY address_key"),
                         [["blk@example.org", "add"], ["gone@example.org", "remove"]])
        self.assertEqual(self.pg.psql("SELECT class, count(*) FROM events GROUP BY class"
                                      " ORDER BY class"), [["block", "1"], ["hard", "1"]])
        self.assertEqual(self.pg.psql("SELECT count(*) FROM messages WHERE kind = 'none'"), [["1"]])

        # nothing left to change
        rc, out = self.reprocess(conf, "--since", "2000-01-01")
        self.assertEqual(rc, 0, out)
        self.assertIn("added 0, changed 0, removed 0", out)
        # a range with nothing in it
        rc, out = self.reprocess(conf, "--since", "2999-01-01")
        self.assertEqual(rc, 0, out)
        self.assertIn("0 messages", out)

    def test_bad_arguments(self):
        conf = os.path.join(self.d.dir, "rebound.conf")
        rc, out = self.reprocess(conf, "--since", "yesterday-ish")
        self.assertEqual(rc, 1, out)
        self.assertIn("timestamp", out)
        rc, out = self.reprocess(conf)
        self.assertEqual(rc, 2, out)


if __name__ == "__main__":
    harness.run()
