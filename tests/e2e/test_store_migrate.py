#!/usr/bin/env python3
"""rebound migrate: applies sql/ in order, is idempotent, refuses a newer database."""
import os, subprocess, tempfile, unittest
import harness

# Every sql/NNN_*.sql, as rebound_migrations records them.
MIGRATIONS = sorted([str(int(n[:3])), n] for n in os.listdir(os.path.join(harness.ROOT, "sql"))
                    if n.endswith(".sql"))
MIGRATIONS.sort(key=lambda r: int(r[0]))
LATEST = int(MIGRATIONS[-1][0])


class Migrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = harness.Pg().start()
        cls.dir = tempfile.mkdtemp(prefix="rebound-migrate-")
        cls.conf = os.path.join(cls.dir, "rebound.conf")
        with open(cls.conf, "w") as f:
            f.write(f"[store]\nconninfo = {cls.pg.conninfo}\n[spool]\ndir = {cls.dir}/spool\n")

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def migrate(self, *extra, cwd=harness.ROOT):
        return subprocess.run([harness.REBOUND, "migrate", "-c", self.conf] + list(extra),
                              cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)

    def check_connect(self):
        return subprocess.run([harness.REBOUND, "serve", "-n", "--connect", "-c", self.conf],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)

    def test_1_applies_then_idempotent(self):
        # serve -n --connect: the database answers, but is not migrated yet
        p = self.check_connect()
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(b'run "rebound migrate"', p.stdout)
        p = self.migrate()
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"%d applied" % len(MIGRATIONS), p.stdout)
        tables = {r[0] for r in self.pg.psql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        for t in ("messages", "events", "suppressions", "suppression_audit", "rebound_migrations"):
            self.assertIn(t, tables)
        # from another working directory too: the binary finds sql/ next to itself
        p = self.migrate(cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"0 applied", p.stdout)
        self.assertEqual(self.pg.psql("SELECT version, name FROM rebound_migrations ORDER BY version"),
                         MIGRATIONS)
        p = self.migrate("--status")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"database version %d" % LATEST, p.stdout)
        p = self.check_connect()
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_2_refuses_newer_database(self):
        self.assertEqual(self.migrate().returncode, 0)
        self.pg.psql("INSERT INTO rebound_migrations VALUES (999, '999_future.sql')")
        try:
            p = self.migrate()
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn(b"newer than this binary", p.stdout)
        finally:
            self.pg.psql("DELETE FROM rebound_migrations WHERE version = 999")

    def test_3_errors(self):
        bad = os.path.join(self.dir, "bad.conf")
        with open(bad, "w") as f:
            f.write("[store]\nconninfo = host=/nonexistent dbname=x\n")
        p = subprocess.run([harness.REBOUND, "migrate", "-c", bad], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot connect", p.stdout)
        p = subprocess.run([harness.REBOUND, "migrate", "--bogus"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"Unknown option --bogus", p.stdout)
        # Without -c: the default file, named when it is missing.
        if not os.path.exists("/etc/rebound/rebound.conf"):
            p = subprocess.run([harness.REBOUND, "migrate"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"/etc/rebound/rebound.conf", p.stdout)


if __name__ == "__main__":
    harness.run()
