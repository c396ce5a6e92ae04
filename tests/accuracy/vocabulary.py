#!/usr/bin/env python3
"""Build tests/fixtures/vocabulary/sisimai.tsv from Sisimai's published tables.

Sisimai (BSD-2-Clause) keeps its knowledge of bounce wording in tables: the
phrase lists of lib/Sisimai/Reason/*.pm and the providers' documented reply
texts of lib/Sisimai/Rhost/*.pm (Google's SMTP error reference, Microsoft's
NDR codes, Mimecast's, Apple's, Yahoo's, Tencent's...).  This script turns
each entry into one row: where the text came from, the remote host it is
answered by (providers only), the reply code, the status and the text.  Each
row is then put in a minimal DSN (tests/e2e/vocabulary_dsn.py) and given to
Sisimai itself; its answer is the row's expected reason.  Rows whose entry is
only a fragment that Sisimai answers nothing for are left out.  The MTAs'
own tables (lib/Sisimai/Lhost/*.pm: qmail's, Exim's, Domino's... texts by
reason) give their answer themselves: the table's key.  The phrase lists are
written twice, the second time under Status 5.1.1 ("Reason::X@5.1.1"), where
Sisimai lets some wordings outrank the code and not others.  The last
column is Rebound's own answer where it differs on purpose ("=" otherwise);
tests/e2e/test_vocabulary.py checks every row.

Usage: vocabulary.py SISIMAI_CHECKOUT [--rebound BUILD/rebound]
  SISIMAI_CHECKOUT: a checkout of github.com/sisimai/p5-sisimai (v5.1.0p3
  was used) whose lib/ runs with the Perl modules Debian's libsisimai-perl
  depends on.  Reads no message of Sisimai's set-of-emails.
"""
import glob, json, os, re, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.path.join(root, "tests", "e2e"))
from vocabulary_dsn import dsn  # noqa: E402

try:
    import re._parser as sre_parse, re._constants as sre_c
except ImportError:  # Python < 3.11
    import sre_parse, sre_constants as sre_c

STR = r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\""
# Sisimai::Rhost's host list: one host per provider for the Remote-MTA field.
HOSTS = {"Apple": "mx01.mail.icloud.com", "Cox": "cxr.mx.a.cloudfilter.net.cox.net",
         "FrancePTT": "smtp-in.orange.fr", "GoDaddy": "smtp.secureserver.net",
         "Google": "gmail-smtp-in.l.google.com", "IUA": "mx.email.ua",
         "KDDI": "lsean.ezweb.ne.jp", "Microsoft": "mx.prod.outlook.com",
         "Mimecast": "us-smtp-inbound-1.mimecast.com", "NTTDOCOMO": "mfsmax.docomo.ne.jp",
         "Spectrum": "mx.charter.net", "Tencent": "mx3.qq.com",
         "YahooInc": "mta7.am0.yahoodns.net"}


def examples(tree):
    """Strings that together take every alternative of a parsed regex once."""
    outs = [""]

    def join(a, b):
        n = max(len(a), len(b))
        return [a[i % len(a)] + b[i % len(b)] for i in range(n)]
    for op, av in tree:
        if op == sre_c.LITERAL:
            outs = [o + chr(av) for o in outs]
        elif op in (sre_c.NOT_LITERAL, sre_c.ANY):
            outs = [o + "x" for o in outs]
        elif op == sre_c.IN:
            ch = "x"
            for k, v in av:
                if k == sre_c.LITERAL:
                    ch = chr(v)
                elif k == sre_c.RANGE:
                    ch = chr(v[0])
                elif k == sre_c.CATEGORY:
                    ch = "1" if "DIGIT" in str(v) else " " if "SPACE" in str(v) else "a"
                break
            outs = [o + ch for o in outs]
        elif op == sre_c.BRANCH:
            subs = [s for b in av[1] for s in examples(b)]
            outs = join(outs, subs)
        elif op == sre_c.SUBPATTERN:
            outs = join(outs, examples(av[-1]))
        elif op == getattr(sre_c, "ATOMIC_GROUP", None):
            outs = join(outs, examples(av))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            lo, _hi, sub = av
            if lo > 0:
                outs = join(outs, [s * lo for s in examples(sub)])
    return outs


def reason_rows(lib):
    for f in sorted(glob.glob(os.path.join(lib, "Sisimai", "Reason", "*.pm"))):
        name = os.path.basename(f)[:-3]
        t = open(f).read()
        for m in re.finditer(r"state \$pairs\s*=\s*\[(.*?)\n\s*\];", t, re.S):
            for inner in re.findall(r"\[([^\[\]]*)\]", m.group(1)):
                parts = [a or b for a, b in re.findall(STR, inner)]
                if parts:
                    yield ("Reason::" + name, "", "550", "5.0.0", "".join(parts).strip())
        t = re.sub(r"state \$pairs\s*=\s*\[(.*?)\n\s*\];", "", t, flags=re.S)
        for m in re.finditer(r"state \$\w+\s*=\s*\[(.*?)\];", t, re.S):
            for a, b in re.findall(STR, m.group(1)):
                yield ("Reason::" + name, "", "550", "5.0.0", (a or b).replace("\\'", "'").strip())
        for m in re.finditer(r"qr\{(.*?)\}x", t, re.S):
            for x in examples(list(sre_parse.parse(m.group(1).replace("\\z", "\\Z"), re.X))):
                yield ("Reason::" + name, "", "550", "5.0.0", " ".join(x.split()))


def rhost_rows(lib):
    for f in sorted(glob.glob(os.path.join(lib, "Sisimai", "Rhost", "*.pm"))):
        mod = os.path.basename(f)[:-3]
        m = re.search(r"state \$messagesof\s*=\s*\{(.*?)\n    \};", open(f).read(), re.S)
        if not m or mod not in HOSTS:
            continue
        body = re.sub(r"#[^\n]*", "", m.group(1))
        for km in re.finditer(r"'(\w+)'\s*=>\s*(\[(?:[^\[\]]|\[[^\[\]]*\])*\]|'[^']*')", body, re.S):
            val = km.group(2)
            if val.startswith("'"):
                yield ("Rhost::" + mod, HOSTS[mod], "550", "5.0.0", val.strip("'"))
                continue
            tuples = re.findall(r"\[([^\[\]]*)\]", val[1:-1])
            if not tuples:
                for a, b in re.findall(STR, val[1:-1]):
                    yield ("Rhost::" + mod, HOSTS[mod], "550", "5.0.0", a or b)
            for tp in tuples:
                strs = [a or b for a, b in re.findall(STR, tp)]
                reply, status = "550", "5.0.0"
                if mod == "Google":
                    reply, status = strs[0], strs[1]
                elif mod == "Microsoft":
                    parts = [x.strip().strip("'") for x in tp.split(",")]
                    if parts[0].count(".") != 2 or parts[1] != parts[2]:
                        continue  # a range of codes: no one text to write
                    status = parts[0]
                    reply = "550" if status[0] == "5" else "451"
                elif mod == "Mimecast":
                    reply = re.findall(r"\d{3}", tp)[0]
                    status = reply[0] + ".0.0"
                if status[0] == "4" and reply[0] != "4":
                    reply = "451"
                yield ("Rhost::" + mod, HOSTS[mod], reply, status, strs[-1].strip())


def lhost_rows(lib):
    """The MTAs' own tables (reason => texts): the table's key is the answer."""
    for f in sorted(glob.glob(os.path.join(lib, "Sisimai", "Lhost", "*.pm"))):
        mod = os.path.basename(f)[:-3]
        for m in re.finditer(r"state \$\w+\s*=\s*\{(.*?)\n    \};", open(f).read(), re.S):
            body = re.sub(r"#[^\n]*", "", m.group(1))
            for km in re.finditer(r"'(\w+)'\s*=>\s*\[((?:[^\[\]]|\[[^\[\]]*\])*)\]", body, re.S):
                if km.group(1) not in REASONS:
                    continue
                for a, b in re.findall(STR, km.group(2)):
                    text = (a or b).replace("\\'", "'").strip()
                    if len(text) >= 8:
                        yield ("Lhost::" + mod, "", "550", "5.0.0", text, km.group(1))
            # the other way round: 'TEXT' => 'reason' (Exchange's NDR codes)
            for km in re.finditer(r"'([^']{8,})'\s*=>\s*'(\w+)'", body):
                if km.group(2) in REASONS:
                    yield ("Lhost::" + mod, "", "550", "5.0.0", km.group(1), km.group(2))


def main():
    lib = os.path.join(sys.argv[1], "lib")
    rebound = sys.argv[sys.argv.index("--rebound") + 1] if "--rebound" in sys.argv \
        else os.path.join(root, "build", "rebound")
    rows, seen = [], set()
    table = {}
    reasons = list(reason_rows(lib))
    # the same phrases under Status 5.1.1: which wordings outrank the code
    coded = [(src + "@5.1.1", host, reply, "5.1.1", text) for src, host, reply, _st, text in reasons]
    for r in reasons + list(rhost_rows(lib)) + list(lhost_rows(lib)) + coded:
        if r[4] and r[1:5] not in seen:
            seen.add(r[1:5])
            if len(r) > 5:
                table[len(rows)] = r[5]
            rows.append(r[:5])
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, (_src, host, reply, status, text) in enumerate(rows):
            p = os.path.join(d, "%04d.eml" % i)
            open(p, "w").write(dsn(i, host, reply, status, text))
            files.append(p)
        # Sisimai walks some tables in hash order: a text that two entries
        # match can get either answer.  Two hash seeds; rows they disagree
        # on are left out.
        runs = []
        for seed in ("1", "2"):
            env = dict(os.environ, PERL_HASH_SEED=seed, PERL_PERTURB_KEYS="2")
            sis = subprocess.run(["perl", "-I" + lib, "-MSisimai", "-e",
                                  'for (@ARGV) { my $v = Sisimai->rise($_) // []; '
                                  'print join(",", map { $_->reason } @$v), "\\n" }'] + files,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, env=env)
            runs.append(sis.stdout.decode().splitlines())
        answers = [a if a == b else "" for a, b in zip(*runs)]
        ours = {}
        out = subprocess.run([rebound, "parse", "--json"] + files, stdout=subprocess.PIPE, check=True)
        for line in out.stdout.decode().splitlines():
            j = json.loads(line)
            ours[os.path.basename(j["file"])] = j["reason"]
    w = open(os.path.join(root, "tests", "fixtures", "vocabulary", "sisimai.tsv"), "w")
    w.write("# source\tremote-mta\treply\tstatus\ttext\tsisimai\trebound\n")
    kept = agree = 0
    for i, r in enumerate(rows):
        s = table.get(i, answers[i])
        if s in ("", "onhold", "undefined") or s not in REASONS:
            continue
        o = ours.get("%04d.eml" % i, "")
        kept += 1
        agree += o == s
        w.write("\t".join(r + (s, "=" if o == s else o)) + "\n")
    print("rows %d, Rebound agrees on %d (%.1f%%)" % (kept, agree, 100.0 * agree / kept))


REASONS = set("userunknown hostunknown hasmoved notaccept mailboxfull suspend expired filtered "
              "blocked spamdetected policyviolation rejected authfailure requireptr badreputation "
              "norelaying securityerror virusdetected contenterror notcompliantrfc mesgtoobig "
              "exceedlimit systemerror systemfull networkerror mailererror toomanyconn speeding "
              "syntaxerror".split())

if __name__ == "__main__":
    main()
