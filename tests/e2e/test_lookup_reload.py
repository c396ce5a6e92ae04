#!/usr/bin/env python3
"""SIGHUP reaches the lookup side ("rebound lookupd", and "serve" with
lookups): a rotated HTTP bearer token takes effect (the old one is refused)
and a changed action text is what socketmap answers next; a configuration
file with an error is refused at SIGHUP and the running one stays; a
listen address change is logged as needing a restart."""
import os, signal, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupEnv, TOKEN

NEW_TOKEN = "rotated-token-2"


class LookupReload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = LookupEnv()
        cls.env.suppress_sql("gone@example.com", "hard", "user_unknown")
        cls.env.start()
        with open(cls.env.conf_path) as f:
            cls.conf = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.env.destroy()

    def post(self, token, address):
        body = {"address": address, "reason": "reload test"}
        return self.env.http("POST", "/v1/suppressions", body=body, token=token)[0]

    def hup(self, text, log_line, timeout=10):
        with open(self.env.conf_path, "w") as f:
            f.write(text)
        n = self.env.log().count(log_line)
        self.env.proc.send_signal(signal.SIGHUP)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.env.log().count(log_line) > n:
                return
            time.sleep(0.02)
        self.fail(f"no new {log_line!r} in the log\n{self.env.log()[-2000:]}")

    def test_reload(self):
        self.assertIn(self.post(TOKEN, "a1@example.org"), (200, 201))
        self.assertEqual(self.post(NEW_TOKEN, "a2@example.org"), 401)
        self.assertEqual(self.env.socketmap(["suppressed gone@example.com"]),
                         ["OK REJECT 5.1.1 <gone@example.com>: on the suppression list (user_unknown)"])

        new = self.conf.replace(f"token = {TOKEN}", f"token = {NEW_TOKEN}")
        new = new.replace("[lookup]\n", "[lookup]\naction_hard = REJECT 5.1.1 <%a> is gone (%r)\n")
        self.assertNotEqual(new, self.conf)
        self.hup(new, "lookup event=reloaded")
        self.assertEqual(self.post(TOKEN, "a3@example.org"), 401)
        self.assertIn(self.post(NEW_TOKEN, "a4@example.org"), (200, 201))
        self.assertEqual(self.env.socketmap(["suppressed gone@example.com"]),
                         ["OK REJECT 5.1.1 <gone@example.com> is gone (user_unknown)"])

        # an error in the file: refused with its line, the running configuration stays
        self.hup(new + "[lookup]\nno equals sign here\n", "lookupd event=reload-failed")
        self.assertRegex(self.env.log(), r"reload-failed error=\"[^\"]*rebound\.conf:\d+")
        self.assertIn(self.post(NEW_TOKEN, "a5@example.org"), (200, 201))
        self.assertEqual(self.post(TOKEN, "a6@example.org"), 401)

        # a new listen address needs a restart: said, and the old one still answers
        moved = new.replace(f"127.0.0.1:{self.env.sm_port}", f"127.0.0.1:{harness.free_port()}")
        self.hup(moved, "lookup event=reloaded")
        self.assertIn("listen address changes need a restart", self.env.log())
        self.assertEqual(self.env.socketmap(["suppressed gone@example.com"]),
                         ["OK REJECT 5.1.1 <gone@example.com> is gone (user_unknown)"])
        self.assertEqual(self.env.proc.poll(), None)


if __name__ == "__main__":
    harness.run()
