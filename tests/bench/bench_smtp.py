#!/usr/bin/env python3
"""make bench-smtp: Postfix's smtp-source sends 5 KB messages over 50
concurrent sessions to Rebound (build/rebound serve, durable spool: data
fdatasync'd and the queue directory fsync'd before 250; [store] not
configured, so this is the receiver and spool alone) and, in the same run, to
Postfix's smtp-sink (accepts and discards: the ceiling).  Prints both rates
and the ratio (issue 2 target: Rebound >= 50% of smtp-sink).

Environment: BENCH_MESSAGES (default 5000), BENCH_SESSIONS (50),
BENCH_SIZE (5120), BENCH_ROUNDS (3; the best round of each is reported,
rounds alternate so that a burst of load on this shared machine hits both).
"""
import os, re, subprocess, sys, time

import benchlib
from benchlib import harness, smtp_helpers

N = int(os.environ.get("BENCH_MESSAGES", "5000"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "50"))
SIZE = int(os.environ.get("BENCH_SIZE", "5120"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RCPT = "bench@bounces.example.com"


def source(port):
    """One smtp-source run; returns (seconds, stderr)."""
    t0 = time.monotonic()
    p = subprocess.run(["smtp-source", "-s", str(SESSIONS), "-m", str(N), "-l", str(SIZE),
                        "-f", "mailer@sender.example", "-t", RCPT, f"127.0.0.1:{port}"],
                       env=benchlib.postfix_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    el = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bench-smtp: smtp-source failed: {p.stderr.decode()[-500:]}")
    return el, p.stderr.decode()


def spool_count(spool):
    return len(smtp_helpers.spool_entries(spool))


def main():
    benchlib.need("smtp-source", "smtp-sink")
    if benchlib.postfix_mta_running():
        print("bench-smtp: note: a Postfix master is running on this machine (not ours)")
    sink_port = harness.free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{sink_port}", "256"],
                            env=benchlib.postfix_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    d = harness.Daemon({"smtp": {"max_sessions_per_ip": "1000", "max_sessions": "2000"},
                        "log": {"level": "warn"}})
    spool = d.conf["spool"]["dir"]
    best = {"rebound": 0.0, "sink": 0.0}
    try:
        harness.wait_port(sink_port, proc=sink)
        d.start()
        print(f"bench-smtp: {N} messages of {SIZE} bytes over {SESSIONS} sessions, "
              f"{ROUNDS} rounds; rebound = serve with durable spool, store not configured")
        for r in range(ROUNDS):
            before = spool_count(spool)
            el_r, _ = source(d.port)
            got = spool_count(spool) - before
            if got != N:
                sys.exit(f"bench-smtp: rebound spooled {got} of {N} messages\n" + d.log()[-2000:])
            el_s, _ = source(sink_port)
            rr, rs = N / el_r, N / el_s
            print(f"  round {r + 1}: rebound {rr:8.0f} msg/s ({el_r:.2f}s)   smtp-sink "
                  f"{rs:8.0f} msg/s ({el_s:.2f}s)   ratio {rr / rs:.0%}   {benchlib.load()}")
            best["rebound"] = max(best["rebound"], rr)
            best["sink"] = max(best["sink"], rs)
            # The queue is left to grow (no store drains it): deleting
            # thousands of files between rounds would slow the next round's
            # inode allocation on a journal-less ext4, measuring the rmtree.
    finally:
        benchlib.stop(sink, 5)
        d.cleanup()
    ratio = best["rebound"] / best["sink"]
    print(f"bench-smtp: rebound {best['rebound']:.0f} msg/s, smtp-sink {best['sink']:.0f} msg/s, "
          f"ratio {ratio:.0%} (target >= 50%) {benchlib.load()}")
    if benchlib.postfix_mta_running():
        print("bench-smtp: warning: a Postfix MTA (master) is running; this bench did not start it")


if __name__ == "__main__":
    main()
