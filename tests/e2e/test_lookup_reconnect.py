"""The index outlives a database restart and catches up afterwards; a
daemon started with the database down answers TEMP until it can load."""
import json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupTest


class ReconnectTest(LookupTest):

    def test_restart_keeps_answers_and_reloads(self):
        self.env.suppress_sql("kept@example.com")
        self.env.start()
        self.assertEqual(self.env.postmap("kept@example.com")[0], 0)
        self.env.pg.stop()
        # lookups never wait on the database: still answered from memory
        self.assertEqual(self.env.postmap("kept@example.com")[0], 0)
        code, body = self.env.curl(f"http://127.0.0.1:{self.env.http_port}/healthz")
        self.assertEqual(code, 503)
        self.assertFalse(json.loads(body)["database"]["ok"])
        self.env.pg.start()
        # changed while the listener may still be reconnecting: the reload picks it up
        self.env.suppress_sql("missed@example.com")
        self.env.pg.psql("DELETE FROM suppressions WHERE address_key = 'kept@example.com'")
        self.env.wait_for(lambda: self.env.postmap("missed@example.com")[0] == 0, 10)
        self.env.wait_for(lambda: self.env.postmap("kept@example.com")[0] == 1, 10)
        code, body = self.env.curl(f"http://127.0.0.1:{self.env.http_port}/healthz")
        self.assertEqual(code, 200)
        self.assertIn("reconnected", self.env.log())

    def test_start_with_database_down(self):
        self.env.suppress_sql("early@example.com")
        self.env.pg.stop()
        self.env.start()
        self.assertEqual(self.env.socketmap(["suppressed early@example.com"]),
                         ["TEMP suppression index not loaded yet"])
        self.assertTrue(self.env.policy({"recipient": "early@example.com"}).startswith(
            "action=DEFER_IF_PERMIT"))
        self.env.pg.start()
        self.env.wait_for(lambda: self.env.socketmap(["suppressed early@example.com"])[0].startswith("OK "), 10)


if __name__ == "__main__":
    harness.run()
