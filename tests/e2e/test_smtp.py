#!/usr/bin/env python3
"""SMTP receiver end to end: happy path, protocol order, addresses, relaying,
smuggling, pipelining, hostile command lines.  One daemon for the module."""
import os, re, smtplib, subprocess, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from smtp_helpers import Raw, spool_entries, read_spool, strip_received

DSN = (b"From: MAILER-DAEMON@mx.remote.example\r\n"
       b"To: bounce-u=example.org@bounces.example.com\r\n"
       b"Subject: Undelivered Mail Returned to Sender\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"
       b"\r\n"
       b"--B\r\n"
       b"Content-Type: text/plain\r\n\r\n"
       b"I'm sorry.\r\n"
       b".leading dot survives unstuffing\r\n"
       b"--B\r\n"
       b"Content-Type: message/delivery-status\r\n\r\n"
       b"Reporting-MTA: dns; mx.remote.example\r\n\r\n"
       b"Final-Recipient: rfc822; u@example.org\r\n"
       b"Action: failed\r\n"
       b"Status: 5.1.1\r\n"
       b"--B--\r\n")


class SmtpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon({"smtp": {"domains": "bounces.example.com;.sub.example.net",
                                         "fbl_addresses": "fbl@feedback.example.org",
                                         "max_bad_commands": "50"}}).start()
        cls.spool = cls.d.conf["spool"]["dir"]

    @classmethod
    def tearDownClass(cls):
        cls.d.finish()

    def raw(self):
        return Raw.greeted(self, self.d.port)

    def queued_id(self, text):
        m = re.search(r"queued as ([0-9A-Za-z]{16})", text)
        self.assertIsNotNone(m, text)
        return m.group(1)

    def test_dsn_spooled_byte_exact_with_envelope(self):
        with smtplib.SMTP("127.0.0.1", self.d.port, local_hostname="mx.remote.example") as c:
            c.ehlo()
            code, _ = c.mail("<>")
            self.assertEqual(code, 250)
            code, _ = c.rcpt("bounce-u=example.org@bounces.example.com")
            self.assertEqual(code, 250)
            code, msg = c.data(DSN)
            self.assertEqual(code, 250)
            self.assertTrue(msg.startswith(b"2.0.0"), msg)
            qid = self.queued_id(msg.decode())
        env, body = read_spool(self.spool, qid)
        self.assertEqual(env["Queue-Id"], qid)
        self.assertEqual(env["Mail-From"], "")
        self.assertEqual(env["Rcpt"], ["bounce-u=example.org@bounces.example.com"])
        self.assertEqual(env["Client"], "127.0.0.1")
        self.assertEqual(env["Helo"], "mx.remote.example")
        self.assertNotIn("Tls", env)
        self.assertEqual(int(env["Size"]), len(body))
        self.assertLess(abs(int(env["Arrival-Us"]) / 1e6 - time.time()), 60)
        self.assertEqual(strip_received(body), DSN)
        rec = body.split(b"\r\n\r\n")[0]
        self.assertIn(b"from mx.remote.example ([127.0.0.1])", rec)
        self.assertIn(b"by mx.test (Rebound) with ESMTP id " + qid.encode(), rec)
        log = self.d.log()
        self.assertRegex(log, r"q=%s event=accepted s=\w+ client=127.0.0.1 from=\"<>\" nrcpt=1 "
                         r"rcpts=\"<bounce-u=example.org@bounces.example.com>\" size=\d+ tls=\"\"" % qid)

    def test_swaks_fbl_address_and_subdomain(self):
        p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.d.port),
                            "--from", "fbl-sender@isp.example", "--to",
                            "fbl@feedback.example.org,x@a.sub.example.net",
                            "--helo", "isp.example", "--body", "abuse report"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out)
        qid = self.queued_id(out)
        env, _ = read_spool(self.spool, qid)
        self.assertEqual(env["Rcpt"], ["fbl@feedback.example.org", "x@a.sub.example.net"])
        self.assertEqual(env["Mail-From"], "fbl-sender@isp.example")

    def test_ehlo_capabilities(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as c:
            code, _ = c.ehlo("client.example")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes"):
                self.assertTrue(c.has_extn(ext), ext)
            self.assertEqual(c.esmtp_features["size"], "26214400")
            # No certificate configured: no STARTTLS offered, and refused.
            self.assertFalse(c.has_extn("starttls"))
            self.assertEqual(c.docmd("STARTTLS")[0], 502)
            self.assertEqual(c.docmd("VRFY", "someone")[0], 252)
            self.assertEqual(c.docmd("HELP")[0], 214)
            self.assertEqual(c.docmd("NOOP")[0], 250)

    def test_relay_denied(self):
        r = self.raw()
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        for rcpt in ["u@other.example", "u%other.example@bounces.example.com",
                     '"u@other.example"@bounces.example.com', "other.example!u@bounces.example.com",
                     "u@[192.0.2.1]", "u@bounces.example.com.evil.example",
                     "u@sub.example.net", "fbl@example.org", "u@xbounces.example.com"]:
            code, text = r.cmd("RCPT TO:<%s>" % rcpt)
            self.assertEqual(code, 550, rcpt)
            self.assertIn("5.7.1", text)
        # A trailing dot is not a domain; <@a,@b:u@c> is a source route to another domain.
        self.assertEqual(r.cmd("RCPT TO:<u@bounces.example.com.>")[0], 501)
        self.assertEqual(r.cmd("RCPT TO:<@bounces.example.com:u@other.example>")[0], 550)
        # Source routes are accepted and ignored; case does not matter.
        self.assertEqual(r.cmd("RCPT TO:<@a.example,@b.example:v@Bounces.Example.COM>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<Postmaster>")[0], 250)
        code, text = r.cmd("DATA")
        self.assertEqual(code, 354)
        r.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250)
        env, _ = read_spool(self.spool, self.queued_id(text))
        self.assertEqual(env["Rcpt"], ["v@Bounces.Example.COM", "postmaster"])
        r.cmd("QUIT")
        self.assertIn("event=relay-denied", self.d.log())

    def test_command_order(self):
        r = self.raw()
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 503)          # before EHLO
        r.cmd("EHLO client.example")
        self.assertEqual(r.cmd("RCPT TO:<a@bounces.example.com>")[0], 503)
        self.assertEqual(r.cmd("DATA")[0], 503)
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 503)           # second MAIL
        self.assertEqual(r.cmd("DATA")[0], 503)                   # no RCPT yet
        self.assertEqual(r.cmd("BDAT 10 LAST")[0], 502)
        self.assertEqual(r.cmd("RSET")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<a@bounces.example.com>")[0], 503)
        code, text = r.cmd("FOO bar")
        self.assertEqual(code, 500)
        self.assertIn("5.5.2", text)
        self.assertEqual(r.cmd("EHLO")[0], 501)
        self.assertEqual(r.cmd("QUIT")[0], 221)

    def test_address_syntax_and_params(self):
        r = self.raw()
        r.cmd("EHLO client.example")
        cases = [
            ("MAIL FROM:<a@b.example> FOO=BAR", 555),
            ("MAIL FROM:<a@b.example> SIZE=abc", 501),
            ("MAIL FROM:<a@b.example> BODY=BINARYMIME", 501),
            ("MAIL FROM:<a..b@b.example>", 501),
            ("MAIL FROM:a@b.example", 501),
            ("MAIL FROM:<%s@b.example>" % ("l" * 65), 553),
            ("MAIL FROM:<a@%s.example>" % ".".join(["d" * 60] * 5), 553),
            ("MAIL FROM:<;sleep 66;>", 501),
            ("MAIL FROM:<\u00fcser@b.example>", 553),                  # UTF-8 without SMTPUTF8
            ("MAIL FROM:<a@b.example> SIZE=999999999999", 552),
        ]
        for line, want in cases:
            code, text = r.cmd(line.encode("utf-8"))
            self.assertEqual(code, want, line)
            if want == 553 and "\u00fc" in line:
                self.assertIn("5.6.7", text)
        self.assertEqual(r.cmd("MAIL FROM:<\u00fcser@b.example> SMTPUTF8 BODY=8BITMIME SIZE=100"
                               .encode("utf-8"))[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<a@bounces.example.com> NOTIFY=NEVER")[0], 555)
        self.assertEqual(r.cmd("RCPT TO:<\u00e4@bounces.example.com>".encode("utf-8"))[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<>")[0], 501)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: \u00fc\r\n\r\n\u00fc\r\n.\r\n".encode("utf-8"))
        code, text = r.reply()
        self.assertEqual(code, 250)
        env, body = read_spool(self.spool, self.queued_id(text))
        self.assertEqual(env["Mail-From"], "\u00fcser@b.example")
        self.assertEqual(env["Rcpt"], ["\u00e4@bounces.example.com"])
        self.assertIn(b"with UTF8SMTP id", body)
        # A path of exactly 256 octets is fine, 257 is not.
        local = "l" * 64
        dom = "d" * 62 + "." + "d" * 62 + "." + "d" * 63
        ok = "<%s@%s>" % (local, dom)
        self.assertEqual(len(ok), 256)
        self.assertEqual(r.cmd("MAIL FROM:" + ok)[0], 250)
        r.cmd("RSET")
        self.assertEqual(r.cmd("MAIL FROM:<%s@%se>" % (local, dom))[0], 553)
        r.cmd("QUIT")

    def test_pipelined_burst(self):
        before = set(spool_entries(self.spool))
        r = self.raw()
        burst = b"EHLO burst.example\r\n"
        for i in range(20):
            burst += (b"MAIL FROM:<>\r\nRCPT TO:<n%d@bounces.example.com>\r\nDATA\r\n"
                      b"Subject: %d\r\n\r\nmessage %d\r\n.\r\n" % (i, i, i))
        burst += b"QUIT\r\n"
        r.send(burst)
        self.assertEqual(r.reply()[0], 250)      # EHLO
        ids = []
        for i in range(20):
            self.assertEqual(r.reply()[0], 250)  # MAIL
            self.assertEqual(r.reply()[0], 250)  # RCPT
            self.assertEqual(r.reply()[0], 354)
            code, text = r.reply()
            self.assertEqual(code, 250, text)
            ids.append(self.queued_id(text))
        self.assertEqual(r.reply()[0], 221)
        self.assertEqual(len(set(ids)), 20)
        self.assertEqual(set(spool_entries(self.spool)) - before, set(ids))
        for i, qid in enumerate(ids):
            env, body = read_spool(self.spool, qid)
            self.assertEqual(env["Rcpt"], ["n%d@bounces.example.com" % i])
            self.assertTrue(body.endswith(b"message %d\r\n" % i))
        self.assertEqual(ids, sorted(ids))       # ids sort in arrival order

    def smuggle(self, shape):
        """A message whose body hides "<shape>MAIL FROM..." ; returns replies and spool delta."""
        before = set(spool_entries(self.spool))
        r = self.raw()
        r.cmd("EHLO smuggler.example")
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<a@bounces.example.com>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: smuggle\r\n\r\nbody" + shape +
               b"MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@bounces.example.com>\r\n"
               b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(r.cmd("NOOP")[0], 250)  # exactly one reply came for the whole message
        r.cmd("QUIT")
        return code, text, set(spool_entries(self.spool)) - before

    SHAPES = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\n", b"\n.\r", b"\r.\r\n",
              b"\r\n.\r", b"\r\n\0.\r\n"]

    def test_smuggling_rejected(self):
        for shape in self.SHAPES:
            code, text, new = self.smuggle(shape)
            if b"\0" in shape:
                # No bare CR/LF: a NUL is data; the message is one message.
                self.assertEqual(code, 250, shape)
                self.assertEqual(len(new), 1)
                _, body = read_spool(self.spool, new.pop())
                self.assertIn(b"\r\n\0.\r\nMAIL FROM:<evil@attacker.example>\r\n", body)
                continue
            self.assertEqual(code, 554, (shape, text))
            self.assertIn("5.6.0", text)
            self.assertEqual(new, set(), shape)

    def test_bare_lf_in_command(self):
        r = self.raw()
        for line in (b"EHLO a\nMAIL FROM:<>", b"NOOP\rX", b"NO\0OP"):
            code, text = r.cmd(line)
            self.assertEqual(code, 500, line)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        r.cmd("QUIT")

    def test_overlong_and_endless_lines(self):
        r = self.raw()
        code, text = r.cmd(b"NOOP " + b"x" * 600)
        self.assertEqual(code, 500)
        self.assertIn("too long", text)
        self.assertEqual(r.cmd("EHLO " + "h" * 500)[0], 250)  # 507 octets: within 512
        # 10 MB with no CRLF: one 500, memory stays bounded, session survives.
        chunk = b"A" * 65536
        r.sock.settimeout(20)
        for _ in range(160):
            r.send(chunk)
        code, text = r.cmd(b"")
        self.assertEqual(code, 500)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        self.assertLess(rss, 64 * 1024 * harness.RSS_FACTOR, "RSS %d kB after 10 MB without CRLF" % rss)
        r.cmd("QUIT")

    def test_talks_before_greeting(self):
        r = Raw(self.d.port, greet=False)
        r.send(b"EHLO early.example\r\nNOOP\r\n")
        self.assertEqual(r.reply()[0], 220)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 250)
        r.cmd("QUIT")

    def test_log_escapes_peer_strings(self):
        r = self.raw()
        r.cmd(b"EHLO evil\x1b[31m\"x")
        r.cmd("QUIT")
        time.sleep(0.2)
        log = self.d.log()
        self.assertIn('helo="evil\\x1b[31m\\"x"', log)
        self.assertNotIn("\x1b", log)

    def test_client_that_never_reads(self):
        # 2 MB of NOOPs without reading a reply: the daemon stops reading,
        # its memory does not grow with it, and it still serves others.
        r = Raw(self.d.port)
        r.sock.settimeout(3)
        sent = 0
        try:
            while sent < 2 * 1024 * 1024:
                r.sock.send(b"NOOP\r\n" * 1000)
                sent += 6000
        except (BlockingIOError, TimeoutError, OSError):
            pass
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        self.assertLess(rss, 64 * 1024 * harness.RSS_FACTOR)
        with smtplib.SMTP("127.0.0.1", self.d.port) as c:
            self.assertEqual(c.noop()[0], 250)
        r.close()


if __name__ == "__main__":
    harness.run()
