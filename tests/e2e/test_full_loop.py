#!/usr/bin/env python3
"""The whole loop in one `rebound serve`: a bounce received over SMTP becomes a
suppression in PostgreSQL and a relay's socketmap/policy lookup answers
REJECT for that address, while a block bounce never does.  Prints the time
from the client's 250 to the first positive lookup."""
import re, signal, smtplib, socket, subprocess, time, unittest, urllib.request
import harness
import store_msgs as m
from lookup_env import netstring, read_netstring


class FullLoop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg, cls.d = harness.store_daemon()
        cls.d.start()
        cls.smap = int(cls.d.conf["lookup"]["socketmap_listen"].rsplit(":", 1)[1])
        cls.policy = int(cls.d.conf["lookup"]["policy_listen"].rsplit(":", 1)[1])
        harness.wait_port(cls.smap, proc=cls.d.proc)
        # The pipeline migrates the fresh database at start, off the event
        # loop; until the index has loaded, lookups answer TEMP.
        end = time.time() + 20
        while time.time() < end and not cls.socketmap(cls, "probe@x.example").startswith("NOTFOUND"):
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        cls.d.finish(cls.pg)

    def socketmap(self, key):
        with socket.create_connection(("127.0.0.1", self.smap), timeout=5) as s:
            s.sendall(netstring(f"suppressed {key}"))
            return read_netstring(s)

    def postmap(self, key):
        p = harness.postmap("-q", key, f"socketmap:inet:127.0.0.1:{self.smap}:suppressed")
        return p.returncode, p.stdout.decode().strip()

    def policy_action(self, rcpt):
        return harness.policy_request(self.policy, {"request": "smtpd_access_policy",
                                                    "protocol_state": "RCPT",
                                                    "recipient": rcpt}).strip()

    def send(self, data):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=30) as s:
            s.sendmail("", ["bounce@bounces.example.com"], data)

    def wait_lookup(self, key, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            r = self.socketmap(key)
            if r.startswith("OK"):
                return r
            time.sleep(0.02)
        self.fail(f"{key} never suppressed\n{self.d.log()[-3000:]}")

    def test_hard_bounce_to_lookup(self):
        self.assertTrue(self.socketmap("carol@dead.example").startswith("NOTFOUND"))
        t0 = time.time()
        self.send(m.dsn("hard", "Carol@Dead.Example", "loop1"))
        r = self.wait_lookup("carol@dead.example")
        print(f"# 250 -> socketmap OK in {(time.time() - t0) * 1000:.0f} ms")
        self.assertIn("REJECT", r)
        rc, out = self.postmap("CAROL@dead.example")
        self.assertEqual(rc, 0)
        self.assertIn("REJECT 5.1.1", out)
        self.assertIn("action=REJECT", self.policy_action("carol@dead.example"))
        rows = self.pg.psql("SELECT class, origin FROM suppressions WHERE address_key = 'carol@dead.example'")
        self.assertEqual(rows, [["hard", "automatic"]])

    def test_sighup_reaches_lookups(self):
        """serve's SIGHUP gives the lookup servers the new action text."""
        self.send(m.dsn("hard", "dan@dead.example", "loop-hup"))
        self.assertIn("on the suppression list", self.wait_lookup("dan@dead.example"))
        old = self.d.conf["lookup"].get("action_hard")
        self.d.conf["lookup"]["action_hard"] = "REJECT 5.1.1 <%a> bounced here before (%r)"
        self.d.write_conf()
        try:
            n = self.d.log().count("lookup event=reloaded")
            self.d.proc.send_signal(signal.SIGHUP)
            end = time.time() + 10
            while time.time() < end and self.d.log().count("lookup event=reloaded") == n:
                time.sleep(0.02)
            self.assertEqual(self.socketmap("dan@dead.example"),
                             "OK REJECT 5.1.1 <dan@dead.example> bounced here before (userunknown)")
        finally:
            if old is None:
                del self.d.conf["lookup"]["action_hard"]
            else:
                self.d.conf["lookup"]["action_hard"] = old
            self.d.write_conf()
            self.d.proc.send_signal(signal.SIGHUP)

    def metrics(self):
        """GET /metrics as {'name{labels}': value}."""
        url = f"http://{self.d.conf['http']['listen']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            self.assertEqual(r.status, 200)
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            mo = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
            if mo:
                out[mo.group(1)] = float(mo.group(2))
        return out

    def test_metrics_after_bounce(self):
        before = self.metrics()
        self.send(m.dsn("hard", "erin@gone.example", "loop3"))
        self.wait_lookup("erin@gone.example")
        # Counted after COMMIT; the lookup above may see the index first.
        end = time.time() + 10
        while time.time() < end:
            after = self.metrics()
            if after.get('rebound_messages_total{kind="dsn"}', 0) > before.get('rebound_messages_total{kind="dsn"}', 0):
                break
            time.sleep(0.05)

        def delta(key):
            return after.get(key, 0) - before.get(key, 0)
        self.assertGreaterEqual(delta("rebound_smtp_sessions_total"), 1, after)
        self.assertGreaterEqual(delta('rebound_smtp_replies_total{code="250"}'), 4, after)  # EHLO MAIL RCPT DATA-end
        self.assertGreaterEqual(delta('rebound_smtp_replies_total{code="354"}'), 1, after)
        self.assertEqual(delta('rebound_messages_total{kind="dsn"}'), 1, after)
        self.assertEqual(delta('rebound_messages_class_total{class="hard"}'), 1, after)
        self.assertGreaterEqual(delta('rebound_lookup_hits_total{proto="socketmap"}'), 1, after)
        self.assertGreaterEqual(delta('rebound_lookup_seconds_count{proto="socketmap"}'), 1, after)
        self.assertGreaterEqual(delta('rebound_store_seconds_count{op="batch"}'), 1, after)
        self.assertIn("rebound_spool_backlog", after)
        self.assertGreaterEqual(after["rebound_spool_backlog"], 0)

    def test_block_never_suppresses(self):
        self.send(m.dsn("block", "dave@blocked.example", "loop2"))
        # The block event is stored, and still the address is not suppressed.
        end = time.time() + 15
        while time.time() < end:
            if self.pg.psql("SELECT class FROM events WHERE address_key = 'dave@blocked.example'"):
                break
            time.sleep(0.05)
        self.assertEqual(self.pg.psql("SELECT class FROM events WHERE address_key = 'dave@blocked.example'"),
                         [["block"]])
        self.assertTrue(self.socketmap("dave@blocked.example").startswith("NOTFOUND"))
        self.assertEqual(self.postmap("dave@blocked.example")[0], 1)
        self.assertIn("DUNNO", self.policy_action("dave@blocked.example"))


if __name__ == "__main__":
    harness.run()
