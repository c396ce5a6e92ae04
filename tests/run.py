#!/usr/bin/env python3
"""Run Rebound's whole test suite and print one summary line.

Every test program speaks TAP ("ok N - name" / "not ok N - name"):
  - unit tests: $REBOUND_BUILD/tests/test_* (GLib GTest, run with --tap)
  - end-to-end tests: tests/e2e/test_*.py (real daemon, real clients, real PostgreSQL)
  - shell checks: tests/e2e/test_*.sh
A program that exits non-zero, times out, or reports no test at all counts
as a failure.  The last line is "N passed, N failed".
Usage: tests/run.py [-k SUBSTRING[,SUBSTRING...]] [-v]
Environment: REBOUND_BUILD (build dir; build/san = the sanitizer build, run
with ASan/LSan/UBSan options and tests/lsan.supp), VALGRIND=1 (e2e daemons
under valgrind), REBOUND_OUTAGE_SECONDS (test_faults' PostgreSQL outage).
"""
import glob, os, re, subprocess, sys, time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
build = os.environ.get("REBOUND_BUILD", "build")
os.environ["REBOUND_BUILD"] = os.path.abspath(os.path.join(root, build))
if os.path.basename(os.path.normpath(build)) == "san":
    # make check SANITIZE=1: a leak or error makes any program exit non-zero.
    # Full unwinding so that tests/lsan.supp can name third-party frames
    # (GLib, GMime, OpenSSL, libpq are built without frame pointers).
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:fast_unwind_on_malloc=0")
    os.environ.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0"
                          % os.path.join(root, "tests", "lsan.supp"))
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
verbose = "-v" in sys.argv
only = sys.argv[sys.argv.index("-k") + 1].split(",") if "-k" in sys.argv else None

progs = []
for b in sorted(glob.glob(os.path.join(root, build, "tests", "test_*"))):
    if os.access(b, os.X_OK) and not b.endswith(".d"):
        progs.append(([b, "--tap"], 600))
for t in sorted(glob.glob(os.path.join(root, "tests", "e2e", "test_*.py"))):
    progs.append(([sys.executable, t], 900))
for t in sorted(glob.glob(os.path.join(root, "tests", "e2e", "test_*.sh"))):
    progs.append((["bash", t], 900))
if only:
    progs = [p for p in progs if any(o in p[0][-1] or o in p[0][0] for o in only)]

passed = failed = 0
failures = []
t0 = time.time()
for cmd, limit in progs:
    name = os.path.relpath(cmd[1] if cmd[0] in (sys.executable, "bash") else cmd[0], root)
    start = time.time()
    try:
        p = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=limit)
        out, rc = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode("utf-8", "replace") + "\n# TIMEOUT\n", -1
    ok = len(re.findall(r"^ok \d+", out, re.M))
    nok = len(re.findall(r"^not ok \d+", out, re.M))
    bad_exit = rc != 0 and nok == 0
    if bad_exit or ok + nok == 0:
        nok += 1
    passed += ok
    failed += nok
    status = "FAIL" if nok else "ok"
    print(f"{status:4} {name}: {ok} passed, {nok} failed ({time.time() - start:.1f}s)", flush=True)
    if nok or verbose:
        failures.append((name, out))
        sys.stdout.write("".join("    " + l + "\n" for l in out.splitlines()[-80:]))
print(f"suite time {time.time() - t0:.1f}s")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
