"""Shared pieces of Rebound's end-to-end tests.

- run(): runs a module's unittest cases and prints TAP for tests/run.py.
- free_port(): a free TCP port on loopback.
- Pg: a throw-away PostgreSQL 15 cluster in a temp dir (unix socket only, so
  parallel runs never collide); started as the "postgres" user when root.
- Daemon: writes a config, starts build/rebound serve, waits for its port,
  stops it with SIGTERM and returns the exit status and log.  With
  VALGRIND=1 the daemon runs under valgrind (memcheck, tests/valgrind.supp)
  and an error it reports fails the stop.  store_daemon(): a Pg and a Daemon
  storing into it; finish_all(): the end of a class with several daemons.
- end_process(): signal a child, wait, SIGKILL it if it does not end.
- policy_request(): one Postfix policy delegation request and its reply.
- make_cert(): a self-signed certificate made with the openssl CLI.
- postmap(): Postfix's postmap with a private, empty main.cf, so tests never
  depend on how (or whether) the postfix package configured /etc/postfix.
"""
import os, pwd, shutil, signal, socket, subprocess, sys, tempfile, time, unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("REBOUND_BUILD", os.path.join(ROOT, "build"))
REBOUND = os.path.join(BUILD, "rebound")
# The same daemon plus the test hooks (tests/support/): for tests that make a
# parser misbehave on purpose.
REBOUND_TEST = os.path.join(BUILD, "rebound-test")
PGBIN = "/usr/lib/postgresql/15/bin"
# make check SANITIZE=1 runs the suite on build/san (ASan+UBSan); VALGRIND=1
# runs the daemon under memcheck.  Both add memory of their own: absolute RSS
# bounds in tests are multiplied by RSS_FACTOR, and their own leak reports
# check what those bounds would.
SANITIZED = os.path.basename(os.path.normpath(BUILD)) == "san"
VALGRIND = os.environ.get("VALGRIND") == "1"
INSTRUMENTED = SANITIZED or VALGRIND
RSS_FACTOR = 4 if INSTRUMENTED else 1
_POSTFIX_CONF = None


def postmap(*args, timeout=20):
    """Run postmap ARGS with its own config dir; returns the CompletedProcess."""
    global _POSTFIX_CONF
    if _POSTFIX_CONF is None:
        _POSTFIX_CONF = tempfile.mkdtemp(prefix="rebound-postfix-")
        open(os.path.join(_POSTFIX_CONF, "main.cf"), "w").close()
    return subprocess.run(["postmap", "-c", _POSTFIX_CONF, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


class _TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {test.id()}{extra}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "), flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "), flush=True)

    def addSkip(self, test, reason):
        # A skipped test is a failure here: no test may skip itself silently.
        super().addSkip(test, reason)
        self._line(False, test, f" # skipped: {reason}")


def run(module_name="__main__"):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    res = _TapResult()
    suite.run(res)
    print(f"1..{res.n}")
    sys.exit(0 if res.wasSuccessful() and not res.skipped else 1)


_ports_given = set()


def end_process(proc, sig=signal.SIGTERM, timeout=10):
    """Send sig unless proc has exited, wait up to timeout seconds, then
    SIGKILL: a process that ignores its signal cannot hang a test.  Returns
    the exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def policy_request(port, attrs):
    """One Postfix policy delegation request (attrs: name -> value, in order)
    to 127.0.0.1:port; the reply up to its empty line, as text."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("".join(f"{k}={v}\n" for k, v in attrs.items()) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode()


def free_port():
    """A loopback port free now and not handed out before by this process:
    the kernel may give a just-closed port again, and a daemon configured
    with the same port for two listeners fails to start."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _ports_given:
            _ports_given.add(p)
            return p


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


def make_cert(directory, cn="localhost"):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class PgCommandError(subprocess.CalledProcessError):
    """A PostgreSQL command failed; its message carries PostgreSQL's own words
    (an initdb that cannot reach its directory says only that otherwise)."""

    def __str__(self):
        return (super().__str__() + "\n" +
                (self.output or b"").decode(errors="replace")[-3000:])


class Pg:
    """A private PostgreSQL cluster; conninfo is a libpq string for it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rebound-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = 5432
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.conninfo = f"host={self.dir} port={self.port} dbname=rebound user=rebound"

    def _as_pg(self, argv, **kw):
        if self.user:
            argv = ["runuser", "-u", self.user, "--"] + argv
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
        if r.returncode != 0:
            raise PgCommandError(r.returncode, argv, output=r.stdout)
        return r

    def start(self):
        if not os.path.exists(self.data):
            self._as_pg([f"{PGBIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                         "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.dir}'\n"
                        "fsync = on\nsynchronous_commit = on\nmax_connections = 100\n")
            self._as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-w", "-l",
                         os.path.join(self.dir, "log"), "start"])
            self.psql("CREATE ROLE rebound LOGIN SUPERUSER", db="postgres", user="postgres")
            self.psql("CREATE DATABASE rebound OWNER rebound", db="postgres", user="postgres")
            return self
        self._as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-w", "-l",
                     os.path.join(self.dir, "log"), "start"])
        return self

    def stop(self, mode="fast"):
        self._as_pg([f"{PGBIN}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop"])

    def psql(self, sql, db="rebound", user="rebound"):
        """Run SQL; return rows as lists of strings (tab-separated output)."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port), "-U", user, "-d", db, "-c", sql],
                           check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.decode()
        return [l.split("\t") for l in out.splitlines() if l != ""]

    def poll(self, sql, want, timeout=20):
        """Run sql until its rows equal want: (True, rows), or (False, last rows)
        after timeout seconds; a failing query (schema not there yet) counts as None."""
        end = time.time() + timeout
        got = None
        while time.time() < end:
            try:
                got = self.psql(sql)
            except subprocess.CalledProcessError:
                got = None
            if got == want:
                return True, got
            time.sleep(0.1)
        return False, got

    def wait(self, test, sql, want, log, timeout=20):
        """poll(); on timeout fail test with the last rows and log() (the tail of
        the daemons' logs, read only then)."""
        ok, got = self.poll(sql, want, timeout)
        if not ok:
            test.fail(f"{sql}: got {got}, want {want}\n{log()}")

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """build/rebound serve with a config made from sections {section: {key: value}}."""

    def __init__(self, sections, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="rebound-e2e-")
        self.port = free_port()
        conf = {"smtp": {"listen": f"127.0.0.1:{self.port}", "hostname": "mx.test",
                         "domains": "bounces.example.com"},
                "spool": {"dir": os.path.join(self.dir, "spool")},
                # Lookup servers start with a store: never on fixed ports in tests.
                "lookup": {"socketmap_listen": f"127.0.0.1:{free_port()}",
                           "policy_listen": f"127.0.0.1:{free_port()}"},
                "http": {"listen": f"127.0.0.1:{free_port()}"}}
        for sec, kv in sections.items():
            conf.setdefault(sec, {}).update(kv)
        self.conf = conf
        self.conf_path = os.path.join(self.dir, "rebound.conf")
        self.log_path = os.path.join(self.dir, "rebound.log")
        self.proc = None
        self.write_conf()

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            for sec, kv in self.conf.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")

    def start(self, wait=True, extra_args=(), env=None, exe=None, preexec_fn=None):
        started = self.log().count("serve event=started") if os.path.exists(self.log_path) else 0
        self.logf = open(self.log_path, "ab")
        argv = [exe or REBOUND, "serve", "-c", self.conf_path] + list(extra_args)
        # As root (CI) without [smtp] user, serve refuses to start unless told.
        if os.geteuid() == 0 and not self.conf.get("smtp", {}).get("user") \
                and "--allow-root" not in argv:
            argv.append("--allow-root")
        if os.environ.get("VALGRIND") == "1":
            # Parser workers are exec'd natively (no --trace-children): the
            # daemon itself is what is checked, so it is started as
            # rebound-all, not through rebound's exec of it, which valgrind
            # would not follow.  Its errors and definite leaks make it exit
            # 99, which stop() turns into a failure.
            if exe is None:
                argv[0] = REBOUND + "-all"
            argv = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                    "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                    "--suppressions=" + os.path.join(ROOT, "tests", "valgrind.supp"),
                    "--num-callers=30", "-q"] + argv
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, cwd=ROOT,
                                     env=env, preexec_fn=preexec_fn)
        if wait:
            limit = 30 if VALGRIND else 10
            wait_port(self.port, proc=self.proc, timeout=limit)
            # The port answers before the spool, store and lookups are up
            # (binding comes first, then privileges are dropped): ready means
            # this start's "serve event=started".
            end = time.time() + limit
            quiet = self.conf.get("log", {}).get("level") == "warn"  # benches: no info lines
            while not quiet and self.log().count("serve event=started") <= started:
                if self.proc.poll() is not None or time.time() > end:
                    raise RuntimeError("daemon not started:\n" + self.log()[-2000:])
                time.sleep(0.02)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        rc = end_process(self.proc, sig, timeout)
        self.logf.close()
        self.proc = None
        if rc == 99 and os.environ.get("VALGRIND") == "1":
            raise AssertionError("valgrind reported errors in the daemon:\n" + self.log()[-6000:])
        return rc

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def migrate(self):
        """rebound migrate on this daemon's [store]: the schema before serve."""
        subprocess.run([REBOUND, "migrate", "-c", self.conf_path], check=True,
                       stdout=subprocess.DEVNULL)
        return self

    def cleanup(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self, pg=None):
        """End of a test class: SIGTERM, clean up (and destroy pg), and fail
        unless the daemon exited 0 (a sanitizer or valgrind report does not)."""
        rc = self.stop()
        log = self.log()
        self.cleanup()
        if pg is not None:
            pg.destroy()
        if rc != 0:
            raise AssertionError(f"daemon exit {rc}\n{log[-3000:]}")


def store_daemon(sections=None):
    """A fresh Pg and a Daemon (not started) whose [store] conninfo is that
    database, the other keys from sections; returns (pg, daemon)."""
    pg = Pg().start()
    sections = dict(sections or {})
    sections["store"] = dict(sections.get("store", {}), conninfo=pg.conninfo)
    return pg, Daemon(sections)


def finish_all(daemons, pg=None):
    """End of a test class with several daemons ({name: Daemon}): each is
    stopped and cleaned up whatever the others did, pg destroyed, and the
    class fails unless every daemon exited 0."""
    errors = []
    for name, d in daemons.items():
        rc = d.stop()
        if rc != 0:
            errors.append(f"{name} daemon exit {rc}\n{d.log()[-3000:]}")
        d.cleanup()
    if pg is not None:
        pg.destroy()
    if errors:
        raise AssertionError("\n".join(errors))
