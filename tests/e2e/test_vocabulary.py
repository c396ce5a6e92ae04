#!/usr/bin/env python3
"""rebound parse on Sisimai's published phrase lists and providers' reply texts.

tests/fixtures/vocabulary/sisimai.tsv holds 1,772 texts from Sisimai 5.1's
Reason, Rhost and Lhost tables (its phrase lists, also under Status 5.1.1;
the providers' documented replies: Google, Microsoft, Mimecast, Apple,
Yahoo, Tencent, Cox, GoDaddy; the MTAs' own texts: qmail, Exim, Exchange...)
with Sisimai's answer for each, and Rebound's where it differs on purpose (tests/accuracy/vocabulary.py
wrote it).  Each row becomes a one-recipient DSN (vocabulary_dsn.py); every
row must get its expected reason: one TAP line per table.  Then the general
phrases (no provider's) are put in the plain-text notices of Exim, qmail,
Sendmail, Courier and GMX, which carry no report: each must get the reason
its DSN got, one TAP line per format; in a delay warning, where the
reason stands unless the words only name the path; and two by two, two
recipients refused in one notice.
"""
import collections, json, os, random, subprocess, sys, tempfile, textwrap

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, here)
from vocabulary_dsn import FORMATS, delayed, dsn, two  # noqa: E402

build = os.environ.get("REBOUND_BUILD", os.path.join(root, "build"))
rows = []
with open(os.path.join(root, "tests", "fixtures", "vocabulary", "sisimai.tsv")) as f:
    for line in f:
        if not line.startswith("#"):
            rows.append(line.rstrip("\n").split("\t"))


def run(messages):
    """rebound parse --json on messages, {key: text} (keys: small ints);
    its records by key."""
    with tempfile.TemporaryDirectory() as d:
        files = []
        for key, text in messages.items():
            p = os.path.join(d, "%06d.eml" % key)
            with open(p, "w") as w:
                w.write(text)
            files.append(p)
        out = subprocess.run([os.path.join(build, "rebound"), "parse", "--json"] + files,
                             stdout=subprocess.PIPE, check=True).stdout.decode()
    records = collections.defaultdict(list)
    for line in out.splitlines():
        j = json.loads(line)
        records[int(os.path.basename(j["file"])[:6])].append(j)
    return records


def parse(make, which):
    """Reasons by row for the rows in which, each written by make."""
    records = run({i: make(i, *rows[i][1:5]) for i in which})
    return {i: [j["reason"] for j in records.get(i, [])] for i in which}


got = parse(dsn, range(len(rows)))
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
# Fragments whose words are the notice's own lines in that format (Exim's
# "SMTP error from remote mail server after ..."), or say nothing alone.
FRAGMENTS = {"smtp error from remote mail server after initial connection:", "giving up on",
             "malformed address:"}
general = [i for i, r in enumerate(rows) if not r[1] and r[4] not in FRAGMENTS and not r[0].endswith("@5.1.1")]
for name, make in FORMATS.items():
    other = parse(lambda i, _h, reply, status, text: make(i, reply, status, text), general)
    bad = ["%r: DSN %s, %s %s" % (rows[i][4], ",".join(got[i]), name, ",".join(other[i]) or "nothing")
           for i in general if other[i] != got[i]]
    n += 1
    print("%s %d - the same %d texts in %s's notice" % ("not ok" if bad else "ok", n, len(general), name))
    for b in bad[:10]:
        print("#   " + b)
# The same texts in a warning (Action: delayed): the message still waits for
# the reason the words give, unless they only name the path (a program, a
# connection refused or dropped: what a retry is for), which is "expired".
rules_of = {i: js[0]["rule"] for i, js in run({i: dsn(i, *rows[i][1:5]) for i in general}).items()}
PATH_ONLY_REASONS = {"mailererror", "onhold", "undefined", "expired"}
PATH_ONLY_RULES = {"blk-refused", "blk-dropped"}
late = parse(lambda i, _h, reply, status, text: delayed(i, reply, status, text), general)
bad = []
for i in general:
    want = "expired" if (got[i] and got[i][0] in PATH_ONLY_REASONS) or \
        rules_of.get(i) in PATH_ONLY_RULES else ",".join(got[i])
    if late[i] != [want]:
        bad.append("%r: DSN %s (%s), warning %s, want %s" % (rows[i][4], ",".join(got[i]), rules_of.get(i),
                                                             ",".join(late[i]) or "nothing", want))
n += 1
print("%s %d - the same %d texts in a delay warning" % ("not ok" if bad else "ok", n, len(general)))
for b in bad[:10]:
    print("#   " + b)
# Two recipients refused with two texts that get different reasons, in one
# report, one qmail and one Exim notice: each keeps its own reason (the other's
# paragraph is no evidence for it).  300 pairs, the same ones every run.
rnd = random.Random(13)
pairs = []
while len(pairs) < 300:
    a, b = rnd.sample(general, 2)
    if got[a] and got[b] and got[a] != got[b]:
        pairs.append((a, b))
for fmt in ("report", "qmail", "exim"):
    each = {k: {j["recipient"]: j["reason"] for j in js} for k, js in
            run({k: two(k, rows[a][2:5], rows[b][2:5], fmt) for k, (a, b) in enumerate(pairs)}).items()}
    bad = []
    for k, (a, b) in enumerate(pairs):
        for who, i in (("ann%d@example.org" % k, a), ("bob%d@example.net" % k, b)):
            if each.get(k, {}).get(who) != got[i][0]:
                bad.append("%r beside %r: alone %s, here %s" % (
                    rows[i][4], rows[b if i == a else a][4], got[i][0], each[k].get(who)))
    n += 1
    print("%s %d - %d pairs of texts, two recipients in one %s" % (
        "not ok" if bad else "ok", n, len(pairs), fmt if fmt == "report" else fmt + " notice"))
    for x in bad[:10]:
        print("#   " + x)
# The commonest refusals in the languages mailbox providers answer in, with a
# generic code: the words decide (Sisimai's lists are English and Japanese).
LANGUAGES = [
    ("Benutzer unbekannt", "userunknown"), ("Empfänger unbekannt", "userunknown"),
    ("Das Postfach ist voll", "mailboxfull"), ("Speicherplatz des Postfachs überschritten", "mailboxfull"),
    ("Utilisateur inconnu", "userunknown"), ("Adresse inexistante", "userunknown"),
    ("Boîte aux lettres pleine", "mailboxfull"), ("Usuario desconocido", "userunknown"),
    ("El buzón está lleno", "mailboxfull"), ("Utente sconosciuto", "userunknown"),
    ("Indirizzo inesistente", "userunknown"), ("Casella di posta piena", "mailboxfull"),
    ("Usuário desconhecido", "userunknown"), ("Caixa postal cheia", "mailboxfull"),
    ("Gebruiker onbekend", "userunknown"), ("Mailbox vol", "mailboxfull"),
    ("Nieznany użytkownik", "userunknown"), ("Skrzynka pełna", "mailboxfull"),
    ("Пользователь не найден", "userunknown"), ("Почтовый ящик переполнен", "mailboxfull"),
]
FMTS = [("d", lambda k, t: dsn(k, "", "550", "5.0.0", t)),
        ("q", lambda k, t: FORMATS["qmail"](k, "550", "5.0.0", t))]
out = run({k * 2 + n: make(k, text) for k, (text, _w) in enumerate(LANGUAGES)
           for n, (_f, make) in enumerate(FMTS)})
said = {(key // 2, FMTS[key % 2][0]): js[0]["reason"] for key, js in out.items()}
bad = ["%r in %s: want %s, got %s" % (text, fmt, want, said.get((k, fmt)))
       for k, (text, want) in enumerate(LANGUAGES) for fmt in "dq"
       if said.get((k, fmt)) != want]
n += 1
print("%s %d - %d refusals in other languages, in a report and in qmail's notice" %
      ("not ok" if bad else "ok", n, len(LANGUAGES)))
for b in bad[:10]:
    print("#   " + b)
# A long reply on several lines ("550-5.7.1 ..." then "550 5.7.1 ..."), as
# Postfix joins them on one line of its text and its Diagnostic-Code: the
# prefixes inside the sentence do not split it.
def multiline(reply, status, text):
    parts = textwrap.wrap(text, 18, break_long_words=False, break_on_hyphens=False) or [text]
    return " ".join(["%s-%s %s" % (reply, status, p) for p in parts[:-1]] +
                    ["%s %s %s" % (reply, status, parts[-1])])


def split_reply(i, host, reply, status, text):
    one = "%s %s %s" % (reply, status, text)
    return dsn(i, host, reply, status, text).replace(one, multiline(reply, status, text))


wrapped = [i for i in general if len(rows[i][4]) > 24]
late = parse(split_reply, wrapped)
bad = ["%r: DSN %s, split %s" % (rows[i][4], ",".join(got[i]), ",".join(late[i]) or "nothing")
       for i in wrapped if late[i] != got[i]]
n += 1
print("%s %d - %d texts as a multi-line reply on one line" % ("not ok" if bad else "ok", n, len(wrapped)))
for b in bad[:10]:
    print("#   " + b)
# Replies that name another address than the recipient (an alias, a
# forward, a contact): in a report, and in the notices that enclose the
# original (Courier's does not: nothing says who the message was for), one
# record each, for the recipient.
OTHERS = ["mail for this user is forwarded to new.addr@other.test and that failed",
          "alias list@example.org expanded to member@example.net: user unknown",
          "User unknown; the message was sent by news@sender.example to this address",
          "mailbox full; try the alternate address alt.addr@other.test",
          "mailbox full (user1@example.org quota exceeded)",
          "Message rejected. Report abuse to abuse@provider.example",
          "user unknown. For assistance, email helpdesk@provider.example",
          "The recipient <other.person@example.org> is unknown",
          "Recipient address rejected: <a1@example.org>, <a2@example.org>"]
makers = [("dsn", lambda i, t: dsn(i, "", "550", "5.0.0", t))] + \
    [(name, (lambda m: lambda i, t: m(i, "550", "5.0.0", t))(make))
     for name, make in FORMATS.items() if name != "courier"]
records = {key: [j["recipient"] for j in js] for key, js in
           run({k * 10 + j + 100: make(k * 10 + j + 100, text) for k, text in enumerate(OTHERS)
                for j, (_name, make) in enumerate(makers)}).items()}
records = collections.defaultdict(list, records)
bad = ["%r in %s: %s" % (text, name, ",".join(records[k * 10 + j + 100]) or "nothing")
       for k, text in enumerate(OTHERS) for j, (name, _m) in enumerate(makers)
       if records[k * 10 + j + 100] != ["user%d@example.org" % (k * 10 + j + 100)]]
n += 1
print("%s %d - %d replies naming another address, one record each in %d formats" %
      ("not ok" if bad else "ok", n, len(OTHERS), len(makers)))
for b in bad[:10]:
    print("#   " + b)
# The providers' texts in Exim's notice, which names the provider's host only
# in its text ("host NAME [IP]"): its table must still decide.
hosted = [i for i, r in enumerate(rows) if r[1]]


def exim_at(i, host, reply, status, text):
    domain = host.split(".", 1)[1]
    return FORMATS["exim"](i, reply, status, text).replace(
        "mx.example.org [192.0.2.1]", host + " [192.0.2.1]").replace("example.org", domain)


other = parse(exim_at, hosted)
bad = ["%r at %s: DSN %s, exim %s" % (rows[i][4], rows[i][1], ",".join(got[i]), ",".join(other[i]) or "nothing")
       for i in hosted if other[i] != got[i]]
n += 1
print("%s %d - the %d providers' texts in exim's notice, the host named in its text" %
      ("not ok" if bad else "ok", n, len(hosted)))
for b in bad[:10]:
    print("#   " + b)
print("1..%d" % n)
