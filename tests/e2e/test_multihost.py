"""Past one machine, on one machine: a PostgreSQL primary and a streaming hot
standby (pg_basebackup -R), two "rebound serve" receivers (own spools, own
ports) writing to the primary, "rebound lookupd" following the standby.

Bounces sent to both receivers answer "suppressed" on the standby's lookupd
within 2 s.  With the primary stopped (REBOUND_STANDBY_OUTAGE_SECONDS, default 8;
make bench-scale does 30) both receivers keep acknowledging into their
spools, 452 only past [spool] high_water, and when it returns both drain
and every acknowledged message reaches the standby's lookups.  Prints the
times as # lines."""
import os, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from multihost import Layout

OUTAGE = float(os.environ.get("REBOUND_STANDBY_OUTAGE_SECONDS", "8"))
HIGH_WATER_B = 6


class MultiHostTest(unittest.TestCase):
    def setUp(self):
        self.t = Layout(receivers=2, high_water=[100000, HIGH_WATER_B])

    def tearDown(self):
        self.t.destroy()

    def test_standby_lookups_and_primary_outage(self):
        t = self.t
        a, b = t.receivers
        h = t.lookupd.health()
        self.assertTrue(h["index"]["standby"], h)

        # 1. each bounce answers on the standby's lookupd within 2 s of its 250
        delays = []
        for i in range(6):
            rcpt = f"live{i}@example.org"
            self.assertEqual(t.send(a if i % 2 == 0 else b, rcpt, f"live{i}"), 250)
            delays.append(t.wait_suppressed([rcpt], 2.0))
        print(f"# standby lookups: 250 -> suppressed on the standby in max {max(delays):.3f}s "
              f"(median {sorted(delays)[len(delays) // 2]:.3f}s)")
        self.assertEqual(t.primary.psql("SELECT count(*) FROM messages"), [["6"]])

        # 2. the primary goes away; the receivers keep acknowledging
        t.primary.stop("fast")
        t0 = time.monotonic()
        acked = []
        i = 0
        while time.monotonic() - t0 < OUTAGE or i < 8:
            rcpt = f"outage-a{i}@example.org"
            self.assertEqual(t.send(a, rcpt, f"oa{i}"), 250, t.logs())
            acked.append(rcpt)
            i += 1
            time.sleep(0.2)
        codes = []
        for j in range(HIGH_WATER_B + 2):
            rcpt = f"outage-b{j}@example.org"
            codes.append(t.send(b, rcpt, f"ob{j}"))
            if codes[-1] == 250:
                acked.append(rcpt)
        # b's spool takes exactly high_water messages, then 452 4.3.1
        self.assertEqual(codes, [250] * HIGH_WATER_B + [452, 452], t.logs())
        # lookups keep answering from memory meanwhile
        self.assertTrue(t.lookupd.suppressed("live0@example.org"))
        while time.monotonic() - t0 < OUTAGE:
            time.sleep(0.1)
        outage = time.monotonic() - t0

        # 3. it returns: both spools drain, the standby catches up, nothing lost
        t.primary.start()
        t1 = time.monotonic()
        drained = t.wait_suppressed(acked, 60)
        total = 6 + len(acked)
        t.primary.wait(self, "SELECT count(*) FROM messages", [[str(total)]], t.logs, 10)
        print(f"# primary outage {outage:.1f}s: {len(acked)} messages acknowledged meanwhile "
              f"(a: {i}, b: {HIGH_WATER_B}, then 452), all suppressed on the standby "
              f"{time.monotonic() - t1:.1f}s after the primary returned")
        self.assertGreaterEqual(drained, 0)
        for d in (a, b):
            self.assertIn("store state=up", d.log())
        # b accepts again once drained
        self.assertEqual(t.send(b, "after@example.org", "after"), 250)
        t.wait_suppressed(["after@example.org"], 5)
        h = t.lookupd.health()
        self.assertTrue(h["index"]["standby"])
        self.assertLess(h["index"]["lag_seconds"], 2, h)
        for d in (a, b):
            self.assertEqual(d.stop(), 0, d.log()[-2000:])
        self.assertEqual(t.lookupd.stop(), 0)


if __name__ == "__main__":
    harness.run()
