"""The multi-host layout on one machine, for test_multihost.py and
tests/bench/bench_scale.py: a PostgreSQL primary and a streaming hot standby
made from it with pg_basebackup -R, receivers ("rebound serve", each with
its own spool and ports) writing to the primary, and "rebound lookupd"
following the standby.  Everything on unix sockets and loopback ports."""
import glob, os, shutil, smtplib, socket, subprocess, tempfile, time

import harness
from lookup_env import netstring, read_netstring
import store_msgs


class Standby(harness.Pg):
    """A hot standby of primary: pg_basebackup -R, its own socket directory."""

    def __init__(self, primary):
        super().__init__()
        self.primary = primary

    def start(self):
        if not os.path.exists(self.data):
            self._as_pg([f"{harness.PGBIN}/pg_basebackup", "-D", self.data, "-R", "-X", "stream", "-c", "fast",
                         "-h", self.primary.dir, "-p", str(self.primary.port), "-U", "postgres"])
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                # the copy has the primary's socket directory; reconnect soon
                # after the primary returns from an outage
                f.write(f"unix_socket_directories = '{self.dir}'\nhot_standby = on\n"
                        "wal_retrieve_retry_interval = 500ms\n")
        self._as_pg([f"{harness.PGBIN}/pg_ctl", "-D", self.data, "-w", "-l",
                     os.path.join(self.dir, "log"), "start"])
        return self


class Lookupd:
    """rebound lookupd reading conninfo (the standby)."""

    def __init__(self, conninfo):
        self.dir = tempfile.mkdtemp(prefix="rebound-lookupd-")
        self.sm_port = harness.free_port()
        self.http_port = harness.free_port()
        self.conf_path = os.path.join(self.dir, "rebound.conf")
        with open(self.conf_path, "w") as f:
            f.write(f"[log]\nlevel = info\n[store]\nconninfo = {conninfo}\n"
                    f"[lookup]\nsocketmap_listen = 127.0.0.1:{self.sm_port}\n"
                    f"policy_listen = 127.0.0.1:{harness.free_port()}\n"
                    f"[http]\nlisten = 127.0.0.1:{self.http_port}\n")
        self.log_path = os.path.join(self.dir, "lookupd.log")
        self.proc = None
        self.sock = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([harness.REBOUND, "lookupd", "-c", self.conf_path],
                                     stdout=self.logf, stderr=self.logf)
        harness.wait_port(self.sm_port, proc=self.proc)
        return self

    def suppressed(self, addr):
        """One socketmap lookup on a kept connection: True, False or None (TEMP)."""
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1", self.sm_port), timeout=5)
                self.sock.sendall(netstring(f"suppressed {addr}"))
                r = read_netstring(self.sock)
                break
            except (OSError, EOFError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt:
                    raise
        if r.startswith("OK"):
            return True
        if r.startswith("NOTFOUND"):
            return False
        return None

    def health(self):
        import json, urllib.request, urllib.error
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz",
                                        timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            rc = harness.end_process(self.proc)
            self.proc = None
            self.logf.close()
            return rc
        return None

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Layout:
    """primary + standby + receivers + lookupd.  high_water: one value per receiver."""

    def __init__(self, receivers=2, high_water=None, log_level="info", workers=1):
        self.primary = self.standby = self.lookupd = None
        self.receivers = []
        self.primary = harness.Pg().start()
        # the receivers migrate the schema at start; the standby is copied
        # after that, so it starts with the schema
        high_water = high_water or [100000] * receivers
        for i in range(receivers):
            d = harness.Daemon({"log": {"level": log_level},
                                "store": {"conninfo": self.primary.conninfo,
                                          "retry_max_seconds": "2"},
                                "spool": {"high_water": str(high_water[i])},
                                "parser": {"workers": str(workers)}})
            self.receivers.append(d)
        self.receivers[0].start()
        latest = str(len(glob.glob(os.path.join(harness.ROOT, "sql", "[0-9]*.sql"))))
        ok, got = self.primary.poll("SELECT max(version) FROM rebound_migrations", [[latest]], 20)
        if not ok:
            raise RuntimeError(f"schema not migrated: {got}\n{self.receivers[0].log()[-2000:]}")
        for d in self.receivers[1:]:
            d.start()
        self.standby = Standby(self.primary).start()
        self.lookupd = Lookupd(self.standby.conninfo).start()
        end = time.time() + 20
        while self.lookupd.suppressed("probe@probe.example") is None:
            if time.time() > end:
                raise RuntimeError("lookupd never loaded:\n" + self.lookupd.log()[-2000:])
            time.sleep(0.05)

    def send(self, receiver, rcpt, tag):
        """One hard bounce for rcpt; returns the SMTP reply code (250 or 452...)."""
        data = store_msgs.dsn("hard", rcpt, tag)
        try:
            with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as s:
                s.sendmail("", ["bounce@bounces.example.com"], data)
            return 250
        except smtplib.SMTPSenderRefused as e:
            return e.smtp_code
        except smtplib.SMTPRecipientsRefused as e:
            return list(e.recipients.values())[0][0]
        except smtplib.SMTPDataError as e:
            return e.smtp_code

    def wait_suppressed(self, addrs, timeout):
        """Seconds until every address answers suppressed on the standby's lookupd
        (raises AssertionError naming the missing ones)."""
        t0 = time.monotonic()
        left = list(addrs)
        while left:
            left = [a for a in left if not self.lookupd.suppressed(a)]
            if not left:
                break
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"{len(left)} not suppressed on the standby after "
                                     f"{timeout}s, e.g. {left[:3]}")
            time.sleep(0.01)
        return time.monotonic() - t0

    def logs(self):
        out = []
        for i, d in enumerate(self.receivers):
            out.append(f"--- receiver {i}\n" + d.log()[-1500:])
        if self.lookupd:
            out.append("--- lookupd\n" + self.lookupd.log()[-1500:])
        return "\n".join(out)

    def destroy(self):
        for d in self.receivers:
            try:
                d.cleanup()
            except Exception:
                pass
        if self.lookupd:
            self.lookupd.destroy()
        if self.standby:
            self.standby.destroy()
        if self.primary:
            self.primary.destroy()
