#!/usr/bin/env python3
"""Hostile MIME (issue 6), made at test time by tests/fixtures/hostile/gen.py:
1,000-deep nesting, 100,000 parts, a 10 MB header, missing and duplicated
boundaries, base64 and quoted-printable garbage, unknown charsets, a DSN
with 100,000 recipient blocks and a bounce of a bounce.

Offline: `rebound parse --json` under CPU and address-space limits finishes,
prints an outcome for every message and never dies of a signal.
Served: a subset over SMTP to `rebound serve` with a real PostgreSQL: 250,
stored with its outcome, the daemon still the same process, and a normal
DSN afterwards still suppresses."""
import json, os, re, resource, smtplib, subprocess, sys, tempfile, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "fixtures", "hostile"))
import gen

TOO_MANY_PARTS, HEADER_TOO_BIG, TOO_DEEP = 1 << 3, 1 << 4, 1 << 2
BAD_CHARSET, NEUTRALISED, TOO_MANY_RCPTS = 1 << 6, 1 << 7, 1 << 9
CPU_SECONDS, AS_BYTES, RSS_KB = 20, 1024 << 20, 256 * 1024
with open(harness.REBOUND, "rb") as _f:
    # ASan (make SANITIZE=1) reserves terabytes of shadow: no RLIMIT_AS there, a
    # looser RSS bound instead (the same choice as workers/workers.c).
    ASAN = b"__asan_init" in _f.read()
if ASAN:
    RSS_KB *= 3


def _limits():
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    if not ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (AS_BYTES, AS_BYTES))


class ParseCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rebound-hostile-mime-")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.dir])

    def parse(self, name, *extra):
        path = os.path.join(self.dir, name + ".eml")
        with open(path, "wb") as f:
            f.write(gen.CASES[name]())
        t0 = time.time()
        p = subprocess.run([harness.REBOUND, "parse", "--json", "--outcomes", *extra, path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, preexec_fn=_limits, cwd=harness.ROOT)
        took = time.time() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertEqual(p.returncode, 0, (name, p.returncode, p.stderr[-500:]))
        self.assertLess(rss, RSS_KB, f"{name}: peak RSS {rss} kB")
        self.assertLess(took, CPU_SECONDS, f"{name}: {took:.1f}s")
        lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
        self.assertTrue(lines, f"{name}: no outcome printed; stderr {p.stderr!r}")
        for o in lines:
            self.assertEqual(o["file"], path)
            self.assertIsInstance(o["outcome"], str)
            self.assertIn("truncated", o)
        print(f"# {name}: {os.path.getsize(path)} octets, {took * 1000:.0f} ms, "
              f"{len(lines)} line(s), outcome {lines[0]['outcome']!r}", flush=True)
        return lines

    def test_nest_1000_deep(self):
        (o,) = self.parse("nest_deep")
        self.assertEqual(o["kind"], "none")
        self.assertIn(o["outcome"], ("MIME nesting too deep", "too many MIME parts"))
        self.assertTrue(o["anomalies"] & (TOO_DEEP | TOO_MANY_PARTS))

    def test_100000_parts(self):
        (o,) = self.parse("many_parts")
        self.assertEqual(o["outcome"], "too many MIME parts")
        self.assertTrue(o["anomalies"] & TOO_MANY_PARTS)

    def test_10mb_header(self):
        (o,) = self.parse("big_header")
        self.assertEqual(o["outcome"], "header too big")
        self.assertTrue(o["anomalies"] & HEADER_TOO_BIG)
        self.assertIsNone(o["recipient"])

    def test_missing_boundary(self):
        (o,) = self.parse("missing_boundary")
        # Without a boundary GMime sees no parts; the delivery-status block
        # is still in the raw body and is read from there (the parser's
        # broken-boundary recovery), so the dead recipient is not lost.
        self.assertEqual(o["recipient"], "nobound@dead.example")
        self.assertEqual((o["class"], o["status"]), ("hard", "5.1.1"))
        self.assertEqual(o["outcome"], "ok")

    def test_duplicated_boundary(self):
        lines = self.parse("duplicated_boundary")
        self.assertEqual({o["recipient"] for o in lines}, {"dupbound@dead.example"})
        self.assertEqual(lines[0]["class"], "hard")

    def test_base64_garbage(self):
        (o,) = self.parse("b64_garbage")
        self.assertIsNone(o["recipient"])
        self.assertEqual(o["outcome"], "no recipient found")

    def test_quoted_printable_garbage(self):
        (o,) = self.parse("qp_garbage")
        self.assertEqual(o["recipient"], "qp@dead.example")
        self.assertEqual(o["outcome"], "ok")

    def test_unknown_charsets(self):
        (o,) = self.parse("unknown_charsets")
        self.assertEqual(o["recipient"], "charset@dead.example")
        self.assertTrue(o["anomalies"] & (BAD_CHARSET | NEUTRALISED), o["anomalies"])
        self.assertEqual(o["outcome"], "ok")

    def test_dsn_100000_recipient_blocks_truncated(self):
        lines = self.parse("dsn_many_recipients")
        self.assertEqual(len(lines), 1000)      # [parser] max_recipients default
        self.assertEqual([o["recipient"] for o in lines],
                         ["r%d@dead.example" % i for i in range(1000)])
        for o in lines:
            self.assertIs(o["truncated"], True)
            self.assertEqual(o["outcome"], "too_many_recipients")
            self.assertTrue(o["anomalies"] & TOO_MANY_RCPTS)

    def test_max_recipients_from_config(self):
        conf = os.path.join(self.dir, "small.conf")
        with open(conf, "w") as f:
            f.write("[parser]\nmax_recipients = 10\n")
        lines = self.parse("dsn_many_recipients", "-c", conf)
        self.assertEqual(len(lines), 10)
        self.assertTrue(all(o["truncated"] for o in lines))

    def test_bounce_of_a_bounce(self):
        lines = self.parse("bounce_loop")
        # The enclosed bounce is the original message, not a second report.
        self.assertEqual([o["recipient"] for o in lines], ["outer@dead.example"])
        self.assertEqual(lines[0]["original_subject"], "dsn inner")
        self.assertIs(lines[0]["truncated"], False)


class OverSmtp(unittest.TestCase):
    """A subset through the real daemon and PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        # A non-default cap shows [parser] max_recipients reaches the parse workers.
        cls.pg, cls.d = harness.store_daemon({"parser": {"max_recipients": "500"}})
        cls.d.start()
        cls.pid = cls.d.proc.pid

    @classmethod
    def tearDownClass(cls):
        cls.d.finish(cls.pg)

    def send(self, data):
        with smtplib.SMTP("127.0.0.1", self.d.port, timeout=60) as s:
            s.ehlo("mx.remote.example")
            s.mail("<>")
            s.rcpt("bounce@bounces.example.com")
            code, text = s.data(data)
        self.assertEqual(code, 250, text)
        m = re.search(rb"queued as ([0-9A-Za-z]{16})", text)
        self.assertIsNotNone(m, text)
        return m.group(1).decode()

    def stored(self, qid, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            rows = self.pg.psql(f"SELECT id, kind, outcome, anomalies, quarantined FROM messages "
                                f"WHERE queue_id = '{qid}'")
            if rows:
                return rows[0]
            time.sleep(0.1)
        self.fail(f"{qid} never stored\n{self.d.log()[-3000:]}")

    def assert_alive_and_suppressing(self, tag):
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.proc.pid, self.pid)
        rcpt = f"after-{tag}@dead.example"
        self.stored(self.send(gen.dsn(rcpt, tag)))
        rows = self.pg.psql(f"SELECT class FROM suppressions WHERE address_key = '{rcpt}'")
        self.assertEqual(rows, [["hard"]])

    def test_hostile_messages_stored_with_outcome(self):
        want = {
            "nest_deep": ("none", ("MIME nesting too deep", "too many MIME parts"), 0),
            "many_parts": ("none", ("too many MIME parts",), 0),
            "big_header": ("none", ("header too big",), 0),
            # a multipart/report of delivery-status whose status part is garbage:
            # a DSN in form, naming nobody
            "b64_garbage": ("dsn", ("no recipient found",), 0),
            "unknown_charsets": ("dsn", ("ok",), 1),
            "bounce_loop": ("dsn", ("ok",), 1),
        }
        # No subTest: harness.py's TAP result does not report subtests.
        for name, (kind, outcomes, nevents) in want.items():
            mid, k, outcome, anomalies, quarantined = self.stored(self.send(gen.CASES[name]()))
            self.assertEqual(k, kind, name)
            self.assertIn(outcome, outcomes, name)
            self.assertEqual(quarantined, "f", name)
            n = self.pg.psql(f"SELECT count(*) FROM events WHERE message_id = {mid}")[0][0]
            self.assertEqual(int(n), nevents, name)
            self.assert_alive_and_suppressing(name)
        rows = self.pg.psql("SELECT count(*) FROM suppressions WHERE address_key = "
                            "'inner@victim.example'")
        self.assertEqual(rows, [["0"]])

    def test_dsn_100000_recipient_blocks_stored_truncated(self):
        mid, kind, outcome, anomalies, _ = self.stored(self.send(gen.dsn_many_recipients()))
        self.assertEqual((kind, outcome), ("dsn", "too_many_recipients"))
        self.assertTrue(int(anomalies) & TOO_MANY_RCPTS)
        n = self.pg.psql(f"SELECT count(*) FROM events WHERE message_id = {mid}")[0][0]
        self.assertEqual(int(n), 500)
        rows = self.pg.psql(f"SELECT recipient FROM events WHERE message_id = {mid} ORDER BY id")
        self.assertEqual(sorted(r[0] for r in rows), sorted("r%d@dead.example" % i for i in range(500)))
        self.assert_alive_and_suppressing("many")


if __name__ == "__main__":
    harness.run()
