#!/usr/bin/env python3
"""Every configurable SMTP limit, end to end: message size, command and data
line length, recipients, sessions in total and per address, idle and data
timeouts, bad commands, spool high-water mark and free space."""
import os, re, smtplib, socket, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from smtp_helpers import Raw, spool_bytes, spool_entries, read_spool


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = harness.free_port()
        cls.d = harness.Daemon({"smtp": {
            "listen": "127.0.0.1:%d;127.0.0.2:%d" % (port, port),
            "max_message_size": "2048", "max_data_line": "1000", "max_command_line": "600",
            "max_recipients": "3", "max_sessions": "4", "max_sessions_per_ip": "2",
            "idle_timeout": "2", "data_timeout": "3", "max_bad_commands": "5",
            "max_session_time": "10"}})
        cls.d.port = port
        cls.d.start()
        cls.spool = cls.d.conf["spool"]["dir"]

    @classmethod
    def tearDownClass(cls):
        cls.d.finish()

    def session(self):
        return Raw.greeted(self, self.d.port, "limits.example")

    @staticmethod
    def until_421(seconds, pause, command):
        """command() -> (code, text) every pause seconds until a 421, the
        connection ends or seconds pass; the last reply ((None, None) if none)."""
        t0 = time.time()
        code = text = None
        while time.time() - t0 < seconds:
            try:
                code, text = command()
            except (EOFError, OSError):
                break
            if code == 421:
                break
            time.sleep(pause)
        return code, text

    def assert_421_closed(self, r, reply, *words):
        """reply is a 421 whose text holds every one of words, and the server
        then closes r's connection."""
        code, text = reply
        self.assertEqual(code, 421)
        for w in words:
            self.assertIn(w, text)
        self.assertTrue(r.closed_within(2))

    def test_size_advertised_and_checked_at_mail(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as c:
            c.ehlo()
            self.assertEqual(c.esmtp_features["size"], "2048")
            code, msg = c.mail("<>", ["SIZE=2049"])
            self.assertEqual(code, 552)
            self.assertIn(b"5.3.4", msg)
            self.assertEqual(c.mail("<>", ["SIZE=2000"])[0], 250)

    def test_oversize_read_to_end_then_552(self):
        before = spool_entries(self.spool)
        r = self.session()
        r.cmd("MAIL FROM:<>")
        r.cmd("RCPT TO:<a@bounces.example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        # A client lying about SIZE (none given): 5000 octets, then the dot.
        r.send(b"Subject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * 50 + b".\r\n")
        code, text = r.reply()
        self.assertEqual(code, 552)
        self.assertIn("5.3.4", text)
        # Not a mid-stream disconnect: the session goes on.
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        r.cmd("RCPT TO:<a@bounces.example.com>")
        r.cmd("DATA")
        r.send(b"Subject: small\r\n\r\nfits\r\n.\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(len(spool_entries(self.spool)), len(before) + 1)
        r.cmd("QUIT")

    def test_command_line_length(self):
        r = self.session()
        self.assertEqual(r.cmd("NOOP " + "x" * 593)[0], 250)      # 600 with CRLF
        code, text = r.cmd("NOOP " + "x" * 594)
        self.assertEqual(code, 500)
        self.assertIn("Line too long", text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        r.cmd("QUIT")

    def test_data_line_length(self):
        r = self.session()
        r.cmd("MAIL FROM:<>")
        r.cmd("RCPT TO:<a@bounces.example.com>")
        r.cmd("DATA")
        # A line over max_data_line, with a "." right after the cut point:
        # the continuation must not be taken as the end of data.
        r.send(b"Subject: long\r\n\r\n" + b"y" * 1100 + b".\r\nstill data\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertIn("too long", text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        r.cmd("QUIT")

    def test_too_many_recipients(self):
        r = self.session()
        r.cmd("MAIL FROM:<>")
        for i in range(3):
            self.assertEqual(r.cmd("RCPT TO:<r%d@bounces.example.com>" % i)[0], 250)
        for i in range(3, 10):
            code, text = r.cmd("RCPT TO:<r%d@bounces.example.com>" % i)
            self.assertEqual(code, 452)
            self.assertIn("4.5.3", text)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: three\r\n\r\nx\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250)
        env, _ = read_spool(self.spool, re.search(r"queued as (\w+)", text).group(1))
        self.assertEqual(len(env["Rcpt"]), 3)
        r.cmd("QUIT")

    def test_sessions_per_ip_and_total(self):
        a1, a2 = Raw(self.d.port), Raw(self.d.port)
        self.assertEqual(a1.greeting[0], 220)
        self.assertEqual(a2.greeting[0], 220)
        a3 = Raw(self.d.port, greet=False)
        self.assert_421_closed(a3, a3.reply(), "4.7.0")
        b1 = Raw(self.d.port, host="127.0.0.2", source="127.0.0.2")
        b2 = Raw(self.d.port, host="127.0.0.2", source="127.0.0.2")
        self.assertEqual((b1.greeting[0], b2.greeting[0]), (220, 220))
        # At the total limit the longest idle session (a1) makes room ...
        c1 = Raw(self.d.port, host="127.0.0.2", source="127.0.0.3")
        self.assertEqual(c1.greeting[0], 220)
        self.assert_421_closed(a1, a1.reply(), "4.7.0", "idle")
        a1.close()
        # ... but a session in a transaction is never evicted.
        for r in (a2, b1, b2, c1):
            r.cmd("EHLO busy.example")
            self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        c2 = Raw(self.d.port, host="127.0.0.2", source="127.0.0.4", greet=False)
        self.assert_421_closed(c2, c2.reply(), "Too many sessions")  # 4 sessions in total
        for r in (a2, b1, b2, c1):
            r.cmd("QUIT")
            r.close()
        time.sleep(0.2)
        r = Raw(self.d.port)                                 # slots are given back
        self.assertEqual(r.greeting[0], 220)
        r.cmd("QUIT")

    def test_noop_and_rset_count_as_idle(self):
        # Issue 14: a NOOP every 0.4 s used to keep a session forever.
        r = self.session()
        t0 = time.time()
        reply = self.until_421(
            6, 0.4, lambda: r.cmd("NOOP" if int((time.time() - t0) * 10) % 2 else "RSET"))
        elapsed = time.time() - t0
        self.assert_421_closed(r, reply, "4.4.2")
        self.assertLess(elapsed, 4)
        r.close()

    def test_session_lifetime(self):
        # Busy, never idle (MAIL then RSET), but no session lasts forever.
        r = self.session()
        t0 = time.time()

        def busy():
            code, text = r.cmd("MAIL FROM:<>")
            return r.cmd("RSET") if code == 250 else (code, text)
        reply = self.until_421(15, 0.5, busy)
        elapsed = time.time() - t0
        self.assert_421_closed(r, reply, "4.4.2", "too long")
        self.assertGreaterEqual(elapsed, 8)
        r.close()

    def test_idle_timeout(self):
        r = self.session()
        t0 = time.time()
        reply = r.reply()
        elapsed = time.time() - t0
        self.assert_421_closed(r, reply, "4.4.2")
        self.assertGreaterEqual(elapsed, 1.5)

    def test_data_timeout(self):
        r = self.session()
        r.cmd("MAIL FROM:<>")
        r.cmd("RCPT TO:<a@bounces.example.com>")
        r.cmd("DATA")
        before = spool_entries(self.spool)
        r.send(b"Subject: slow\r\n\r\npartial")
        t0 = time.time()
        reply = r.reply()
        elapsed = time.time() - t0
        self.assert_421_closed(r, reply)
        self.assertGreaterEqual(elapsed, 2.5)                # data_timeout, not idle_timeout
        self.assertEqual(spool_entries(self.spool), before)
        time.sleep(0.2)
        self.assertIn("reason=data-timeout stage=DATA", self.d.log())

    def test_bad_commands(self):
        r = self.session()
        for i in range(4):
            self.assertEqual(r.cmd("XYZZY")[0], 500)
        code, _ = r.cmd("XYZZY")
        self.assertEqual(code, 500)
        self.assert_421_closed(r, r.reply(), "Too many errors")


class SpoolFullTest(unittest.TestCase):
    def test_high_water_and_min_free(self):
        d = harness.Daemon({"spool": {"high_water": "2"}}).start()
        spool = d.conf["spool"]["dir"]
        try:
            for i in range(2):
                with smtplib.SMTP("127.0.0.1", d.port) as c:
                    c.sendmail("", ["a@bounces.example.com"], b"Subject: %d\r\n\r\nx\r\n" % i)
            kept = spool_bytes(spool)
            self.assertEqual(len(kept), 2)
            with smtplib.SMTP("127.0.0.1", d.port) as c:
                c.ehlo()
                code, msg = c.mail("<>")
                self.assertEqual(code, 452)
                self.assertIn(b"4.3.1", msg)
        finally:
            self.assertEqual(d.stop(), 0)
        # Now no room on the file system (min_free above what the disk has):
        # the message is read, refused with 452, and nothing spooled is touched.
        d.conf["spool"] = {"dir": spool, "high_water": "100", "min_free_mb": "1048576"}
        d.write_conf()
        d.start()
        try:
            r = Raw(d.port)
            r.cmd("EHLO full.example")
            self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
            r.cmd("RCPT TO:<a@bounces.example.com>")
            r.cmd("DATA")
            r.send(b"Subject: no room\r\n\r\nx\r\n.\r\n")
            code, text = r.reply()
            self.assertEqual(code, 452, text)
            self.assertIn("4.3.1", text)
            r.cmd("QUIT")
            self.assertEqual(spool_bytes(spool), kept)
            self.assertEqual(os.listdir(os.path.join(spool, "tmp")), [])
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


if __name__ == "__main__":
    harness.run()
