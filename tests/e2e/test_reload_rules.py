#!/usr/bin/env python3
"""SIGHUP reloads the classification rules into the running daemon: a
report stored before the reload keeps the reason it got, the same wording
after it gets the operator's new rule; a rules file with an error is
refused with its file:line and the daemon keeps classifying with the
rules it had."""
import os, shutil, signal, smtplib, time, unittest
import harness
import store_msgs as m

m.KINDS["frob"] = ("failed", "5.0.0", "550 5.0.0 <{rcpt}>: frobnicated mailbox")


class ReloadRules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg, cls.d = harness.store_daemon({"store": {"retry_max_seconds": "1"}})
        cls.rules = os.path.join(cls.d.dir, "rules.conf")
        shutil.copy(os.path.join(harness.ROOT, "conf", "rules.conf"), cls.rules)
        cls.d.conf["parser"] = {"rules": cls.rules}
        cls.d.write_conf()
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.finish(cls.pg)

    def send(self, rcpt, tag):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=30) as s:
            s.sendmail("", ["bounce@bounces.example.com"], m.dsn("frob", rcpt, tag))

    def wait_reason(self, key, want, timeout=20):
        self.pg.wait(self, f"SELECT reason FROM events WHERE address_key = '{key}'", [[want]],
                     lambda: self.d.log()[-2000:], timeout)

    def wait_log(self, text, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.d.log():
                return
            time.sleep(0.05)
        self.fail(f"no {text!r} in the log\n{self.d.log()[-2000:]}")

    def test_reload(self):
        self.send("before@example.org", "r1")
        self.wait_reason("before@example.org", "onhold")

        # A broken rules file: refused at SIGHUP with file:line, old rules kept.
        with open(self.rules, "a") as f:
            f.write("rule site-frob mailboxfull regex frobnicated (mailbox\n")
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_log("serve event=reload-failed error=\"" + self.rules + ":")
        self.send("broken@example.org", "r2")
        self.wait_reason("broken@example.org", "onhold")

        with open(os.path.join(harness.ROOT, "conf", "rules.conf")) as src, \
                open(self.rules, "w") as f:
            f.write(src.read() + "rule site-frob mailboxfull regex frobnicated mailbox\n")
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_log("store event=reloaded")
        self.send("after@example.org", "r3")
        self.wait_reason("after@example.org", "mailboxfull")
        self.assertEqual(self.pg.psql("SELECT rule FROM events WHERE address_key = 'after@example.org'"),
                         [["site-frob"]])
        # stored before the reload: unchanged
        self.wait_reason("before@example.org", "onhold", timeout=0.1)


if __name__ == "__main__":
    harness.run()
