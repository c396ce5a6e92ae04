"""Socketmap and policy lookups against a real PostgreSQL, with Postfix's
own postmap as the socketmap client."""
import os, socket, sys, time, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupEnv, netstring, read_netstring


class SocketmapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = LookupEnv(extra={"lookup": {
            "action_complaint": "REJECT 5.7.1 <%a> complained (%r, %c)"}})
        # present before start: loaded by the initial COPY
        cls.env.suppress_sql("Hard.User@Example.COM", "hard", "user_unknown")
        cls.env.suppress_sql("angry@example.com", "complaint", "abuse")
        cls.env.suppress_sql("full@example.com", "soft", "mailbox_full",
                             expires="now() + interval '1 day'")
        cls.env.suppress_sql("old@example.com", "soft", "mailbox_full",
                             expires="now() - interval '1 day'")
        cls.env.suppress_sql("acme-only@example.com", "hard", "user_unknown", tenant="acme")
        cls.env.start()

    @classmethod
    def tearDownClass(cls):
        cls.env.destroy()

    def assertClosed(self, s):
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass  # closed with our unread junk still queued

    def test_postmap_found(self):
        rc, out, err = self.env.postmap("hard.user@example.com")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "REJECT 5.1.1 <hard.user@example.com>: on the suppression list (user_unknown)")

    def test_postmap_case_insensitive_local_part(self):
        rc, out, err = self.env.postmap("HARD.USER@EXAMPLE.com")
        self.assertEqual(rc, 0, err)
        self.assertIn("user_unknown", out)

    def test_postmap_notfound(self):
        rc, out, _ = self.env.postmap("nobody@example.com")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")

    def test_domain_and_user_at_keys_notfound(self):
        self.assertEqual(self.env.postmap("example.com")[0], 1)
        self.assertEqual(self.env.postmap("hard.user@")[0], 1)
        self.assertEqual(self.env.socketmap(["suppressed example.com", "suppressed hard.user@"]),
                         ["NOTFOUND ", "NOTFOUND "])

    def test_class_templates(self):
        rc, out, _ = self.env.postmap("angry@example.com")
        self.assertEqual(out, "REJECT 5.7.1 <angry@example.com> complained (abuse, complaint)")
        rc, out, _ = self.env.postmap("full@example.com")
        self.assertEqual(out, "DEFER 4.2.1 <full@example.com>: temporarily suppressed (mailbox_full)")

    def test_expired_soft_not_suppressed(self):
        self.assertEqual(self.env.postmap("old@example.com")[0], 1)

    def test_tenants_by_map_name(self):
        self.assertEqual(self.env.postmap("acme-only@example.com")[0], 1)
        rc, out, _ = self.env.postmap("acme-only@example.com", name="acme")
        self.assertEqual(rc, 0)
        self.assertIn("acme-only@example.com", out)
        self.assertEqual(self.env.socketmap(["nosuchtenant a@example.com"]), ["PERM unknown map"])

    def test_pipelined_requests_on_one_connection(self):
        replies = self.env.socketmap(["suppressed angry@example.com", "suppressed x@example.com",
                                      "suppressed", "suppressed <Hard.User@example.com>"])
        self.assertTrue(replies[0].startswith("OK REJECT 5.7.1"))
        self.assertEqual(replies[1], "NOTFOUND ")
        self.assertEqual(replies[2], "PERM malformed request")
        self.assertTrue(replies[3].startswith("OK REJECT 5.1.1"))

    def test_new_suppression_visible_within_one_second(self):
        self.assertEqual(self.env.postmap("late@example.com")[0], 1)
        self.env.suppress_sql("late@example.com", "hard", "user_unknown")
        took = self.env.wait_for(
            lambda: self.env.socketmap(["suppressed late@example.com"])[0].startswith("OK "), 1.0)
        print(f"# visible after {took * 1000:.0f} ms")
        self.env.pg.psql("DELETE FROM suppressions WHERE address_key = 'late@example.com'")
        self.env.wait_for(
            lambda: self.env.socketmap(["suppressed late@example.com"])[0] == "NOTFOUND ", 1.0)
        self.assertEqual(self.env.postmap("late@example.com")[0], 1)

    def test_update_changes_class(self):
        self.env.suppress_sql("changing@example.com", "hard", "user_unknown")
        self.env.wait_for(lambda: "5.1.1" in self.env.socketmap(["suppressed changing@example.com"])[0])
        self.env.suppress_sql("changing@example.com", "soft", "mailbox_full",
                              expires="now() + interval '1 hour'")
        self.env.wait_for(lambda: "DEFER 4.2.1" in self.env.socketmap(["suppressed changing@example.com"])[0])

    def test_broken_netstrings_close_connection_daemon_survives(self):
        for junk in [b"abc", b"99999999:x", b"5:hello!", b"4000000:", b":,"]:
            with socket.create_connection(("127.0.0.1", self.env.sm_port), timeout=5) as s:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                self.assertClosed(s)
        # overlong but well-formed netstring
        with socket.create_connection(("127.0.0.1", self.env.sm_port), timeout=5) as s:
            s.sendall(netstring("suppressed " + "a" * 5000 + "@example.com"))
            self.assertClosed(s)
        self.assertEqual(self.env.postmap("angry@example.com")[0], 0)
        self.assertIsNone(self.env.proc.poll())

    def test_policy_protocol(self):
        r = self.env.policy({"request": "smtpd_access_policy", "protocol_state": "RCPT",
                             "sender": "news@bounces.example.net", "recipient": "hard.user@example.com"})
        self.assertEqual(r, "action=REJECT 5.1.1 <hard.user@example.com>: on the suppression list (user_unknown)\n\n")
        r = self.env.policy({"request": "smtpd_access_policy", "recipient": "fine@example.com"})
        self.assertEqual(r, "action=DUNNO\n\n")
        r = self.env.policy({"request": "smtpd_access_policy", "protocol_state": "CONNECT"})
        self.assertEqual(r, "action=DUNNO\n\n")

    def test_policy_tenant_from_sender_and_context(self):
        attrs = {"request": "smtpd_access_policy", "recipient": "acme-only@example.com"}
        self.assertEqual(self.env.policy(attrs), "action=DUNNO\n\n")
        self.assertTrue(self.env.policy(dict(attrs, sender="x@acme.example")).startswith("action=REJECT"))
        self.assertTrue(self.env.policy(dict(attrs, sender="x@eu.acme-mail.example")).startswith("action=REJECT"))
        self.assertTrue(self.env.policy(dict(attrs, policy_context="acme")).startswith("action=REJECT"))

    def test_policy_several_requests_one_connection_and_junk(self):
        with socket.create_connection(("127.0.0.1", self.env.pd_port), timeout=5) as s:
            s.sendall(b"request=smtpd_access_policy\nrecipient=angry@example.com\n\n"
                      b"request=smtpd_access_policy\r\nrecipient=nobody@example.com\r\n\r\n")
            buf = b""
            while buf.count(b"\n\n") < 2:
                buf += s.recv(4096)
            self.assertTrue(buf.startswith(b"action=REJECT 5.7.1"))
            self.assertTrue(buf.endswith(b"action=DUNNO\n\n"))
        for junk in [b"no equals sign\n", b"x" * 5000, b"".join(b"a%d=b\n" % i for i in range(200))]:
            with socket.create_connection(("127.0.0.1", self.env.pd_port), timeout=5) as s:
                s.sendall(junk)
                self.assertClosed(s)
        self.assertIsNone(self.env.proc.poll())


if __name__ == "__main__":
    harness.run()
