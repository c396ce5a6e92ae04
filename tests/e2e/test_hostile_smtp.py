#!/usr/bin/env python3
"""Hostile SMTP input (issue 6), byte-exact over raw sockets to `rebound serve`.
Every case asserts the reply code AND its enhanced status code, that nothing
hostile reaches the spool, and that the session (or the daemon) goes on:
overlong command and data lines, NUL, bare CR and bare LF in commands and in
data, the SMTP smuggling shapes, commands pipelined after STARTTLS, STARTTLS
twice, DATA before RCPT, RCPT before MAIL, 10,000 RCPTs, malformed and hostile
addresses (source routes, quoted specials, unbalanced brackets, 8-bit without
SMTPUTF8, CVE-2020-7247), SIZE lies, oversize messages and relay attempts."""
import os, re, shutil, sys, tempfile, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from smtp_helpers import Raw, spool_entries, read_spool, strip_received

OURS = "bounces.example.com"
MAX_SIZE = 65536


class HostileSmtp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rebound-hostile-smtp-")
        cert, key = harness.make_cert(cls.tmp)
        # Shipped defaults except the message size (kept small so oversize cases are quick).
        cls.d = harness.Daemon({"smtp": {"domains": OURS, "tls_cert": cert, "tls_key": key,
                                         "max_message_size": str(MAX_SIZE)}}).start()
        cls.pid = cls.d.proc.pid
        cls.spool = cls.d.conf["spool"]["dir"]

    @classmethod
    def tearDownClass(cls):
        alive = cls.d.proc.poll() is None and cls.d.proc.pid == cls.pid
        rc = cls.d.stop()
        log = cls.d.log()
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert alive and rc == 0, (alive, rc, log[-2000:])

    def setUp(self):
        self.before = set(spool_entries(self.spool))

    def tearDown(self):
        self.assertIsNone(self.d.proc.poll(), "daemon died")

    # ---- helpers ----

    def session(self, ehlo=True):
        r = Raw(self.d.port)
        self.assertEqual(r.greeting[0], 220)
        if ehlo:
            self.assertEqual(r.cmd("EHLO hostile.example")[0], 250)
        return r

    def expect(self, reply, code, enhanced, what=""):
        got, text = reply
        self.assertEqual(got, code, (what, text))
        if enhanced:
            # The enhanced status code opens the text of the last line (RFC 2034).
            last = text.split("\n")[-1]
            self.assertRegex(last, r"^%d %s " % (code, re.escape(enhanced)), (what, text))

    def new_entries(self):
        return set(spool_entries(self.spool)) - self.before

    def in_tx(self, r):
        self.expect(r.cmd("MAIL FROM:<>"), 250, "2.1.0")
        self.expect(r.cmd("RCPT TO:<a@%s>" % OURS), 250, "2.1.5")
        self.expect(r.cmd("DATA"), 354, "")

    def still_serves(self, r):
        """The same session takes a clean message afterwards."""
        self.expect(r.cmd("RSET"), 250, "2.0.0")
        self.in_tx(r)
        r.send(b"Subject: clean\r\n\r\nclean\r\n.\r\n")
        code, text = r.reply()
        self.expect((code, text), 250, "2.0.0")
        return re.search(r"queued as (\w{16})", text).group(1)

    def rss_kb(self):
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    # ---- lines ----

    def test_overlong_command_line(self):
        r = self.session()
        self.expect(r.cmd(b"NOOP " + b"x" * 505), 250, "2.0.0", "510 octets + CRLF = 512")
        self.expect(r.cmd(b"NOOP " + b"x" * 506), 500, "5.5.2", "513 octets")
        self.expect(r.cmd(b"MAIL FROM:<" + b"a" * 2000 + b"@x.example>"), 500, "5.5.2")
        self.expect(r.cmd("NOOP"), 250, "2.0.0")
        r.cmd("QUIT")

    def test_overlong_data_line(self):
        r = self.session()
        self.in_tx(r)
        # 64 KiB is the shipped max_data_line; a longer line fails the message, not the session.
        r.send(b"Subject: long\r\n\r\n" + b"z" * 70000 + b"\r\n.\r\n")
        self.expect(r.reply(), 554, "5.6.0")
        self.assertEqual(self.new_entries(), set())
        self.still_serves(r)
        r.cmd("QUIT")

    def test_nul_in_command(self):
        r = self.session()
        for line in (b"NO\0OP", b"MAIL FROM:<a\0@x.example>", b"\0", b"EHLO a\0b"):
            self.expect(r.cmd(line), 500, "5.5.2", line)
        self.expect(r.cmd("NOOP"), 250, "2.0.0")
        r.cmd("QUIT")

    def test_nul_in_data_is_data(self):
        r = self.session()
        self.in_tx(r)
        r.send(b"Subject: nul\r\n\r\na\0b\r\n\0\r\n.\r\n")
        code, text = r.reply()
        self.expect((code, text), 250, "2.0.0")
        (qid,) = self.new_entries()
        _, body = read_spool(self.spool, qid)
        self.assertEqual(strip_received(body), b"Subject: nul\r\n\r\na\0b\r\n\0\r\n")
        r.cmd("QUIT")

    def test_bare_cr_and_lf_in_commands(self):
        r = self.session()
        for line in (b"NOOP\nNOOP", b"NOOP\rNOOP", b"MAIL FROM:<>\nRCPT TO:<a@%s>" % OURS.encode(),
                     b"\nNOOP", b"NOOP\r"):
            self.expect(r.cmd(line), 500, "5.5.2", line)
        # None of the hidden commands ran: no transaction is open.
        self.expect(r.cmd("RCPT TO:<a@%s>" % OURS), 503, "5.5.1")
        r.cmd("QUIT")

    def test_bare_cr_and_lf_in_data(self):
        for body in (b"a\nb\r\n", b"a\rb\r\n", b"a\n\r\n", b"\r\r\n"):
            r = self.session()
            self.in_tx(r)
            r.send(b"Subject: bare\r\n\r\n" + body + b".\r\n")
            self.expect(r.reply(), 554, "5.6.0", body)
            self.assertEqual(self.new_entries(), set(), body)
            self.still_serves(r)
            self.before = set(spool_entries(self.spool))
            r.cmd("QUIT")

    def test_smuggling_never_ends_the_message(self):
        for shape in (b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n"):
            r = self.session()
            self.in_tx(r)
            r.send(b"Subject: smuggle\r\n\r\nbody" + shape +
                   b"MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@%s>\r\nDATA\r\n"
                   b"Subject: smuggled\r\n\r\nsmuggled\r\n.\r\n" % OURS.encode())
            self.expect(r.reply(), 554, "5.6.0", shape)
            # Exactly one reply for the whole message: the hidden commands were data.
            self.expect(r.cmd("NOOP"), 250, "2.0.0", shape)
            self.assertEqual(self.new_entries(), set(), shape)
            r.cmd("QUIT")
        self.assertNotIn("evil@attacker.example", self.d.log())

    # ---- order and TLS ----

    def test_rcpt_before_mail_and_data_before_rcpt(self):
        r = self.session()
        self.expect(r.cmd("RCPT TO:<a@%s>" % OURS), 503, "5.5.1")
        self.expect(r.cmd("DATA"), 503, "5.5.1")
        self.expect(r.cmd("MAIL FROM:<>"), 250, "2.1.0")
        self.expect(r.cmd("DATA"), 503, "5.5.1")
        # A pipelining client that sends the body anyway: every line is a refused
        # command, the dot included; nothing is stored.
        r.send(b"DATA\r\nSubject: x\r\n\r\nMAIL FROM:<>\r\n.\r\n")
        self.expect(r.reply(), 503, "5.5.1")
        self.expect(r.reply(), 500, "5.5.2")     # Subject: x
        self.expect(r.reply(), 500, "5.5.2")     # empty line
        self.expect(r.reply(), 503, "5.5.1")     # nested MAIL
        self.expect(r.reply(), 500, "5.5.2")     # .
        self.assertEqual(self.new_entries(), set())
        self.still_serves(r)
        r.cmd("QUIT")

    def test_commands_pipelined_after_starttls_are_discarded(self):
        r = self.session()
        r.send(b"STARTTLS\r\nMAIL FROM:<>\r\nRCPT TO:<a@%s>\r\nDATA\r\n"
               b"Subject: injected\r\n\r\ninjected\r\n.\r\n" % OURS.encode())
        self.expect(r.reply(), 220, "2.0.0")
        r.starttls()
        # Nothing injected ran, before or after the handshake.
        self.expect(r.cmd("MAIL FROM:<>"), 503, "5.5.1")
        self.expect(r.cmd("EHLO again.example"), 250, "")
        self.expect(r.cmd("RCPT TO:<a@%s>" % OURS), 503, "5.5.1")
        # STARTTLS twice: refused, session intact, still encrypted.
        self.expect(r.cmd("STARTTLS"), 554, "5.5.1")
        self.assertEqual(self.new_entries(), set())
        qid = self.still_serves(r)
        env, _ = read_spool(self.spool, qid)
        self.assertTrue(env["Tls"].startswith("TLSv1."), env)
        r.cmd("QUIT")
        time.sleep(0.1)
        self.assertIn("event=starttls-injection", self.d.log())

    # ---- recipients ----

    def test_10000_rcpts(self):
        r = self.session()
        r.sock.settimeout(30)
        self.expect(r.cmd("MAIL FROM:<>"), 250, "2.1.0")
        codes = []
        for batch in range(20):                   # pipelined, 500 at a time
            r.send(b"".join(b"RCPT TO:<r%d@%s>\r\n" % (batch * 500 + i, OURS.encode())
                            for i in range(500)))
            for i in range(500):
                code, text = r.reply()
                codes.append(code)
                if code == 452:
                    self.assertTrue(text.startswith("452 4.5.3 "), text)
        self.assertEqual(codes[:100], [250] * 100)   # shipped max_recipients
        self.assertEqual(codes[100:], [452] * 9900)
        r.send(b"DATA\r\n")
        self.expect(r.reply(), 354, "")
        r.send(b"Subject: many\r\n\r\nx\r\n.\r\n")
        code, text = r.reply()
        self.expect((code, text), 250, "2.0.0")
        env, _ = read_spool(self.spool, re.search(r"queued as (\w{16})", text).group(1))
        self.assertEqual(env["Rcpt"], ["r%d@%s" % (i, OURS) for i in range(100)])
        self.expect(r.cmd("NOOP"), 250, "2.0.0")
        r.cmd("QUIT")
        self.assertLess(self.rss_kb(), 64 * 1024)

    def test_hostile_addresses(self):
        r = self.session()
        mail_cases = [
            ("MAIL FROM:<;sleep 66;>", 501, "5.1.7"),                  # CVE-2020-7247
            ("MAIL FROM:<;sleep 66;@x.example>", 501, "5.1.7"),
            ("MAIL FROM:<a@b.example;sleep 66;>", 501, "5.1.7"),
            ("MAIL FROM:<a@b.example", 501, "5.1.7"),                 # unbalanced
            ("MAIL FROM:a@b.example>", 501, "5.5.4"),
            ("MAIL FROM:<<a@b.example>>", 501, "5.1.7"),
            ("MAIL FROM:<a@[127.0.0.1>", 501, "5.1.7"),
            ("MAIL FROM:<\"unterminated@b.example>", 501, "5.1.7"),
            ("MAIL FROM:<\"a\x01b\"@b.example>", 501, "5.1.7"),       # control char in quotes
            ("MAIL FROM:<@a.example,@b.example>", 501, "5.1.7"),      # route and no mailbox
            ("MAIL FROM:<@a.example;@b.example:u@c.example>", 501, "5.1.7"),
            ("MAIL FROM:<\u00fcser@b.example>".encode(), 553, "5.6.7"),  # 8-bit, no SMTPUTF8
            ("MAIL FROM:<u@b\u00e9.example>".encode(), 553, "5.6.7"),
            (b"MAIL FROM:<\xfcser@b.example> SMTPUTF8", 501, "5.1.7"),  # not UTF-8 at all
        ]
        for line, code, enh in mail_cases:
            self.expect(r.cmd(line), code, enh, line)
        # Accepted shapes: source route (ignored), quoted local parts with specials.
        for addr, stored in [("<@a.example,@b.example:u@c.example>", "u@c.example"),
                             ('<"a b;c|d`e$(f)"@c.example>', '"a b;c|d`e$(f)"@c.example'),
                             ('<";sleep 66;"@c.example>', '";sleep 66;"@c.example'),
                             ('<"\\"\\\\"@c.example>', '"\\"\\\\"@c.example')]:
            t0 = time.time()
            self.expect(r.cmd("MAIL FROM:" + addr), 250, "2.1.0", addr)
            self.assertLess(time.time() - t0, 2)
            self.expect(r.cmd("RCPT TO:<a@%s>" % OURS), 250, "2.1.5")
            self.expect(r.cmd("DATA"), 354, "")
            r.send(b"Subject: a\r\n\r\nb\r\n.\r\n")
            code, text = r.reply()
            self.expect((code, text), 250, "2.0.0", addr)
            env, _ = read_spool(self.spool, re.search(r"queued as (\w{16})", text).group(1))
            self.assertEqual(env["Mail-From"], stored)
        r.cmd("QUIT")
        r = self.session()      # a fresh error budget ([smtp] max_bad_commands)
        self.expect(r.cmd("MAIL FROM:<>"), 250, "2.1.0")
        rcpt_cases = [
            ("RCPT TO:<a@%s" % OURS, 501, "5.1.3"),
            ("RCPT TO:<<a@%s>>" % OURS, 501, "5.1.3"),
            ("RCPT TO:<\u00e4@%s>" % OURS, 553, "5.6.7"),
            ('RCPT TO:<"a@b"@%s' % OURS, 501, "5.1.3"),
            ("RCPT TO:<;sleep 66;>", 501, "5.1.3"),
            ("RCPT TO:<>", 501, "5.1.3"),
        ]
        for line, code, enh in rcpt_cases:
            self.expect(r.cmd(line.encode()), code, enh, line)
        r.cmd("QUIT")

    def test_address_errors_count_toward_the_error_limit(self):
        # Address syntax errors must spend the [smtp] max_bad_commands budget (20 by default)
        # like any other 5xx: an endless stream of hostile MAIL commands ends with 421.
        r = self.session()
        for i in range(19):
            self.expect(r.cmd("MAIL FROM:<;sleep 66;>"), 501, "5.1.7", i)
        r.send(b"MAIL FROM:<\xfcser@b.example>\r\n")
        self.expect(r.reply(), 553, "5.6.7")
        self.expect(r.reply(), 421, "4.7.0")
        self.assertTrue(r.closed_within(2))

    def test_relay_attempts(self):
        r = self.session()
        self.expect(r.cmd("MAIL FROM:<>"), 250, "2.1.0")
        for rcpt in ["u@other.example", "u%%other.example@%s" % OURS, "u@[127.0.0.1]",
                     "u@[IPv6:::1]", '"u@other.example"@%s' % OURS, "other.example!u@%s" % OURS,
                     "u@%s.other.example" % OURS, "@%s:u@other.example" % OURS,
                     "@%s,@x.example:u@[127.0.0.1]" % OURS]:
            self.expect(r.cmd("RCPT TO:<%s>" % rcpt), 550, "5.7.1", rcpt)
        # A source route ending in our domain is ignored: delivered here, never relayed.
        self.expect(r.cmd("RCPT TO:<@other.example:user@%s>" % OURS), 250, "2.1.5")
        self.expect(r.cmd("DATA"), 354, "")
        r.send(b"Subject: routed\r\n\r\nx\r\n.\r\n")
        code, text = r.reply()
        self.expect((code, text), 250, "2.0.0")
        env, _ = read_spool(self.spool, re.search(r"queued as (\w{16})", text).group(1))
        self.assertEqual(env["Rcpt"], ["user@%s" % OURS])
        r.cmd("QUIT")

    # ---- size ----

    def test_size_lie_read_to_end_then_552(self):
        r = self.session()
        self.expect(r.cmd("MAIL FROM:<> SIZE=100"), 250, "2.1.0")
        self.expect(r.cmd("RCPT TO:<a@%s>" % OURS), 250, "2.1.5")
        self.expect(r.cmd("DATA"), 354, "")
        line = b"y" * 998 + b"\r\n"
        # 1 MB (16 times the limit) and, inside it, what looks like commands.
        r.send(b"Subject: lie\r\n\r\n" + line * 500 + b"RSET\r\nQUIT\r\n" + line * 500 + b".\r\n")
        self.expect(r.reply(), 552, "5.3.4")
        self.assertEqual(self.new_entries(), set())
        self.expect(r.cmd("NOOP"), 250, "2.0.0")   # read to the end: no stray replies
        self.still_serves(r)
        r.cmd("QUIT")

    def test_declared_size_over_limit(self):
        r = self.session()
        self.expect(r.cmd("MAIL FROM:<> SIZE=%d" % (MAX_SIZE + 1)), 552, "5.3.4")
        # 2^64 + 1 must not wrap around to 1: it saturates and is still too big.
        self.expect(r.cmd("MAIL FROM:<> SIZE=18446744073709551617"), 552, "5.3.4")
        self.expect(r.cmd("MAIL FROM:<> SIZE=99999999999999999999999"), 501, "5.5.4")  # > 20 digits
        self.expect(r.cmd("MAIL FROM:<> SIZE=-1"), 501, "5.5.4")
        self.expect(r.cmd("MAIL FROM:<> SIZE=%d" % MAX_SIZE), 250, "2.1.0")
        r.cmd("QUIT")

    def test_message_larger_than_limit(self):
        r = self.session()
        self.in_tx(r)
        r.send(b"Subject: big\r\n\r\n" + (b"b" * 78 + b"\r\n") * (MAX_SIZE // 80 + 1) + b".\r\n")
        self.expect(r.reply(), 552, "5.3.4")
        self.assertEqual(self.new_entries(), set())
        # Just under the limit (our Received: header does not count) is fine.
        self.in_tx(r)
        r.send(b"S: x\r\n\r\n" + b"c" * (MAX_SIZE - 14) + b"\r\n.\r\n")
        self.expect(r.reply(), 250, "2.0.0")
        r.cmd("QUIT")


if __name__ == "__main__":
    harness.run()
