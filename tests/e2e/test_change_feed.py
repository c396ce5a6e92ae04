"""The lookup index follows the suppression change log (sql/004_change_feed.sql):
ids in commit order (a transaction that wrote first but commits last is not
skipped), removals in the log, pruning, and a reader behind the prune
horizon reloading; /healthz and /metrics say where the index is."""
import json, os, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupTest


class ChangeFeedTest(LookupTest):

    def suppressed(self, addr):
        return self.env.socketmap([f"suppressed {addr}"])[0].startswith("OK ")

    def health(self):
        code, body = self.env.curl(f"http://127.0.0.1:{self.env.http_port}/healthz")
        self.assertEqual(code, 200, body)
        return json.loads(body)["index"]

    def open_transaction(self, address):
        """psql holding an uncommitted insert of address; returns the process."""
        p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.env.pg.dir,
                              "-p", str(self.env.pg.port), "-U", "rebound", "-d", "rebound"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        p.stdin.write(("BEGIN; INSERT INTO suppressions (tenant, address, address_key, domain,"
                       " class, reason, origin) VALUES ('default', '%s', '%s', 'example.com',"
                       " 'hard', 'userunknown', 'manual');\n" % (address, address)).encode())
        p.stdin.flush()
        # the insert has run once the session holds its row lock on suppressions
        ok, got = self.env.pg.poll(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE c.relname = 'suppressions' AND l.mode = 'RowExclusiveLock'"
            " AND a.state = 'idle in transaction'", [["1"]], 10)
        self.assertTrue(ok, got)
        return p

    def test_late_commit_is_not_skipped(self):
        self.env.start()
        early = self.open_transaction("early@example.com")
        try:
            # written after "early" started, committed before it
            self.env.suppress_sql("late@example.com")
            self.env.wait_for(lambda: self.suppressed("late@example.com"), 5)
            self.assertFalse(self.suppressed("early@example.com"))
            early.stdin.write(b"COMMIT;\n")
            early.stdin.close()
            self.assertEqual(early.wait(10), 0, early.stderr.read())
        finally:
            if early.poll() is None:
                early.kill()
                early.wait()
        self.env.wait_for(lambda: self.suppressed("early@example.com"), 5)
        # the log numbers them in commit order: late first
        rows = self.env.pg.psql("SELECT address_key FROM suppression_changes"
                                " WHERE address_key IN ('early@example.com', 'late@example.com')"
                                " ORDER BY id")
        self.assertEqual(rows, [["late@example.com"], ["early@example.com"]])

    def test_unsuppress_is_logged_and_applied(self):
        self.env.suppress_sql("gone@example.com")
        self.env.start()
        self.assertTrue(self.suppressed("gone@example.com"))
        rc, out, err = self.env.cli("unsuppress", "gone@example.com")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.env.pg.psql(
            "SELECT op FROM suppression_changes WHERE address_key = 'gone@example.com'"
            " ORDER BY id"), [["U"], ["D"]])
        self.env.wait_for(lambda: not self.suppressed("gone@example.com"), 5)
        h = self.health()
        last = int(self.env.pg.psql("SELECT max(id) FROM suppression_changes")[0][0])
        self.env.wait_for(lambda: self.health()["change_id"] == last, 5)
        self.assertFalse(h["standby"])
        self.assertGreaterEqual(h["lag_seconds"], 0)
        self.assertLess(h["lag_seconds"], 5)
        code, body = self.env.curl(f"http://127.0.0.1:{self.env.http_port}/metrics")
        self.assertIn(f"rebound_index_change_id {last}", body)
        self.assertIn("rebound_index_lag_seconds ", body)

    def test_reader_behind_prune_horizon_reloads(self):
        self.env.suppress_sql("stale@example.com")
        self.env.start()
        self.assertTrue(self.suppressed("stale@example.com"))
        # the reader falls behind: it cannot poll while stopped
        self.env.proc.send_signal(signal.SIGSTOP)
        try:
            self.env.pg.psql("DELETE FROM suppressions WHERE address_key = 'stale@example.com'")
            self.env.suppress_sql("fresh@example.com")
            pruned = self.env.pg.psql("SELECT suppression_changes_prune('0 seconds', 1000)")
            self.assertEqual(pruned, [["3"]])
            self.assertEqual(self.env.pg.psql("SELECT count(*) FROM suppression_changes"), [["0"]])
        finally:
            self.env.proc.send_signal(signal.SIGCONT)
        # the removal of stale@ was pruned from the log: only a reload can see it
        self.env.wait_for(lambda: not self.suppressed("stale@example.com"), 5)
        self.assertTrue(self.suppressed("fresh@example.com"))
        self.assertIn("index reload reason=pruned", self.env.log())
        # and it follows the log again from the horizon
        self.env.suppress_sql("after@example.com")
        self.env.wait_for(lambda: self.suppressed("after@example.com"), 5)

    def test_prune_keeps_recent_changes(self):
        self.env.suppress_sql("old@example.com")
        self.env.suppress_sql("new@example.com")
        self.env.pg.psql("UPDATE suppression_changes SET at = now() - interval '8 days'"
                         " WHERE address_key = 'old@example.com'")
        self.assertEqual(self.env.pg.psql("SELECT suppression_changes_prune('7 days', 1000)"),
                         [["1"]])
        self.assertEqual(self.env.pg.psql("SELECT address_key FROM suppression_changes"),
                         [["new@example.com"]])
        horizon = self.env.pg.psql("SELECT pruned_through FROM suppression_changes_horizon")
        first = self.env.pg.psql("SELECT min(id) FROM suppression_changes")
        self.assertLess(int(horizon[0][0]), int(first[0][0]))
        # a reader starting now loads both and starts at the log's end
        self.env.start()
        self.assertTrue(self.suppressed("old@example.com"))
        self.assertTrue(self.suppressed("new@example.com"))
        self.assertNotIn("reload reason=pruned", self.env.log())

    def terminate_follower(self):
        rows = self.env.pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = 'rebound-notify'")
        self.assertEqual(rows, [["t"]])

    def test_reconnect_follows_on(self):
        self.env.suppress_sql("before@example.com")
        self.env.start()
        self.assertTrue(self.suppressed("before@example.com"))
        self.terminate_follower()
        # made while the follower is away: in the log, so no reload is needed
        self.env.suppress_sql("during@example.com")
        self.env.pg.psql("DELETE FROM suppressions WHERE address_key = 'before@example.com'")
        self.env.wait_for(lambda: self.suppressed("during@example.com"), 10)
        self.env.wait_for(lambda: not self.suppressed("before@example.com"), 5)
        log = self.env.log()
        self.assertIn("index state=connected standby=0 action=follow", log)
        self.assertEqual(log.count("index loaded"), 1, log)

    def test_reconnect_to_another_history_reloads(self):
        self.env.suppress_sql("kept@example.com")
        self.env.start()
        self.assertTrue(self.suppressed("kept@example.com"))
        # the server now holds another history: its log's last change is not
        # the one the follower applied, and a removal it never logged
        self.env.pg.psql("UPDATE suppression_changes SET at = at + interval '1 second'")
        self.env.pg.psql("ALTER TABLE suppressions DISABLE TRIGGER USER;"
                         "DELETE FROM suppressions WHERE address_key = 'kept@example.com';"
                         "ALTER TABLE suppressions ENABLE TRIGGER USER")
        self.assertTrue(self.suppressed("kept@example.com"))
        self.terminate_follower()
        self.env.wait_for(lambda: not self.suppressed("kept@example.com"), 10)
        log = self.env.log()
        self.assertIn("index state=connected standby=0 action=load", log)
        self.assertEqual(log.count("index loaded"), 2, log)


if __name__ == "__main__":
    harness.run()
