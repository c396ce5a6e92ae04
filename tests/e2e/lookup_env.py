"""Shared set-up for the lookup tests (test_lookup*.py, test_cli*.py).

LookupEnv: a private PostgreSQL with the schema applied (by "rebound
migrate" when that subcommand exists, else psql -f sql/*.sql), a config
file, and "rebound lookupd" serving socketmap, policy and HTTP on free
loopback ports.
LookupTest: a test case with a LookupEnv of its own for every test (self.env).
"""
import glob, json, os, shutil, socket, subprocess, tempfile, time, unittest
import urllib.request, urllib.error

import harness

TOKEN = "s3cret-token"


def netstring(s):
    b = s.encode() if isinstance(s, str) else s
    return str(len(b)).encode() + b":" + b + b","


def read_netstring(sock):
    buf = b""
    while b":" not in buf:
        c = sock.recv(1)
        if not c:
            raise EOFError("connection closed")
        buf += c
    n = int(buf[:-1])
    data = b""
    while len(data) < n + 1:
        c = sock.recv(n + 1 - len(data))
        if not c:
            raise EOFError("connection closed")
        data += c
    assert data[-1:] == b",", data
    return data[:-1].decode()


class LookupEnv:
    def __init__(self, extra=None):
        self.pg = harness.Pg().start()
        self.dir = tempfile.mkdtemp(prefix="rebound-lookup-")
        self.sm_port = harness.free_port()
        self.pd_port = harness.free_port()
        self.http_port = harness.free_port()
        conf = {
            "log": {"level": "debug"},
            "store": {"conninfo": self.pg.conninfo},
            "tenants": {"default": "default", "acme": "acme.example;acme-mail.example"},
            "lookup": {"socketmap_listen": f"127.0.0.1:{self.sm_port}",
                       "policy_listen": f"127.0.0.1:{self.pd_port}"},
            "http": {"listen": f"127.0.0.1:{self.http_port}", "token": TOKEN},
        }
        for sec, kv in (extra or {}).items():
            conf.setdefault(sec, {}).update(kv)
        self.conf_path = os.path.join(self.dir, "rebound.conf")
        with open(self.conf_path, "w") as f:
            for sec, kv in conf.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")
        self.migrate()
        self.proc = None
        self.log_path = os.path.join(self.dir, "lookupd.log")

    def migrate(self):
        p = subprocess.run([harness.REBOUND, "migrate", "-c", self.conf_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode == 0:
            return
        if b"unknown subcommand" not in p.stdout:
            raise RuntimeError("rebound migrate failed: " + p.stdout.decode())
        for f in sorted(glob.glob(os.path.join(harness.ROOT, "sql", "*.sql"))):
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.dir,
                            "-p", str(self.pg.port), "-U", "rebound", "-d", "rebound", "-f", f],
                           check=True, stdout=subprocess.DEVNULL)

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([harness.REBOUND, "lookupd", "-c", self.conf_path],
                                     stdout=self.logf, stderr=self.logf)
        for port in (self.sm_port, self.pd_port, self.http_port):
            harness.wait_port(port, proc=self.proc)
        return self

    def stop(self):
        if self.proc is None:
            return None
        rc = harness.end_process(self.proc)
        self.logf.close()
        self.proc = None
        return rc

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def destroy(self):
        try:
            self.stop()
        finally:
            self.pg.destroy()
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers -------------------------------------------------------
    def suppress_sql(self, address, cls="hard", reason="user_unknown", tenant="default",
                     expires="NULL", origin="automatic"):
        key = address.split("@")[0].lower() + "@" + address.split("@")[1].lower()
        dom = address.split("@")[1].lower()
        self.pg.psql(
            "INSERT INTO suppressions (tenant, address, address_key, domain, class, reason,"
            " expires_at, origin) VALUES ("
            f"'{tenant}', '{address}', '{key}', '{dom}', '{cls}', '{reason}', {expires}, '{origin}')"
            " ON CONFLICT (tenant, address_key) DO UPDATE SET class = EXCLUDED.class,"
            " reason = EXCLUDED.reason, expires_at = EXCLUDED.expires_at")

    def postmap(self, key, name="suppressed"):
        p = harness.postmap("-q", key, f"socketmap:inet:127.0.0.1:{self.sm_port}:{name}")
        return p.returncode, p.stdout.decode().strip(), p.stderr.decode()

    def socketmap(self, requests):
        with socket.create_connection(("127.0.0.1", self.sm_port), timeout=5) as s:
            out = []
            for r in requests:
                s.sendall(netstring(r))
                out.append(read_netstring(s))
            return out

    def policy(self, attrs):
        return harness.policy_request(self.pd_port, attrs)

    def wait_for(self, fn, timeout=1.0):
        """Poll fn() until true; returns the seconds it took (or raises)."""
        t0 = time.time()
        while True:
            if fn():
                return time.time() - t0
            if time.time() - t0 > timeout:
                raise AssertionError(f"condition not met within {timeout}s")
            time.sleep(0.01)

    def http(self, method, path, body=None, token=None, raw=None):
        url = f"http://127.0.0.1:{self.http_port}{path}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def curl(self, *args):
        p = subprocess.run(["curl", "-s", "-S", "-w", "\n%{http_code}", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        out = p.stdout.decode()
        body, _, code = out.rpartition("\n")
        return int(code), body

    def cli(self, *args, input=None):
        p = subprocess.run([harness.REBOUND, *args[:1], "-c", self.conf_path, *args[1:]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, input=input,
                           timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()


class LookupTest(unittest.TestCase):
    """Each test gets a fresh LookupEnv as self.env, destroyed after it."""

    def setUp(self):
        self.env = LookupEnv()

    def tearDown(self):
        self.env.destroy()
