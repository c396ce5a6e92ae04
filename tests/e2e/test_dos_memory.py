#!/usr/bin/env python3
"""Issue 14, memory: 100 sessions each send 25 MB of DATA and never the final
dot.  Message data goes to the spool's tmp/ while it is read, so the daemon's
peak RSS (VmHWM) stays under 200 MB (it reached 2.4 GB when DATA was kept in
RAM), and a normal client is served in the middle of it.  Prints its figures
as '#' lines; bounded to 100 x 25 MB and a 120 s deadline."""
import os, smtplib, socket, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from smtp_helpers import Raw, spool_entries

SESSIONS = 100
# 25 MB (26.2 million octets), just under the default max_message_size.
PER_SESSION = 25 * 1024 * 1024
CHUNK = 256 * 1024
LINE = b"x" * 998 + b"\r\n"


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(key + ":"):
                return int(l.split()[1])
    raise KeyError(key)


def note(fmt, *args):
    print("# " + (fmt % args), flush=True)


class DataMemoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon({"smtp": {"max_sessions_per_ip": "200"}})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.finish()

    def normal_client(self, tag):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=10) as c:
            c.ehlo("normal.example")
            r = c.sendmail("", ["normal@bounces.example.com"],
                           "Subject: %s\r\n\r\nserved while DATA floods\r\n" % tag)
            self.assertEqual(r, {})

    def test_unfinished_data_on_disk(self):
        pid = self.d.proc.pid
        deadline = time.time() + 120
        chunk = LINE * (CHUNK // len(LINE))
        conns = []
        for i in range(SESSIONS):
            r = Raw(self.d.port, timeout=30)
            self.assertEqual(r.greeting[0], 220)
            r.send(b"EHLO flood.example\r\nMAIL FROM:<>\r\n"
                   b"RCPT TO:<flood@bounces.example.com>\r\nDATA\r\n")
            for want in (250, 250, 250, 354):
                self.assertEqual(r.reply()[0], want)
            conns.append(r)
        t0 = time.time()
        sent = 0
        rounds = PER_SESSION // len(chunk)
        for k in range(rounds):
            self.assertLess(time.time(), deadline, "flood did not finish in time")
            for r in conns:
                r.send(chunk)
            sent += len(chunk) * len(conns)
            if k == rounds // 2:
                self.normal_client("half-way")
        self.normal_client("end")
        for r in conns:
            r.close()
        # Each session reads what is left in its socket up to EOF, then ends
        # (no final dot: nothing stored); VmHWM is the peak over all of it.
        while time.time() < deadline and self.d.log().count("event=data-lost") < SESSIONS:
            time.sleep(0.1)
        hwm = status_kb(pid, "VmHWM")
        rss = status_kb(pid, "VmRSS")
        note("dos-memory: sessions=%d per_session_bytes=%d sent_mb=%d run_s=%.1f "
             "vmhwm_kb=%d vmrss_kb=%d", SESSIONS, rounds * len(chunk), sent >> 20,
             time.time() - t0, hwm, rss)
        ends = [l for l in self.d.log().splitlines()
                if "event=end" in l and 'helo="flood.example"' in l]
        self.assertEqual(len(ends), SESSIONS)
        for l in ends:
            self.assertIn("stage=DATA", l)
            got = int(l.split(" bytes=")[1].split()[0])
            self.assertGreaterEqual(got, rounds * len(chunk))
        self.assertLess(hwm, 200 * 1024 * harness.RSS_FACTOR, "peak RSS over 200 MB")
        # Only the two normal messages were stored.
        self.assertEqual(len(spool_entries(self.d.conf["spool"]["dir"])), 2)
        tmp = os.path.join(self.d.conf["spool"]["dir"], "tmp")
        self.assertEqual(os.listdir(tmp), [])


if __name__ == "__main__":
    harness.run()
