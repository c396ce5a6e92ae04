#!/usr/bin/env python3
"""The TLS key reader: started as root with [smtp] user, serve keeps a root
helper that reads the start-up certificate and key for SIGHUP, so a renewed
root-only key (mode 0600, in a directory [smtp] user cannot enter) is served
without a restart; a reload naming other paths does not make it read them."""
import os, pwd, re, shutil, signal, smtplib, ssl, subprocess, sys, tempfile, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

USER = "nobody"


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def served_cert(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.starttls(context=client_ctx())
        return c.sock.getpeercert(binary_form=True)


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def root_only_pair(directory, name, cn):
    """A new pair written next to directory/NAME.{crt,key}, mode 0600, then
    renamed over them: what certbot's renewal looks like to the daemon."""
    tmp = tempfile.mkdtemp(dir=directory)
    cert, key = harness.make_cert(tmp, cn=cn)
    for p in (cert, key):
        os.chown(p, 0, 0)
        os.chmod(p, 0o600)
    dst = (os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key"))
    os.replace(cert, dst[0])
    os.replace(key, dst[1])
    os.rmdir(tmp)
    return dst


def chained_pair(directory, name):
    """Like root_only_pair, the certificate file being the leaf then the CA
    that signed it; returns the leaf's DER."""
    tmp = tempfile.mkdtemp(dir=directory)
    f = lambda n: os.path.join(tmp, n)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (["openssl", "req", "-x509"] + ec + ["-days", "2", "-subj", "/CN=Test CA",
                  "-keyout", f("ca.key"), "-out", f("ca.crt")],
                 ["openssl", "req"] + ec + ["-subj", "/CN=chained.example",
                  "-keyout", f("leaf.key"), "-out", f("leaf.csr")],
                 ["openssl", "x509", "-req", "-in", f("leaf.csr"), "-CA", f("ca.crt"),
                  "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-out", f("leaf.crt")]):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f("chain.crt"), "w") as out:
        out.write(open(f("leaf.crt")).read() + open(f("ca.crt")).read())
    for p in (f("chain.crt"), f("leaf.key")):
        os.chmod(p, 0o600)
    leaf = der(f("leaf.crt"))
    os.replace(f("chain.crt"), os.path.join(directory, name + ".crt"))
    os.replace(f("leaf.key"), os.path.join(directory, name + ".key"))
    shutil.rmtree(tmp)
    return leaf


def served_chain_length(port):
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-starttls", "smtp", "-showcerts"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20)
    return p.stdout.count(b"-----BEGIN CERTIFICATE-----")


def children(pid):
    """(pid, comm, real uid) of pid's live child processes."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d) as f:
                st = f.read()
        except OSError:
            continue
        if re.search(r"^PPid:\s+%d$" % pid, st, re.M) and not re.search(r"^State:\s+Z", st, re.M):
            out.append((int(d), re.search(r"^Name:\s+(.*)$", st, re.M).group(1),
                        int(re.search(r"^Uid:\s+(\d+)", st, re.M).group(1))))
    return out


def alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return not re.search(r"^State:\s+Z", f.read(), re.M)
    except FileNotFoundError:
        return False


def wait_for(pred, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@unittest.skipUnless(os.geteuid() == 0, "privilege separation needs root")
class KeyReaderTest(unittest.TestCase):
    def setUp(self):
        self.pw = pwd.getpwnam(USER)
        self.tls = tempfile.mkdtemp(prefix="rebound-tlskeys-")
        os.chmod(self.tls, 0o700)          # [smtp] user cannot even look inside
        self.cert, self.key = root_only_pair(self.tls, "mx", "first.example")
        # The premise: the unprivileged user cannot read the key itself.
        p = subprocess.run(["runuser", "-u", USER, "--", "cat", self.key],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertNotEqual(p.returncode, 0, "%s can read the key: the test proves nothing" % USER)
        self.d = harness.Daemon({"smtp": {"user": USER, "tls_cert": self.cert,
                                          "tls_key": self.key}})
        os.chmod(self.d.dir, 0o755)        # the spool inside must be reachable by USER
        self.d.start()

    def tearDown(self):
        self.d.cleanup()
        shutil.rmtree(self.tls, ignore_errors=True)

    def helper(self):
        kids = [k for k in children(self.d.proc.pid) if k[1] == "rebound-tlskeys"]
        self.assertEqual(len(kids), 1, children(self.d.proc.pid))
        return kids[0]

    def reloaded(self, before):
        wait_for(lambda: self.d.log().count("event=reload-tls ") > before
                 or "event=reload-tls-failed" in self.d.log(), "the reload-tls line")
        self.assertNotIn("event=reload-tls-failed", self.d.log())

    def test_renewed_root_only_key_reloads_and_new_paths_need_restart(self):
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            self.assertRegex(f.read(), r"Uid:\s+%d\s+%d\s+%d" % ((self.pw.pw_uid,) * 3))
        hpid, _, huid = self.helper()
        self.assertEqual(huid, 0)
        # Only the socket to the daemon (3) besides /dev/null on 0-2: no
        # listener, no log file, no spool.
        fds = {int(n): os.readlink("/proc/%d/fd/%s" % (hpid, n))
               for n in os.listdir("/proc/%d/fd" % hpid)}
        if harness.VALGRIND:
            # Valgrind keeps its own descriptors above the limit it shows
            # the program (which cannot see or close them).
            fds = {n: t for n, t in fds.items() if n < 1024}
        self.assertEqual(sorted(fds), [0, 1, 2, 3], fds)
        self.assertEqual({fds[0], fds[1], fds[2]}, {"/dev/null"})
        self.assertTrue(fds[3].startswith("socket:"), fds)
        self.assertIn("serve event=tls-key-reader", self.d.log())
        self.assertNotIn("tls-unreadable", self.d.log())
        self.assertEqual(served_cert(self.d.port), der(self.cert))

        # Signals sent to the process group must not take the helper down.
        os.kill(hpid, signal.SIGHUP)
        os.kill(hpid, signal.SIGTERM)
        os.kill(hpid, signal.SIGINT)
        time.sleep(0.2)
        self.assertTrue(alive(hpid))

        # Renewal: a new root-only pair at the same paths, then SIGHUP.
        old = der(self.cert)
        root_only_pair(self.tls, "mx", "renewed.example")
        new = der(self.cert)
        self.assertNotEqual(old, new)
        n = self.d.log().count("event=reload-tls ")
        self.d.proc.send_signal(signal.SIGHUP)
        self.reloaded(n)
        self.assertIn("event=reload-tls cert=%s source=key-reader" % self.cert, self.d.log())
        self.assertEqual(served_cert(self.d.port), new)

        # A reload naming other files, readable by anyone: the helper still
        # reads only the start paths, and the daemon does not open the new ones.
        other = tempfile.mkdtemp(prefix="rebound-tlsother-")
        try:
            os.chmod(other, 0o755)
            c3, k3 = harness.make_cert(other, cn="elsewhere.example")
            os.chmod(c3, 0o644)
            os.chmod(k3, 0o644)
            self.d.conf["smtp"]["tls_cert"] = c3
            self.d.conf["smtp"]["tls_key"] = k3
            self.d.write_conf()
            n = self.d.log().count("event=reload-tls ")
            self.d.proc.send_signal(signal.SIGHUP)
            self.reloaded(n)
            self.assertRegex(self.d.log(), r"event=reload note=\"tls_cert and tls_key path "
                             r"changes need a restart\" cert=%s key=%s" % (re.escape(self.cert),
                                                                           re.escape(self.key)))
            got = served_cert(self.d.port)
            self.assertEqual(got, new)
            self.assertNotEqual(got, der(c3))
        finally:
            shutil.rmtree(other, ignore_errors=True)

        # The daemon's exit closes the socket: the helper is gone with it.
        self.assertEqual(self.d.stop(), 0)
        wait_for(lambda: not alive(hpid), "the helper to exit", timeout=5)
        self.assertNotIn("reload-tls-failed", self.d.log())

    def test_helper_exits_when_the_daemon_is_killed(self):
        hpid, _, _ = self.helper()
        self.d.stop(signal.SIGKILL)
        wait_for(lambda: not alive(hpid), "the helper to see EOF and exit", timeout=5)

    def test_unreadable_renewal_keeps_the_old_certificate(self):
        # The helper's read fails (the key is gone): one log line, old context kept.
        old = der(self.cert)
        os.unlink(self.key)
        self.d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "event=reload-tls-failed" in self.d.log(), "reload-tls-failed")
        self.assertRegex(self.d.log(), r"event=reload-tls-failed error=\"%s: No such file"
                         % re.escape(self.key))
        self.assertEqual(served_cert(self.d.port), old)
        self.assertEqual(served_chain_length(self.d.port), 1)
        # The exchange stayed in step: a later renewal still works, and the
        # certificate file's chain (leaf, then its CA) is served whole.
        leaf = chained_pair(self.tls, "mx")
        n = self.d.log().count("event=reload-tls ")
        self.d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.d.log().count("event=reload-tls ") > n, "the reload-tls line")
        self.assertEqual(served_cert(self.d.port), leaf)
        self.assertEqual(served_chain_length(self.d.port), 2)
        self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    harness.run()
