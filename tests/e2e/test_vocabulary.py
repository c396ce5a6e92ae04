#!/usr/bin/env python3
"""rebound parse on Sisimai's published phrase lists and providers' reply texts.

tests/fixtures/vocabulary/sisimai.tsv holds 1,099 texts from Sisimai 5.1's
Reason, Rhost and Lhost tables (its phrase lists; the providers' documented
replies: Google, Microsoft, Mimecast, Apple, Yahoo, Tencent, Cox, GoDaddy;
the MTAs' own texts: qmail, Exim, Exchange...) with Sisimai's answer for
each, and Rebound's where it differs on purpose (tests/accuracy/vocabulary.py
wrote it).  Each row becomes a one-recipient DSN (vocabulary_dsn.py); every
row must get its expected reason: one TAP line per table.
"""
import collections, json, os, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, here)
from vocabulary_dsn import dsn  # noqa: E402

build = os.environ.get("REBOUND_BUILD", os.path.join(root, "build"))
rows = []
with open(os.path.join(root, "tests", "fixtures", "vocabulary", "sisimai.tsv")) as f:
    for line in f:
        if not line.startswith("#"):
            rows.append(line.rstrip("\n").split("\t"))
with tempfile.TemporaryDirectory() as d:
    files = []
    for i, (_src, host, reply, status, text, _sis, _ours) in enumerate(rows):
        p = os.path.join(d, "%04d.eml" % i)
        with open(p, "w") as w:
            w.write(dsn(i, host, reply, status, text))
        files.append(p)
    out = subprocess.run([os.path.join(build, "rebound"), "parse", "--json"] + files,
                         stdout=subprocess.PIPE, check=True).stdout.decode()
got = collections.defaultdict(list)
for line in out.splitlines():
    j = json.loads(line)
    got[int(os.path.basename(j["file"])[:4])].append(j["reason"])
tables = collections.OrderedDict()
agree = 0
for i, (src, _h, _r, _s, text, sis, ours) in enumerate(rows):
    want = sis if ours == "=" else ours
    have = got.get(i, [])
    agree += have == [sis]
    bad = tables.setdefault(src, [])
    if have != [want]:
        bad.append("%r: want %s, got %s" % (text, want, ",".join(have) or "no record"))
n = 0
for src, bad in tables.items():
    n += 1
    print("%s %d - %s" % ("not ok" if bad else "ok", n, src))
    for b in bad[:10]:
        print("#   " + b)
print("# Sisimai's answer on %d of %d texts" % (agree, len(rows)))
print("1..%d" % n)
