#!/usr/bin/env python3
"""make bench-scale: the multi-host layout of tests/e2e/test_multihost.py under
load.  A PostgreSQL primary and a streaming hot standby (pg_basebackup -R),
two "rebound serve" receivers (own spools and ports) writing to the primary,
"rebound lookupd" following the standby.

Load: BENCH_SENDERS SMTP clients (half per receiver) sending hard bounces,
each to a new address, at BENCH_RATE messages/s in all; at the same time
tests/bench/bench_lookup_client asks the standby's lookupd over 8
socketmap connections.

1. steady: BENCH_SECONDS of load; for every message, the time from its 250
   to the first "suppressed" answer on the standby's lookupd: p50, p99, max
   (target: p99 under 2 s); the lookups' rate and p99 meanwhile.
2. outage: the primary stopped for BENCH_OUTAGE seconds (30) under the same
   load: messages acknowledged (250) and refused (452 past high_water) while
   it is down; then it is started again: time until both spools have
   drained and every acknowledged message answers on the standby; fails if
   one is missing (an acknowledged message lost).
Prints the load average with each figure.
"""
import os, queue, subprocess, sys, threading, time

import benchlib
from benchlib import harness

sys.path.insert(0, os.path.join(os.path.dirname(benchlib.HERE), "e2e"))
from multihost import Layout  # noqa: E402
import store_msgs  # noqa: E402
import smtplib  # noqa: E402

SENDERS = int(os.environ.get("BENCH_SENDERS", "4"))
RATE = float(os.environ.get("BENCH_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
OUTAGE = float(os.environ.get("BENCH_OUTAGE", "30"))
CLIENT = os.path.join(os.path.dirname(harness.REBOUND), "bench", "bench_lookup_client")


class Sender(threading.Thread):
    """Sends bounces to one receiver at rate/s over one SMTP connection
    (reconnecting after a refusal); every 250 goes to acked with its time."""

    def __init__(self, name, receiver, rate, acked, stop):
        super().__init__(daemon=True)
        self.name_, self.receiver, self.rate = name, receiver, rate
        self.acked, self.stop = acked, stop
        self.codes = {}
        self.n = 0

    def run(self):
        s = None
        next_t = time.monotonic()
        while not self.stop.is_set():
            rcpt = f"{self.name_}-{self.n}@scale.example"
            data = store_msgs.dsn("hard", rcpt, f"{self.name_}-{self.n}")
            self.n += 1
            code = 250
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", self.receiver.port, timeout=30)
                s.sendmail("", ["bounce@bounces.example.com"], data)
            except smtplib.SMTPResponseException as e:
                code = e.smtp_code
            except smtplib.SMTPRecipientsRefused as e:
                code = list(e.recipients.values())[0][0]
            except (OSError, smtplib.SMTPException):
                code = 0
            if code == 250:
                self.acked.put((rcpt, time.monotonic()))
            else:
                if s is not None:
                    try:
                        s.close()
                    except Exception:
                        pass
                s = None
            self.codes[code] = self.codes.get(code, 0) + 1
            next_t += 1.0 / self.rate
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.monotonic()
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass


class Watcher(threading.Thread):
    """Asks the standby's lookupd about every acknowledged address until it
    answers suppressed; records 250 -> suppressed delays."""

    def __init__(self, lookupd, acked):
        super().__init__(daemon=True)
        self.lookupd, self.acked = lookupd, acked
        self.pending = []
        self.delays = []
        self.seen_at = {}       # address -> wall time first answered suppressed
        self.seen = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop.is_set():
            try:
                while True:
                    self.pending.append(self.acked.get_nowait())
            except queue.Empty:
                pass
            left = []
            for rcpt, t in self.pending:
                try:
                    ok = self.lookupd.suppressed(rcpt)
                except (OSError, EOFError):
                    ok = False
                if ok:
                    with self.lock:
                        self.delays.append(time.monotonic() - t)
                        self.seen_at[rcpt] = time.time()
                        self.seen += 1
                else:
                    left.append((rcpt, t))
            self.pending = left
            time.sleep(0.005)

    def take(self):
        with self.lock:
            d, self.delays = self.delays, []
            seen, self.seen_at = self.seen_at, {}
        return d, seen


class Progress(threading.Thread):
    """Samples the standby lookupd's change_id (GET /healthz, one request,
    on the API's own thread) every few ms: when each change was applied,
    without the queueing of a client asking about every address."""

    def __init__(self, lookupd):
        super().__init__(daemon=True)
        self.lookupd = lookupd
        self.samples = []       # (wall time, change_id)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                cid = self.lookupd.health()["index"]["change_id"]
                self.samples.append((time.time(), cid))
            except Exception:
                pass
            time.sleep(0.005)

    def applied_at(self, change_id):
        """Wall time of the first sample at or past change_id (None: not seen)."""
        lo, hi = 0, len(self.samples)
        samples = self.samples[:hi]
        while lo < hi:
            mid = (lo + hi) // 2
            if samples[mid][1] >= change_id:
                hi = mid
            else:
                lo = mid + 1
        return samples[lo][0] if lo < len(samples) else None


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def main():
    print(f"bench-scale: starting primary, 2 receivers, standby, lookupd   {benchlib.load()}",
          flush=True)
    t = Layout(receivers=2, log_level="info", workers=2)
    acked = queue.Queue()
    stop = threading.Event()
    senders = [Sender(f"s{i}", t.receivers[i % 2], RATE / SENDERS, acked, stop)
               for i in range(SENDERS)]
    watcher = Watcher(t.lookupd, acked)
    progress = Progress(t.lookupd)
    lookups = None
    try:
        watcher.start()
        progress.start()
        for s in senders:
            s.start()
        lookups = subprocess.Popen([CLIENT, "127.0.0.1", str(t.lookupd.sm_port), "8",
                                    str(int(SECONDS)), "1000000"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        w0 = t.primary.psql("SELECT now()")[0][0]
        time.sleep(SECONDS)
        w1 = t.primary.psql("SELECT now()")[0][0]
        out = lookups.communicate(timeout=60)[0].decode().strip()
        lookups = None
        d, seen = watcher.take()
        sent = sum(s.n for s in senders)
        print(f"  steady {SECONDS:.0f}s: {sent / (time.monotonic() - t0):.0f} msg/s offered to 2 "
              f"receivers; 250 -> suppressed on the standby's lookupd: {len(d)} messages, "
              f"p50 {pct(d, .5) * 1000:.0f} ms, p99 {pct(d, .99) * 1000:.0f} ms, "
              f"max {max(d) * 1000 if d else float('nan'):.0f} ms   "
              f"{benchlib.load()}", flush=True)
        print(f"  lookups on the standby meanwhile: {out}   {benchlib.load()}", flush=True)
        # where the time went: received -> committed on the primary (the store,
        # clock_timestamp() of the change-log trigger at commit) and committed
        # -> answered on the standby's lookupd (the change feed)
        rows = t.primary.psql(
            "SELECT s.address_key, extract(epoch FROM c.at), extract(epoch FROM c.at - m.received_at),"
            " c.id"
            " FROM suppressions s JOIN events e ON e.id = s.event_id"
            " JOIN messages m ON m.id = e.message_id"
            " JOIN suppression_changes c ON c.tenant = s.tenant AND c.address_key = s.address_key"
            f" WHERE m.received_at BETWEEN '{w0}' AND '{w1}'")
        store_d = [float(r[2]) for r in rows]
        feed_d = [seen[r[0]] - float(r[1]) for r in rows if r[0] in seen]
        applied = [(progress.applied_at(int(r[3])), float(r[1])) for r in rows]
        applied_d = [a - c for a, c in applied if a is not None]
        print(f"  of which received -> committed on the primary (store): p50 "
              f"{pct(store_d, .5) * 1000:.0f} ms, p99 {pct(store_d, .99) * 1000:.0f} ms; "
              f"committed on the primary -> answered on the standby (change feed): "
              f"{len(feed_d)} suppressions, p50 {pct(feed_d, .5) * 1000:.0f} ms, "
              f"p99 {pct(feed_d, .99) * 1000:.0f} ms, max {max(feed_d) * 1000 if feed_d else float('nan'):.0f} ms "
              f"(target p99 < 2 s)   {benchlib.load()}", flush=True)
        print(f"  the change feed alone, committed on the primary -> applied to the standby's "
              f"index (its change_id in /healthz, sampled every ~5 ms): {len(applied_d)} "
              f"changes, p50 {pct(applied_d, .5) * 1000:.0f} ms, p99 {pct(applied_d, .99) * 1000:.0f} ms, "
              f"max {max(applied_d) * 1000 if applied_d else float('nan'):.0f} ms   {benchlib.load()}",
              flush=True)

        # the outage, under the same load
        before = {k: sum(s.codes.get(k, 0) for s in senders) for k in (250, 452)}
        t.primary.stop("fast")
        t1 = time.monotonic()
        time.sleep(OUTAGE)
        during = {k: sum(s.codes.get(k, 0) for s in senders) - before[k] for k in (250, 452)}
        other = sum(v for s in senders for k, v in s.codes.items() if k not in (250, 452))
        t.primary.start()
        t2 = time.monotonic()
        print(f"  primary down {t2 - t1:.1f}s: {during[250]} messages acknowledged (250) "
              f"meanwhile, {during[452]} refused with 452, {other} other replies   "
              f"{benchlib.load()}", flush=True)
        time.sleep(5)
        stop.set()
        for s in senders:
            s.join(60)
        acked_total = sum(s.codes.get(250, 0) for s in senders)
        end = time.monotonic() + 120
        while watcher.seen < acked_total and time.monotonic() < end:
            time.sleep(0.05)
        caught = time.monotonic() - t2
        watcher.stop.set()
        watcher.join(10)
        if watcher.seen < acked_total:
            sys.exit(f"bench-scale: {acked_total - watcher.seen} acknowledged messages never "
                     f"answered on the standby (e.g. {watcher.pending[:3]})\n" + t.logs())
        rows = int(t.primary.psql("SELECT count(*) FROM messages")[0][0])
        if rows != acked_total:
            sys.exit(f"bench-scale: {acked_total} acknowledged, {rows} messages stored")
        lag = t.lookupd.health()["index"]["lag_seconds"]
        print(f"  primary back: all {acked_total} acknowledged messages stored once and "
              f"suppressed on the standby {caught:.1f}s after it returned (load kept 5 s); "
              f"lookupd lag_seconds {lag:.2f}   {benchlib.load()}", flush=True)
        print("bench-scale: done")
    finally:
        stop.set()
        watcher.stop.set()
        progress.stop.set()
        if lookups is not None:
            lookups.kill()
            lookups.wait()
        t.destroy()


if __name__ == "__main__":
    main()
