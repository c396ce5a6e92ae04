#!/usr/bin/env python3
"""serve -n and config errors, SIGTERM with sessions in flight, the grace
period, restart with a non-empty spool, SIGHUP reload, privilege drop."""
import os, pwd, re, signal, smtplib, subprocess, sys, tempfile, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from smtp_helpers import Raw, spool_bytes, spool_entries, spool_records, read_spool


def send(port, rcpt="a@bounces.example.com", body=b"Subject: x\r\n\r\nx\r\n"):
    with smtplib.SMTP("127.0.0.1", port) as c:
        c.ehlo("life.example")
        c.mail("<>")
        c.rcpt(rcpt)
        code, msg = c.data(body)
        assert code == 250, (code, msg)
        return re.search(rb"queued as (\w+)", msg).group(1).decode()


class LifecycleTest(unittest.TestCase):
    def test_serve_n_prints_effective_config(self):
        d = harness.Daemon({"smtp": {"max_recipients": "7"}})
        try:
            p = subprocess.run([harness.REBOUND, "serve", "-c", d.conf_path, "-n"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode()
            self.assertIn("max_recipients = 7\n", out)
            self.assertIn("listen = 127.0.0.1:%d\n" % d.port, out)
            self.assertIn("bare_newlines = reject\n", out)
            # The output is itself a valid config.
            again = os.path.join(d.dir, "again.conf")
            open(again, "w").write(out)
            p2 = subprocess.run([harness.REBOUND, "serve", "-c", again, "-n"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(p2.returncode, 0, p2.stderr)
            self.assertEqual(p2.stdout.decode(), out)
        finally:
            d.cleanup()

    def test_shipped_config_checks(self):
        p = subprocess.run([harness.REBOUND, "serve", "-c",
                            os.path.join(harness.ROOT, "conf", "rebound.conf"), "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_config_errors_have_file_and_line(self):
        d = harness.Daemon({})
        try:
            for sec, key, val, msg in [("smtp", "listne", "x", "unknown key"),
                                       ("smtp", "max_recipients", "0", "out of range"),
                                       ("smtp", "listen", "127.0.0.1", "not addr:port"),
                                       ("smtp", "bare_newlines", "maybe", "not one of")]:
                d.conf = {"smtp": {"hostname": "h"}, "spool": {"dir": "/tmp/x"}}
                d.conf[sec][key] = val
                d.write_conf()
                p = subprocess.run([harness.REBOUND, "serve", "-c", d.conf_path],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 1, err)
                self.assertIn("%s:3:" % d.conf_path, err)
                self.assertIn(msg, err)
        finally:
            d.cleanup()

    def test_sigterm_lets_transactions_finish(self):
        d = harness.Daemon({"smtp": {"shutdown_grace": "10"}}).start()
        try:
            idle = Raw(d.port)
            idle.cmd("EHLO idle.example")
            busy = Raw(d.port)
            busy.envelope("busy.example")
            self.assertEqual(busy.cmd("DATA")[0], 354)
            busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
            time.sleep(0.2)
            d.proc.send_signal(signal.SIGTERM)
            code, text = idle.reply()
            self.assertEqual(code, 421)
            self.assertIn("4.3.2", text)
            self.assertTrue(idle.closed_within(2))
            # No new sessions once stopping.
            time.sleep(0.2)
            with self.assertRaises(OSError):
                Raw(d.port, timeout=1)
            busy.send(b"second half\r\n.\r\n")
            code, text = busy.reply()
            self.assertEqual(code, 250)
            qid = re.search(r"queued as (\w+)", text).group(1)
            self.assertEqual(busy.reply()[0], 421)
            self.assertEqual(d.proc.wait(10), 0)
            _, body = read_spool(d.conf["spool"]["dir"], qid)
            self.assertTrue(body.endswith(b"first half\r\nsecond half\r\n"))
        finally:
            d.stop()
            d.cleanup()

    def test_sigterm_grace_expires(self):
        d = harness.Daemon({"smtp": {"shutdown_grace": "1"}}).start()
        try:
            r = Raw(d.port)
            r.envelope("slow.example")
            r.cmd("DATA")
            r.send(b"Subject: never ends\r\n\r\n")
            t0 = time.time()
            d.proc.send_signal(signal.SIGTERM)
            self.assertEqual(d.proc.wait(10), 0)
            self.assertLess(time.time() - t0, 5)
            self.assertEqual(r.reply()[0], 421)
            self.assertEqual(spool_entries(d.conf["spool"]["dir"]), [])
        finally:
            d.stop()
            d.cleanup()

    def test_restart_with_non_empty_spool(self):
        d = harness.Daemon({}).start()
        spool = d.conf["spool"]["dir"]
        try:
            ids = [send(d.port, body=b"Subject: %d\r\n\r\nkept\r\n" % i) for i in range(3)]
            self.assertEqual(d.stop(), 0)
            before = spool_bytes(spool)
            self.assertEqual(sorted(before), sorted(ids))
            # A write that was never acknowledged (crash before the rename).
            with open(os.path.join(spool, "tmp", "0000000000000000"), "wb") as f:
                f.write(b"Rebound-Spool: 1\npartial")
            d.start()
            log = d.log()
            self.assertIn("spool event=open dir=%s waiting=3" % spool, log)
            self.assertIn("event=discard-partial file=tmp/0000000000000000", log)
            self.assertEqual(os.listdir(os.path.join(spool, "tmp")), [])
            self.assertEqual(spool_bytes(spool), before)
            new = send(d.port)
            self.assertGreater(new, max(ids))
            self.assertEqual(spool_entries(spool), sorted(ids + [new]))
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_sighup_reloads_limits(self):
        d = harness.Daemon({"smtp": {"max_recipients": "1"}}).start()
        try:
            r = Raw(d.port)
            r.envelope("hup.example")
            self.assertEqual(r.cmd("RCPT TO:<b@bounces.example.com>")[0], 452)
            d.conf["smtp"]["max_recipients"] = "5"
            d.conf["smtp"]["domains"] = "bounces.example.com;new.example.com"
            d.write_conf()
            d.proc.send_signal(signal.SIGHUP)
            end = time.time() + 5
            while "serve event=reloaded" not in d.log() and time.time() < end:
                time.sleep(0.05)
            self.assertEqual(r.cmd("RCPT TO:<b@bounces.example.com>")[0], 250)
            self.assertEqual(r.cmd("RCPT TO:<c@new.example.com>")[0], 250)
            # A broken file is refused and the running config kept.
            with open(d.conf_path, "a") as f:
                f.write("bogus_key = 1\n")
            d.proc.send_signal(signal.SIGHUP)
            end = time.time() + 5
            while "event=reload-failed" not in d.log() and time.time() < end:
                time.sleep(0.05)
            self.assertIn("event=reload-failed", d.log())
            self.assertEqual(r.cmd("RCPT TO:<d@new.example.com>")[0], 250)
            r.cmd("QUIT")
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_privileges_dropped_after_bind(self):
        user = "nobody"
        pw = pwd.getpwnam(user)
        d = harness.Daemon({"smtp": {"user": user}})
        os.chmod(d.dir, 0o755)
        d.start()
        try:
            with open("/proc/%d/status" % d.proc.pid) as f:
                status = f.read()
            uid = re.search(r"Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status).groups()
            if os.geteuid() == 0:
                self.assertEqual(set(uid), {str(pw.pw_uid)})
                self.assertEqual(os.stat(d.conf["spool"]["dir"]).st_uid, pw.pw_uid)
                self.assertIn("event=privileges-dropped user=nobody", d.log())
            else:
                # Not root: "user" has nothing to drop and the daemon keeps our uid.
                self.assertEqual(set(uid), {str(os.geteuid())})
            qid = send(d.port)
            self.assertEqual(os.stat(spool_records(d.conf["spool"]["dir"])[qid][1]).st_uid,
                             os.geteuid() if os.geteuid() != 0 else pw.pw_uid)
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_refuses_root_without_user(self):
        # Issue 14: with [smtp] user commented out it ran as root silently.
        d = harness.Daemon({})
        try:
            if os.geteuid() == 0:
                p = subprocess.run([harness.REBOUND, "serve", "-c", d.conf_path],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 1, err)
                self.assertIn("refusing to run as root", err)
                self.assertIn("[smtp] user", err)
                self.assertIn("--allow-root", err)
                d.start(extra_args=["--allow-root"])
                self.assertIn("event=running-as-root", d.log())
            else:
                # Not root: nothing to refuse.
                d.start()
                self.assertNotIn("running-as-root", d.log())
            # serve -n only checks the file: never refused.
            p = subprocess.run([harness.REBOUND, "serve", "-c", d.conf_path, "-n"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            d.stop()
            d.cleanup()


if __name__ == "__main__":
    harness.run()
