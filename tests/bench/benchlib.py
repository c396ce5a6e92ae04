"""Shared pieces of the make bench-* scripts (tests/bench/bench_*.py).

Benchmarks print measured figures and the machine's load with each; they
never fail on speed (only on a broken run: lost messages, wrong answers).
They reuse tests/e2e/harness.py for the private PostgreSQL and the daemon.
"""
import os, signal, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import harness  # noqa: E402
import smtp_helpers  # noqa: E402,F401  (the benches read the spool with it)

ROOT = harness.ROOT
REBOUND = harness.REBOUND


def load():
    """The 1-minute load average and core count, for the record."""
    with open("/proc/loadavg") as f:
        la = f.read().split()
    return f"load={la[0]},{la[1]},{la[2]} cores={os.cpu_count()}"


_PF = None


def postfix_env():
    """Environment for Postfix's tools: a private, empty main.cf (MAIL_CONFIG),
    so smtp-source/smtp-sink never read or need /etc/postfix."""
    global _PF
    if _PF is None:
        _PF = tempfile.mkdtemp(prefix="rebound-bench-postfix-")
        open(os.path.join(_PF, "main.cf"), "w").close()
    env = dict(os.environ)
    env["MAIL_CONFIG"] = _PF
    return env


def postfix_mta_running():
    """True when a Postfix master daemon runs (the bench must not leave one)."""
    p = subprocess.run(["pgrep", "-x", "master"], stdout=subprocess.DEVNULL)
    return p.returncode == 0


def need(*tools):
    missing = [t for t in tools if subprocess.run(["sh", "-c", f"command -v {t}"],
                                                  stdout=subprocess.DEVNULL).returncode != 0]
    if missing:
        sys.exit("bench: missing " + " ".join(missing) + " (scripts/deps.sh bench installs them)")


def stop(proc, timeout):
    """SIGTERM a process the bench started, SIGKILL it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
