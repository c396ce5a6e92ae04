#!/usr/bin/env python3
"""make bench-lookup: 1,000,000 and then 10,000,000 suppressed addresses in a
private PostgreSQL (made there with generate_series, the second size by
adding to the first); build/rebound lookupd loads them into its in-memory
index at start; then lookups from concurrent clients over socketmap
(tests/bench/bench_lookup_client.c, one request in flight per connection as
Postfix does) and over HTTP (wrk with a Lua script, GET /v1/lookup/ADDRESS).
Keys are drawn uniformly from twice as many addresses: about half
suppressed.

Prints, for each size: start-up load time of the index, index memory per
address as the index accounts it and as the whole process RSS (target <= 50
bytes at 10M), lookups/s and p50/p99 latency for each protocol (targets >=
50,000/s and p99 < 1 ms at 8 connections on this 2-core machine, shared
with the client; at 10M no worse than at 1M).

Environment: BENCH_ADDRESSES (sizes, "1000000,10000000", ascending),
BENCH_SECONDS (5), BENCH_CONNS (connection counts to try, "8,50": latency
grows with the requests in flight, about connections / rate by Little's law),
BENCH_PERF (a file name: "perf record -g" of lookupd during the socketmap
runs, for perf report), BENCH_BASELINE (another build's rebound binary,
measured first at each size on the same data, to compare two builds back
to back).

Each socketmap run also prints lookupd's CPU time per lookup (user +
system, from /proc): on a shared machine it moves far less with the load
than lookups/s does, so it is the figure to compare builds by.
"""
import os, re, subprocess, sys, tempfile, time

import benchlib
from benchlib import harness

SIZES = [int(n) for n in os.environ.get("BENCH_ADDRESSES", "1000000,10000000").split(",")]
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNS = [int(c) for c in os.environ.get("BENCH_CONNS", "8,50").split(",")]
CLIENT = os.path.join(os.path.dirname(harness.REBOUND), "bench", "bench_lookup_client")

LUA = """
local n = %d
request = function()
  local i = math.random(0, 2 * n - 1)
  return wrk.format("GET", "/v1/lookup/user" .. i .. "@d" .. (i %% 1000) .. ".example")
end
"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of the process: on a shared machine the start-up's wall
    time is mostly waiting for a core."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(port, name):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def fill(pg, have, want):
    """Suppressions user{have}..user{want-1}; a bulk import, so the per-row
    audit and change-log triggers (for live changes) are off meanwhile."""
    t0 = time.monotonic()
    pg.psql("ALTER TABLE suppressions DISABLE TRIGGER USER;"
            "INSERT INTO suppressions (tenant, address, address_key, domain, class, reason, origin)"
            " SELECT 'default', a, a, 'd' || (i % 1000) || '.example', 'hard', 'userunknown', 'import'"
            f" FROM (SELECT i, 'user' || i || '@d' || (i % 1000) || '.example' AS a"
            f" FROM generate_series({have}, {want - 1}) i) s;"
            "ALTER TABLE suppressions ENABLE TRIGGER USER; ANALYZE suppressions")
    print(f"bench-lookup: {want} suppressions in PostgreSQL ({want - have} added in "
          f"{time.monotonic() - t0:.1f}s)   {benchlib.load()}", flush=True)


def measure(conf, work, naddr, sm, http, exe=harness.REBOUND):
    """Start lookupd (exe) on naddr suppressions, measure, stop it; returns the figures."""
    log_path = os.path.join(work, f"lookupd-{naddr}.log")
    logf = open(log_path, "wb")
    out = {}
    t0 = time.monotonic()
    proc = subprocess.Popen([exe, "lookupd", "-c", conf], stdout=logf, stderr=logf)
    try:
        harness.wait_port(sm, proc=proc, timeout=300)
        mo = None
        while time.monotonic() - t0 < 300 and mo is None:
            with open(log_path, "rb") as f:
                mo = re.search(rb"index loaded entries=(\d+) rows=\d+ seconds=([0-9.]+) bytes=(\d+)",
                               f.read())
            time.sleep(0.01)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid)
        if mo is None:
            sys.exit("bench-lookup: the index never loaded")
        entries, secs, nbytes = int(mo.group(1)), float(mo.group(2)), int(mo.group(3))
        if entries != naddr:
            sys.exit(f"bench-lookup: index has {entries} entries, expected {naddr}")
        time.sleep(0.5)
        rss = rss_kb(proc.pid)
        out["load"] = secs
        out["bytes"] = rss * 1024 / entries
        print(f"  start-up: index of {entries} addresses loaded in {secs:.2f}s "
              f"({wall:.2f}s from exec to loaded, {cpu:.2f}s of lookupd's CPU)   {benchlib.load()}")
        print(f"  memory  : {nbytes / entries:.1f} bytes/address in the index "
              f"({nbytes / 1048576:.1f} MiB); whole process RSS {rss / 1024:.0f} MiB = "
              f"{rss * 1024 / entries:.1f} bytes/address, everything included (target <= 50)",
              flush=True)

        perf = None
        if os.environ.get("BENCH_PERF"):
            perf = subprocess.Popen(["perf", "record", "-g", "-o", os.environ["BENCH_PERF"],
                                     "-p", str(proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        for conns in CONNS:
            cpu0 = cpu_seconds(proc.pid)
            p = subprocess.run([CLIENT, "127.0.0.1", str(sm), str(conns), str(SECONDS), str(naddr)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=SECONDS + 60)
            cpu = cpu_seconds(proc.pid) - cpu0
            text = p.stdout.decode().strip()
            if p.returncode != 0:
                sys.exit("bench-lookup: socketmap client failed: " + text)
            mo = re.search(r"socketmap ([0-9]+) lookups", text)
            if mo and int(mo.group(1)) > 0:
                text += f", lookupd CPU {cpu * 1e6 / int(mo.group(1)):.1f} us/lookup"
            print(f"  {text}   {benchlib.load()}", flush=True)
            mo = re.search(r"([0-9]+) lookups/s.*p99 ([0-9.]+) (us|µs|ms)", text)
            if mo:
                p99 = float(mo.group(2)) * (1000 if mo.group(3) == "ms" else 1)
                out[f"socketmap{conns}"] = (int(mo.group(1)), p99)

        if perf is not None:
            perf.send_signal(2)
            perf.wait(timeout=60)
        lua = os.path.join(work, "lookup.lua")
        with open(lua, "w") as f:
            f.write(LUA % naddr)
        for conns in CONNS:
            p = subprocess.run(["wrk", "-t", "1", "-c", str(conns), "-d", f"{SECONDS}s", "--latency",
                                "-s", lua, f"http://127.0.0.1:{http}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=SECONDS + 60)
            text = p.stdout.decode()
            rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
            lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
            errs = re.search(r"Socket errors: (.*)", text)
            if p.returncode != 0 or rps is None:
                sys.exit("bench-lookup: wrk failed\n" + text)
            print(f"  http      {float(rps.group(1)):.0f} lookups/s over {conns} connections (wrk), "
                  f"p50 {lat.get('50')}, p99 {lat.get('99')}"
                  f"{', socket errors ' + errs.group(1) if errs else ''}   {benchlib.load()}",
                  flush=True)
        hits = metric(http, 'rebound_lookup_hits_total{proto="http"}') or 0
        misses = metric(http, 'rebound_lookup_misses_total{proto="http"}') or 0
        if hits == 0 or misses == 0:
            sys.exit(f"bench-lookup: HTTP lookups answered hits={hits} misses={misses}")
    finally:
        benchlib.stop(proc, 10)
        logf.close()
    return out


def main():
    benchlib.need("wrk")
    pg = harness.Pg().start()
    work = tempfile.mkdtemp(prefix="rebound-bench-lookup-")
    sm, pd, http = harness.free_port(), harness.free_port(), harness.free_port()
    conf = os.path.join(work, "rebound.conf")
    with open(conf, "w") as f:
        f.write(f"[log]\nlevel = info\n[store]\nconninfo = {pg.conninfo}\n"
                f"[lookup]\nsocketmap_listen = 127.0.0.1:{sm}\npolicy_listen = 127.0.0.1:{pd}\n"
                f"[http]\nlisten = 127.0.0.1:{http}\n")
    results = {}
    try:
        subprocess.run([harness.REBOUND, "migrate", "-c", conf], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        have = 0
        for naddr in SIZES:
            fill(pg, have, naddr)
            have = naddr
            if os.environ.get("BENCH_BASELINE"):
                print(f"  baseline {os.environ['BENCH_BASELINE']}:", flush=True)
                measure(conf, work, naddr, sm, http, os.environ["BENCH_BASELINE"])
                print(f"  this build {harness.REBOUND}:", flush=True)
            results[naddr] = measure(conf, work, naddr, sm, http)
        if len(SIZES) > 1:
            a, b = results[SIZES[0]], results[SIZES[-1]]
            for k in sorted(x for x in b if x.startswith("socketmap")):
                if k in a:
                    print(f"bench-lookup: {k[9:]} connections, socketmap at {SIZES[-1]} against "
                          f"{SIZES[0]}: {b[k][0]} vs {a[k][0]} lookups/s, p99 {b[k][1]:.0f} vs "
                          f"{a[k][1]:.0f} us")
        print("bench-lookup: done (targets: >= 50,000 lookups/s, p99 < 1 ms at 8 connections, "
              "<= 50 bytes/address at 10M, no worse than at 1M)")
    finally:
        pg.destroy()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
