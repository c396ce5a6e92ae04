#!/usr/bin/env python3
"""STARTTLS and implicit TLS end to end: smtplib, openssl s_client, the
CVE-2011-0411 injection, state reset, certificate reload on SIGHUP."""
import os, re, signal, smtplib, socket, ssl, subprocess, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from smtp_helpers import Raw, read_spool


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="rebound-tls-")
        cls.cert, cls.key = harness.make_cert(cls.tmp)
        cls.tls_port = harness.free_port()
        cls.d = harness.Daemon({"smtp": {"tls_cert": cls.cert, "tls_key": cls.key,
                                         "listen_tls": "127.0.0.1:%d" % cls.tls_port}}).start()
        cls.spool = cls.d.conf["spool"]["dir"]

    @classmethod
    def tearDownClass(cls):
        import shutil
        try:
            cls.d.finish()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_smtplib_starttls_and_spool_records_tls(self):
        with smtplib.SMTP("127.0.0.1", self.d.port) as c:
            c.ehlo("tls.example")
            self.assertTrue(c.has_extn("starttls"))
            code, _ = c.starttls(context=client_ctx())
            self.assertEqual(code, 220)
            c.ehlo("tls.example")
            self.assertFalse(c.has_extn("starttls"))     # not offered once secure
            self.assertEqual(c.docmd("STARTTLS")[0], 554)  # second STARTTLS
            c.mail("<>")
            c.rcpt("b@bounces.example.com")
            code, msg = c.data(b"Subject: over tls\r\n\r\nhi\r\n")
            self.assertEqual(code, 250)
            qid = re.search(rb"queued as (\w+)", msg).group(1).decode()
            version = c.sock.version()
            cipher = c.sock.cipher()[0]
        env, body = read_spool(self.spool, qid)
        self.assertEqual(env["Tls"], "%s %s" % (version, cipher))
        self.assertIn(b"with ESMTPS id " + qid.encode(), body)
        self.assertIn(("(%s %s)" % (version, cipher)).encode(), body)
        self.assertRegex(self.d.log(), r"q=%s event=accepted .* tls=\"TLSv1\.[23] " % qid)

    def test_openssl_s_client(self):
        for proto in ("-tls1_2", "-tls1_3"):
            p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                                "127.0.0.1:%d" % self.d.port, proto, "-brief", "-ign_eof"],
                               input=b"EHLO sclient.example\r\nQUIT\r\n", stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20)
            out = p.stdout.decode("utf-8", "replace")
            self.assertIn("Protocol version: TLSv1.%s" % proto[-1], out)
            self.assertIn("250 ENHANCEDSTATUSCODES", out)
            self.assertNotIn("STARTTLS\r\n250", out)
            self.assertIn("221 2.0.0", out)

    def test_starttls_syntax(self):
        r = Raw(self.d.port)
        self.assertEqual(r.cmd("STARTTLS")[0], 503)          # EHLO first
        r.cmd("EHLO x.example")
        self.assertEqual(r.cmd("STARTTLS now")[0], 501)
        r.cmd("QUIT")

    def test_starttls_injection_discarded(self):
        r = Raw(self.d.port)
        r.cmd("EHLO x.example")
        # CVE-2011-0411: plaintext after STARTTLS in the same packet.
        r.send(b"STARTTLS\r\nEHLO injected.example\r\nMAIL FROM:<>\r\n")
        code, _ = r.reply()
        self.assertEqual(code, 220)
        r.starttls()
        # Had the injected commands run, the session would have a HELO and a sender.
        code, text = r.cmd("RCPT TO:<a@bounces.example.com>")
        self.assertEqual(code, 503, text)
        code, text = r.cmd("MAIL FROM:<>")
        self.assertEqual(code, 503, text)                    # state was reset: EHLO first
        self.assertIn("EHLO", text)
        self.assertEqual(r.cmd("EHLO again.example")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<>")[0], 250)
        r.cmd("QUIT")
        time.sleep(0.2)
        self.assertIn("event=starttls-injection", self.d.log())

    def test_garbage_instead_of_client_hello(self):
        r = Raw(self.d.port)
        r.cmd("EHLO x.example")
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.send(b"GET / HTTP/1.0\r\n\r\n" + b"\x16\x03\x01\x00\x05hello" * 10)
        self.assertTrue(r.closed_within(5))
        with smtplib.SMTP("127.0.0.1", self.d.port) as c:
            self.assertEqual(c.noop()[0], 250)

    def test_implicit_tls_listener(self):
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        s = client_ctx().wrap_socket(raw, server_hostname="localhost")
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        s.sendall(b"EHLO implicit.example\r\n")
        lines = []
        while True:
            l = f.readline()
            lines.append(l)
            if l[3:4] == b" ":
                break
        self.assertNotIn(b"250-STARTTLS\r\n", lines)
        s.sendall(b"QUIT\r\n")
        self.assertTrue(f.readline().startswith(b"221"))
        s.close()

    def test_zz_certificate_reloaded_on_sighup(self):
        # Replace the files in place with a new certificate, then SIGHUP.
        newdir = os.path.join(self.tmp, "new")
        os.makedirs(newdir)
        c2, k2 = harness.make_cert(newdir, cn="reloaded.example")
        os.replace(c2, self.cert)
        os.replace(k2, self.key)
        self.d.proc.send_signal(signal.SIGHUP)
        want = ssl.PEM_cert_to_DER_cert(open(self.cert).read())
        end = time.time() + 5
        got = None
        while time.time() < end:
            with smtplib.SMTP("127.0.0.1", self.d.port) as c:
                c.starttls(context=client_ctx())
                got = c.sock.getpeercert(binary_form=True)
            if got == want:
                break
            time.sleep(0.1)
        self.assertEqual(got, want)
        self.assertIn("event=reload-tls", self.d.log())


if __name__ == "__main__":
    harness.run()
