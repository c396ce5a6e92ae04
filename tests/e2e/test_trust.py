#!/usr/bin/env python3
"""What a report may suppress (issue 14), tried as an attacker would against
"rebound serve" configured as the README advises ([signing] key,
required_domains narrower than [smtp] domains, mode reject, a feedback-loop
address, [fbl] providers), and against one with no signing at all.

- A feedback-loop address vouches for ARF complaints only: a DSN sent to it
  (in any case, or with the domain in fullwidth forms) suppresses nobody,
  and adding it next to a genuine signed path widens nothing.
- A complaint counts only with a passing DKIM signature of a listed
  provider (keys generated here, read through libopendkim's key-file query
  method); forged ones of every Original-Mail-From shape suppress nobody.
- Every [smtp] domains entry is covered by signing unless exempted; what
  stays open is printed by "serve -n" and logged at start.
- One message suppresses at most [policy] max_suppressions_per_message
  addresses."""
import json, os, re, signal, smtplib, subprocess, tempfile, time, unittest, urllib.error,\
    urllib.request

import harness
import store_msgs as m
from dkim_keys import Keys

KEY = bytes(range(100, 132))
FBL = "fbl@example.com"
PROVIDER = "isp.example"


def dsn_many(rcpts, tag, to):
    """A hard-bounce DSN with one recipient block per address."""
    one = m.dsn("hard", rcpts[0], tag, to=to).decode()
    block = ("Final-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
             "Diagnostic-Code: smtp; 550 5.1.1 <{r}>: User unknown\r\n\r\n")
    more = "".join(block.format(r=r) for r in rcpts[1:])
    return one.replace("--B1\r\nContent-Type: text/rfc822-headers",
                       more + "--B1\r\nContent-Type: text/rfc822-headers").encode()


def arf_raw(rcpt, tag, omf_lines):
    """An ARF complaint with the Original-Mail-From lines given as they are."""
    msg = m.arf(rcpt, tag, to=FBL, mail_from=None).decode()
    return msg.replace("Original-Rcpt-To:", "".join(l + "\r\n" for l in omf_lines)
                       + "Original-Rcpt-To:").encode()


class Trust(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rebound-trust-")
        cls.keys = Keys(cls.tmp)
        cls.keys.add(PROVIDER)
        cls.keys.add("attacker.example")           # published, but not a provider
        cls.pg = harness.Pg().start()
        store = {"conninfo": cls.pg.conninfo, "retry_max_seconds": "1"}
        cls.signed = harness.Daemon({
            "smtp": {"domains": "bounces.example.com;.bounces.example.net",
                     "fbl_addresses": FBL},
            "store": store,
            "signing": {"key": "hex:" + KEY.hex(), "required_domains": "bounces.example.com",
                        "mode": "reject"},
            "fbl": {"providers": PROVIDER, "dkim_key_file": cls.keys.path},
        })
        cls.open = harness.Daemon({
            "smtp": {"domains": "open.example.com", "fbl_addresses": FBL},
            "store": dict(store, raw_max_mb="1"),
        })
        cls.signed.start()
        cls.open.start()

    @classmethod
    def tearDownClass(cls):
        try:
            harness.finish_all({"signed": cls.signed, "open": cls.open}, cls.pg)
        finally:
            subprocess.run(["rm", "-rf", cls.tmp])

    def q(self, sql):
        return self.pg.psql(sql)

    def wait(self, sql, want, timeout=30):
        self.pg.wait(self, sql, want,
                     lambda: self.signed.log()[-2000:] + self.open.log()[-2000:], timeout)

    def send(self, d, rcpts, data, utf8=False):
        with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
            s.sendmail("", rcpts, data, mail_options=["SMTPUTF8"] if utf8 else [])

    def sign(self, addr):
        p = subprocess.run([harness.REBOUND, "sign", "-c", self.signed.conf_path, addr],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode().strip()

    def suppressed(self, key):
        return self.q(f"SELECT class FROM suppressions WHERE address_key = '{key}'")

    def metrics(self, d):
        port = d.conf["http"]["listen"].rsplit(":", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            return r.read().decode()

    def socketmap(self, d, addr):
        port = d.conf["lookup"]["socketmap_listen"].rsplit(":", 1)[1]
        p = harness.postmap("-q", addr, f"socketmap:inet:127.0.0.1:{port}:suppressed")
        return p.stdout.decode().strip()

    def events(self, key):
        return self.q("SELECT e.suppressible FROM events e WHERE e.address_key ="
                      f" '{key}' ORDER BY e.id")

    # -- Critical: a DSN to the feedback-loop address --------------------------

    def test_dsn_to_fbl_address_suppresses_nobody(self):
        cases = [(self.signed, FBL, False), (self.signed, "FBL@Example.COM", False),
                 (self.signed, "fbl@ｅｘａｍｐｌｅ．ｃｏｍ", True), (self.open, FBL, False)]
        for i, (d, rcpt, utf8) in enumerate(cases):
            victim = f"victim-fbl{i}@gmail.example"
            self.send(d, [rcpt], m.dsn("hard", victim, f"dsn-fbl-{i}", to=rcpt), utf8)
            self.wait(f"SELECT e.suppressible, m.suppressible FROM events e JOIN messages m"
                      f" ON m.id = e.message_id WHERE e.address_key = '{victim}'",
                      [["f", "f"]])
            self.assertEqual(self.suppressed(victim), [], rcpt)
        self.assertIn("signature=fbl-not-arf", self.signed.log())
        self.assertRegex(self.metrics(self.signed),
                         r'\nrebound_messages_unsuppressible_total\{reason="fbl-not-arf"\} [3-9]\n')
        # The lookup servers agree (the index is fed by NOTIFY): a control
        # address suppressed meanwhile is there, the victims are not.
        ctl = "control-fbl@example.org"
        self.send(self.signed, [self.sign(ctl)], m.dsn("hard", ctl, "dsn-fbl-control"))
        self.wait(f"SELECT class FROM suppressions WHERE address_key = '{ctl}'", [["hard"]])
        for _ in range(50):
            if self.socketmap(self.signed, ctl).startswith("REJECT"):
                break
            subprocess.run(["sleep", "0.1"])
        self.assertTrue(self.socketmap(self.signed, ctl).startswith("REJECT"))
        self.assertEqual(self.socketmap(self.signed, "victim-fbl0@gmail.example"), "")

    def test_reprocess_lifts_what_a_dsn_to_the_fbl_address_suppressed(self):
        """Rows stored before the fix (DSN to the feedback-loop address
        stored suppressible, its victim suppressed) are put right by
        rebound reprocess, which applies the kind rule again."""
        victim = "legacy-victim@gmail.example"
        self.send(self.open, [FBL], m.dsn("hard", victim, "legacy", to=FBL))
        self.wait(f"SELECT suppressible FROM events WHERE address_key = '{victim}'", [["f"]])
        # what the old code would have written
        self.q("UPDATE messages SET suppressible = true WHERE id = (SELECT message_id FROM"
               f" events WHERE address_key = '{victim}')")
        self.q(f"UPDATE events SET suppressible = true WHERE address_key = '{victim}'")
        self.q("INSERT INTO suppressions (tenant, address, address_key, domain, class, reason,"
               " origin, event_id) SELECT tenant, recipient, address_key, domain, 'hard',"
               f" 'userunknown', 'automatic', id FROM events WHERE address_key = '{victim}'")
        self.assertEqual(self.suppressed(victim), [["hard"]])
        since = self.q("SELECT to_char(received_at AT TIME ZONE 'UTC',"
                       " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM messages WHERE id ="
                       f" (SELECT message_id FROM events WHERE address_key = '{victim}')")[0][0]
        p = subprocess.run([harness.REBOUND, "reprocess", "-c", self.open.conf_path,
                            "--since", since], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(self.events(victim), [["f"]])
        self.assertEqual(self.suppressed(victim), [])

    def test_fbl_next_to_signed_path_widens_nothing(self):
        holder, victim = "holder14@example.org", "victim-widen@gmail.example"
        path = self.sign(holder)
        self.send(self.signed, [path, FBL], dsn_many([holder, victim], "widen", path))
        self.wait(f"SELECT class FROM suppressions WHERE address_key = '{holder}'", [["hard"]])
        self.assertEqual(self.events(victim), [["f"]])
        self.assertEqual(self.suppressed(victim), [])

    def test_cap_per_message(self):
        # No signing: the one configuration where a DSN may name anyone.
        rcpts = [f"cap{i:03d}@example.org" for i in range(150)]
        self.send(self.open, ["bounce@open.example.com"], dsn_many(rcpts, "cap", "x"))
        self.wait("SELECT count(*) FROM events WHERE address_key LIKE 'cap___@example.org'",
                  [["150"]])
        self.assertEqual(self.q("SELECT count(*) FROM suppressions"
                                " WHERE address_key LIKE 'cap___@example.org'"), [["100"]])
        self.assertEqual(self.q("SELECT count(*) FROM events WHERE suppressible"
                                " AND address_key LIKE 'cap___@example.org'"), [["100"]])
        self.assertIn("\nrebound_suppressions_capped_total 50\n", self.metrics(self.open))
        self.assertRegex(self.open.log(), r"event=suppression-cap message_id=\d+ cap=100"
                                          r" over=50 first_over=\"cap100@example.org\"")

    # -- High: forged complaints; Medium: coverage ----------------------------

    def test_forged_arf_suppresses_nobody(self):
        long_local = "a" * 330
        shapes = {
            "missing": [],
            "redacted": ["Original-Mail-From: redacted"],
            "null": ["Original-Mail-From: <>"],
            "outside": ["Original-Mail-From: <news@other.example>"],
            "long": [f"Original-Mail-From: <{long_local}@bounces.example.com>"],
            "repeated": ["Original-Mail-From: <news@other.example>",
                         "Original-Mail-From: <bounce@bounces.example.com>"],
        }
        victims = []
        for name, lines in shapes.items():
            victim = f"arf-{name}@gmail.example"
            victims.append(victim)
            self.send(self.signed, [FBL], arf_raw(victim, "forged-" + name, lines))
        # Signed, but by a domain that is not a provider; by the provider
        # with a body changed after signing; or with l= and a report appended.
        v = "arf-attacker@gmail.example"
        victims.append(v)
        self.send(self.signed, [FBL], self.keys.sign(arf_raw(v, "attacker", []),
                                                      "attacker.example"))
        v = "arf-tampered@gmail.example"
        victims.append(v)
        good = self.keys.sign(arf_raw("someone-else@gmail.example", "tampered", []), PROVIDER)
        self.send(self.signed, [FBL], good.replace(b"someone-else@gmail.example", v.encode()))
        # l= covering less than the body: whatever follows is the attacker's,
        # so the signature counts for nothing even where the signed part is
        # intact (here the report is, and it still must not suppress).
        v = "arf-length@gmail.example"
        victims.append(v)
        signed = self.keys.sign(arf_raw(v, "length", []), PROVIDER, length=True)
        self.send(self.signed, [FBL], signed + b"appended by someone else\r\n")
        for victim in victims:
            self.wait(f"SELECT count(*) FROM events WHERE address_key = '{victim}'"
                      " AND NOT suppressible", [["1"]])
        for victim in victims:
            self.assertEqual(self.suppressed(victim), [], victim)
        log = self.signed.log()
        self.assertIn("event=dkim result=fail", log)
        self.assertIn("signature=no-dkim", log)
        self.assertIn("body partly signed (l=)", log)

    def test_dkim_valid_complaint_from_provider_suppresses(self):
        cases = [("dkim-missing@gmail.example", []),
                 ("dkim-redacted@gmail.example", ["Original-Mail-From: redacted"]),
                 ("dkim-null@gmail.example", ["Original-Mail-From: <>"]),
                 ("dkim-signed@gmail.example", None),
                 ("dkim-outside@gmail.example", ["Original-Mail-From: <news@other.example>"])]
        for victim, lines in cases:
            if lines is None:
                lines = [f"Original-Mail-From: <{self.sign(victim)}>"]
            self.send(self.signed, [FBL], self.keys.sign(arf_raw(victim, "ok-" + victim, lines),
                                                          PROVIDER))
        for victim, _ in cases:
            self.wait(f"SELECT class FROM suppressions WHERE address_key = '{victim}'",
                      [["complaint"]])
        # The provider's signature does not make one of our return paths
        # that was never signed count: the original is forged.
        v = "dkim-forged-original@gmail.example"
        self.send(self.signed, [FBL], self.keys.sign(
            arf_raw(v, "forged-orig", ["Original-Mail-From: <bounce@bounces.example.com>"]),
            PROVIDER))
        self.wait(f"SELECT suppressible FROM events WHERE address_key = '{v}'", [["f"]])
        self.assertEqual(self.suppressed(v), [])
        self.assertIn(f"event=dkim result=pass d={PROVIDER}", self.signed.log())
        # the verified d= names the provider, whatever the From says
        v = "dkim-relayed@gmail.example"
        self.send(self.signed, [FBL], self.keys.sign(
            arf_raw(v, "relayed", []).replace(b"From: fbl@isp.example", b"From: fbl@relay.mailer.test"),
            PROVIDER))
        self.wait(f"SELECT provider FROM events WHERE address_key = '{v}'", [[PROVIDER]])
        self.assertEqual(self.q(f"SELECT provider FROM events WHERE address_key = 'dkim-missing@gmail.example'"),
                         [[PROVIDER]])

    def test_genuine_signed_bounce_suppresses(self):
        who = "genuine14@example.org"
        self.send(self.signed, [self.sign(who)], m.dsn("hard", who, "genuine14"))
        self.wait(f"SELECT class FROM suppressions WHERE address_key = '{who}'", [["hard"]])

    def test_every_domain_is_covered(self):
        # .bounces.example.net is accepted but not in required_domains: still
        # signed-only, since a key is set.
        with smtplib.SMTP("127.0.0.1", self.signed.port, timeout=30) as s:
            s.ehlo("client.test")
            s.mail("")
            code, msg = s.rcpt("x@a.bounces.example.net")
            self.assertEqual(code, 550, msg)
            self.assertIn(b"not signed", msg)

    def test_sign_defaults_to_a_covered_domain(self):
        conf = os.path.join(self.tmp, "sign.conf")
        with open(conf, "w") as f:
            f.write(f"[smtp]\ndomains = .sub.example;legacy.example;rp.example\n"
                    f"[signing]\nkey = hex:{KEY.hex()}\nunsigned_domains = legacy.example\n")
        p = subprocess.run([harness.REBOUND, "sign", "-c", conf, "who@example.org"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.decode(), r"^b=\d{3}=[a-z2-7]{8}=who=example\.org@rp\.example\n$")

    def test_serve_n_and_start_say_what_is_open(self):
        p = subprocess.run([harness.REBOUND, "serve", "-c", self.open.conf_path, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("# warn: event=no-signing", out)
        self.assertIn("# info: event=unsigned-domain domain=open.example.com", out)
        self.assertIn("serve event=no-signing warning=", self.open.log())
        # and again on every reload
        before = self.open.log().count("serve event=no-signing")
        self.open.proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if self.open.log().count("serve event=no-signing") > before:
                break
            time.sleep(0.05)
        self.assertGreater(self.open.log().count("serve event=no-signing"), before)
        # Signed: nothing open until a domain is exempted by name.
        p = subprocess.run([harness.REBOUND, "serve", "-c", self.signed.conf_path, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode()
        self.assertNotIn("event=unsigned-domain", out)
        self.assertNotIn("event=no-signing", out)
        self.assertIn("require_dkim = true", out)
        conf = os.path.join(self.tmp, "exempt.conf")
        with open(self.signed.conf_path) as f, open(conf, "w") as g:
            g.write(f.read().replace("[signing]\n",
                                     "[signing]\nunsigned_domains = .bounces.example.net\n"))
        p = subprocess.run([harness.REBOUND, "serve", "-c", conf, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("# warn: event=unsigned-domain domain=.bounces.example.net", out)
        self.assertNotIn("domain=bounces.example.com", out)

    def test_raw_kept_up_to_raw_max_mb(self):
        big, small = "raw-big@example.org", "raw-small@example.org"
        self.send(self.open, ["b@open.example.com"], m.dsn("hard", big, "raw-big",
                                                           size=1536 * 1024))
        self.send(self.open, ["b@open.example.com"], m.dsn("hard", small, "raw-small"))
        for who in (big, small):
            self.wait(f"SELECT class FROM suppressions WHERE address_key = '{who}'", [["hard"]])
        self.assertEqual(self.q("SELECT e.address_key, m.raw IS NULL, m.size > 1048576 FROM"
                                " messages m JOIN events e ON e.message_id = m.id WHERE"
                                f" e.address_key IN ('{big}', '{small}') ORDER BY 1"),
                         [[big, "t", "t"], [small, "f", "f"]])
        self.assertRegex(self.open.log(), r"event=raw-not-kept message_id=\d+ size=\d{7} "
                                          r"raw_max_mb=1")

    # -- Low: what the views say ------------------------------------------------

    def http_get(self, path):
        port = self.signed.conf["http"]["listen"].rsplit(":", 1)[1]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_views_say_suppressible_and_stats_count_only_those(self):
        forged, good = "view-forged@gmail.example", "view-ok@gmail.example"
        self.send(self.signed, [FBL], arf_raw(forged, "view-forged", []))
        self.send(self.signed, [FBL], self.keys.sign(arf_raw(good, "view-ok", []), PROVIDER))
        self.wait(f"SELECT class FROM suppressions WHERE address_key = '{good}'", [["complaint"]])
        self.wait(f"SELECT suppressible FROM events WHERE address_key = '{forged}'", [["f"]])
        code, body = self.http_get(f"/v1/events?recipient={forged}")
        self.assertEqual(code, 200, body)
        self.assertIs(body["items"][0]["suppressible"], False)
        code, body = self.http_get("/v1/complaints?since=1d")
        flags = {i["recipient"]: i["suppressible"] for i in body["items"]}
        self.assertIs(flags[forged], False)
        self.assertIs(flags[good], True)
        code, body = self.http_get("/v1/complaints?since=1d&suppressible=false")
        self.assertNotIn(good, {i["recipient"] for i in body["items"]})
        self.assertIn(forged, {i["recipient"] for i in body["items"]})
        self.assertEqual(self.http_get("/v1/stats?suppressible=maybe")[0], 400)

        def complaints(body):
            return sum(r["count"] for r in body["by_class"] if r["key"] == "complaint")
        want_supp = int(self.q("SELECT count(*) FROM events WHERE class = 'complaint'"
                               " AND suppressible")[0][0])
        want_all = int(self.q("SELECT count(*) FROM events WHERE class = 'complaint'")[0][0])
        self.assertLess(want_supp, want_all)
        code, body = self.http_get("/v1/stats?by=class")
        self.assertEqual((code, body["suppressible"], complaints(body)), (200, "true", want_supp))
        code, body = self.http_get("/v1/stats?by=class&suppressible=any")
        self.assertEqual(complaints(body), want_all)
        p = subprocess.run([harness.REBOUND, "complaints", "-c", self.signed.conf_path,
                            "--since", "1d", "--all-tenants"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertIn("suppressible", out.splitlines()[0])
        self.assertRegex(out, re.escape(forged) + r"\s+abuse\s+\S*\s+no\b")
        self.assertRegex(out, re.escape(good) + r"\s+abuse\s+\S*\s+yes\b")
        p = subprocess.run([harness.REBOUND, "stats", "-c", self.signed.conf_path, "--by", "class",
                            "--all-tenants"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.decode(), rf"complaint\s+{want_supp}\n")


if __name__ == "__main__":
    harness.run()
