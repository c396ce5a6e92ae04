#!/usr/bin/env python3
"""make bench-store: 5 KB hard-bounce DSNs sent over SMTP to build/rebound
serve, parsed and written to a private PostgreSQL cluster (fsync on,
synchronous_commit on), and in the same run what PostgreSQL itself takes for
the same rows (message with its raw 5 KB, one event, one suppression, with
the schema's triggers and indexes) without Rebound
(tests/bench/bench_store_ceiling.c), two ways over one connection:

- COPY ceiling: one binary COPY per table per 1,000 messages in one
  transaction, the physical limit of this PostgreSQL on this disk;
- per-message loop: the shape Rebound's store had before its batches were
  set-based (three statements per message, one round trip each, BENCH_BATCH
  messages per transaction), for comparison.

Rebound is measured twice: end to end (SMTP intake and storage at once, on
the same 2 cores as the SMTP clients: lean pipelining Python clients with the
messages built before the clock starts), against the same clients sending
the same messages to Postfix's smtp-sink (accepts and discards) in the same
run; and the store stage alone (a spool filled over SMTP by a daemon without
[store], then drained by a daemon with it, timed from exec to the last row),
against the COPY ceiling.  Issue 16's bars: store stage >= 10,000 msg/s and
>= 30% of the COPY ceiling; end to end >= 50% of smtp-sink.

Environment: BENCH_MESSAGES (default 10000), BENCH_CLIENTS (SMTP client
processes, 4), BENCH_BATCH ([store] batch; default: the daemon's),
BENCH_SIZE (5120), BENCH_ROUNDS (end-to-end rounds, 3: the best is the
figure, the median is printed beside it; 0 measures the store stage only).
"""
import multiprocessing, os, re, socket, subprocess, sys, tempfile, time

import benchlib
from benchlib import harness
import store_msgs

N = int(os.environ.get("BENCH_MESSAGES", "10000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BATCH = os.environ.get("BENCH_BATCH")
LOOP_BATCH = int(BATCH or "32")
COPY_BATCH = 1000
SIZE = int(os.environ.get("BENCH_SIZE", "5120"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CEILING = os.path.join(os.path.dirname(harness.REBOUND), "bench", "bench_store_ceiling")


def wire(msg):
    """A message as it goes on the wire after DATA: CRLF lines, dot-stuffed,
    ended by the final dot (what smtplib does per message, done once)."""
    msg = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", msg) + b".\r\n"


def reply(f):
    """One SMTP reply (multi-line joined): its code."""
    while True:
        line = f.readline()
        if len(line) < 4:
            raise RuntimeError(f"bench-store: connection lost ({line!r})")
        if line[3:4] != b"-":
            return int(line[:3])


def sender(port, msgs):
    # A lean pipelining client (RFC 2920: MAIL, RCPT and DATA in one write),
    # messages built before the clock starts: the client shares the two
    # cores with what is measured, so it must cost little.
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        f = s.makefile("rb")
        assert reply(f) == 220
        s.sendall(b"EHLO bench.example\r\n")
        assert reply(f) == 250
        head = b"MAIL FROM:<>\r\nRCPT TO:<bounce@bounces.example.com>\r\nDATA\r\n"
        for m in msgs:
            s.sendall(head)
            codes = (reply(f), reply(f), reply(f))
            if codes != (250, 250, 354):
                raise RuntimeError(f"bench-store: replies {codes}")
            s.sendall(m)
            code = reply(f)
            if code != 250:
                raise RuntimeError(f"bench-store: end of data got {code}")
        s.sendall(b"QUIT\r\n")


def build(run):
    return [wire(store_msgs.dsn("hard", f"user{i}.{run}@dest{i % 97}.example", f"b{run}-{i}",
                                size=SIZE)) for i in range(N)]


def send_all(port, msgs):
    step = (N + CLIENTS - 1) // CLIENTS
    procs = [multiprocessing.Process(target=sender, args=(port, msgs[k * step:(k + 1) * step]))
             for k in range(CLIENTS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit("bench-store: an SMTP client failed")


def sink_rate(msgs):
    """The same clients and messages to Postfix's smtp-sink: msg/s."""
    port = harness.free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "256"],
                            env=benchlib.postfix_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        harness.wait_port(port, proc=sink)
        t0 = time.monotonic()
        send_all(port, msgs)
        return N / (time.monotonic() - t0)
    finally:
        benchlib.stop(sink, 5)


def ceiling(pg, rawfile, batch, mode):
    p = subprocess.run([CEILING, pg.conninfo, rawfile, str(N), str(batch), mode],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    mo = re.search(r"= ([0-9.]+) msg/s", out)
    if p.returncode != 0 or mo is None:
        sys.exit(f"bench-store: ceiling ({mode}) failed\n" + out[-3000:])
    return float(mo.group(1))


def count(pg):
    return int(pg.psql("SELECT count(*) FROM messages")[0][0])


def queue_files(d):
    q = os.path.join(d.conf["spool"]["dir"], "queue")
    return sum(1 for n in os.listdir(q) if re.fullmatch(r"[0-9A-Za-z]{16}", n))


def wait_stored(pg, d, target, first=None):
    """Until the spool is empty (an entry leaves only after its COMMIT),
    watched with a cheap directory listing: polling PostgreSQL through psql
    would take the CPU being measured.  Then the rows are counted.  With
    first (a list), the first time a queue file goes (a batch committed) is
    appended to it with the rows counted just after: one psql call."""
    deadline = time.monotonic() + 600
    start = queue_files(d)
    while (left := queue_files(d)) > 0:
        if first is not None and not first and left < start:
            c = count(pg)
            first.extend([time.monotonic(), c])
        if time.monotonic() > deadline:
            sys.exit(f"bench-store: spool never drained\n{d.log()[-3000:]}")
        time.sleep(0.01)
    el = time.monotonic()
    if count(pg) < target:
        sys.exit(f"bench-store: only {count(pg)} of {target} stored\n{d.log()[-3000:]}")
    return el


def main():
    pg = harness.Pg().start()
    benchlib.need("smtp-sink")
    store = {"conninfo": pg.conninfo}
    if BATCH:
        store["batch"] = BATCH
    d = harness.Daemon({"store": store,
                        "smtp": {"max_sessions_per_ip": "1000"}, "log": {"level": "warn"}})
    work = tempfile.mkdtemp(prefix="rebound-bench-store-")
    try:
        d.start()
        end = time.time() + 30
        while time.time() < end:
            try:
                count(pg)
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        print(f"bench-store: {N} DSNs of ~{SIZE} bytes (hard bounces, distinct recipients) over "
              f"{CLIENTS} SMTP sessions, [store] batch = {BATCH or 'default'}, "
              f"synchronous_commit = on")
        for sql in ("SHOW synchronous_commit", "SHOW fsync"):
            assert pg.psql(sql)[0][0] == "on", sql
        # 1. End to end: first SMTP byte to last COMMIT seen in the table,
        # intake and storage running at once (they share the 2 cores).
        # Rounds, as in bench-smtp: this shared 2-core machine has bursts
        # of other load; the best round is reported, the median beside it.
        # Each round also sends the same messages to smtp-sink, alternating,
        # so that a burst of load hits both.
        rates, sinks = [], []
        for r in range(ROUNDS):
            base = count(pg)
            msgs = build(f"r{r}")
            t0 = time.monotonic()
            send_all(d.port, msgs)
            t_smtp = time.monotonic() - t0
            el = wait_stored(pg, d, base + N) - t0
            rates.append(N / el)
            sinks.append(sink_rate(msgs))
            print(f"  rebound : end to end {N} stored in {el:.2f}s = {N / el:.0f} msg/s "
                  f"(SMTP intake {N / t_smtp:.0f} msg/s while storing); smtp-sink {sinks[-1]:.0f} "
                  f"msg/s = {N / el / sinks[-1]:.0%}   {benchlib.load()}")
        e2e = max(rates, default=0)
        e2e_median = sorted(rates)[len(rates) // 2] if rates else 0
        sink = max(sinks, default=1)

        # 2. The store stage alone: the spool filled by a daemon without a
        # store, then a daemon with the store drains it at start.
        d.stop()
        nostore = dict(d.conf["store"])
        d.conf["store"] = {}
        d.write_conf()
        d.start()
        msgs = build("s")
        t0 = time.monotonic()
        send_all(d.port, msgs)
        t_smtp = time.monotonic() - t0
        d.stop()
        d.conf["store"] = nostore
        d.write_conf()
        base = count(pg)
        t0 = time.monotonic()
        d.start()
        first = []
        t_end = wait_stored(pg, d, base + N, first)
        el = t_end - t0
        rate = N / el
        # Without the daemon's start-up (connect, migrations check, workers,
        # lookup index): from just after the first committed batch, counted.
        steady = (base + N - first[1]) / (t_end - first[0]) if first and t_end > first[0] else rate
        sup = int(pg.psql("SELECT count(*) FROM suppressions")[0][0])
        if sup < (ROUNDS + 1) * N:
            sys.exit(f"bench-store: {sup} suppressions for {(ROUNDS + 1) * N} hard bounces")
        print(f"  rebound : spool drain {N} stored in {el:.2f}s = {rate:.0f} msg/s "
              f"(from exec; {steady:.0f} msg/s from the first committed batch on; SMTP intake "
              f"alone was {N / t_smtp:.0f} msg/s)   {benchlib.load()}")

        # What PostgreSQL takes for the same rows without Rebound.
        rawfile = os.path.join(work, "dsn.eml")
        with open(rawfile, "wb") as f:
            f.write(store_msgs.dsn("hard", "ceiling@dest.example", "ceiling", size=SIZE))
        copy = ceiling(pg, rawfile, COPY_BATCH, "copy")
        print(f"  ceiling : COPY, {N} messages, {COPY_BATCH} per transaction = {copy:.0f} msg/s   "
              f"{benchlib.load()}")
        loop = ceiling(pg, rawfile, LOOP_BATCH, "loop")
        print(f"  loop    : per-message statements, {N} messages, {LOOP_BATCH} per transaction = "
              f"{loop:.0f} msg/s   {benchlib.load()}")
        e2e_text = (f"; end to end {e2e:.0f} msg/s = {e2e / sink:.0%} of smtp-sink {sink:.0f} msg/s "
                    f"(best of {ROUNDS} rounds each, median {e2e_median:.0f} msg/s; bar >= 50%)"
                    if ROUNDS > 0 else "")
        print(f"bench-store: store stage {rate:.0f} msg/s from exec = {rate / copy:.0%} of the COPY "
              f"ceiling {copy:.0f} msg/s ({steady:.0f} msg/s = {steady / copy:.0%} after start-up; "
              f"bars: >= 10,000 msg/s and >= 30%; the old per-message shape takes {loop:.0f} msg/s)"
              f"{e2e_text} {benchlib.load()}")
    finally:
        d.cleanup()
        pg.destroy()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
