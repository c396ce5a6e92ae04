#!/usr/bin/env python3
"""Forged bounces cannot suppress (issue 6): with [signing] required for the
return-path domain, a report to an unsigned, forged or expired address is
refused at RCPT with 550 5.7.1 (mode reject) or stored but never allowed to
suppress (mode flag); a genuine signed one suppresses, one signed with a
rotated-out key still does, a genuine path cannot be used to suppress
somebody else, and the feedback-loop address needs no signature (but, with
[fbl] require_dkim off, a complaint counts only through its signed original
return path).

Signed paths are made by "rebound sign" and, independently, here from the
format documented in common/signing.h and the README."""
import base64, hashlib, hmac, os, smtplib, subprocess, time, unittest
import harness
import store_msgs as m

NEW_KEY = bytes(range(32, 64))
OLD_KEY = bytes(range(0, 32))
RETURN = "bounces.example.com"
FBL = "fbl@bounces.example.com"


def today():
    return int(time.time()) // 86400


def py_sign(key, rcpt, day=None):
    """The documented format: b=DDD=TAG=LOCAL=DOMAIN@RETURN."""
    day = today() if day is None else day
    local, domain = rcpt.rsplit("@", 1)
    stamp = "%03d" % (day % 1000)
    addr_key = local.lower() + "@" + domain.lower()
    mac = hmac.new(key, b"rebound-rp-v1\0" + stamp.encode() + b"\0" + addr_key.encode(),
                   hashlib.sha256).digest()
    tag = base64.b32encode(mac[:5]).decode().lower()
    return f"b={stamp}={tag}={local}={domain.lower()}@{RETURN}"


def dsn_two(rcpt_a, rcpt_b, tag, to):
    """A hard-bounce DSN naming two recipients."""
    one = m.dsn("hard", rcpt_a, tag, to=to).decode()
    block = ("Final-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
             "Diagnostic-Code: smtp; 550 5.1.1 <{r}>: User unknown\r\n\r\n")
    return one.replace("--B1\r\nContent-Type: text/rfc822-headers",
                       block.format(r=rcpt_b) + "--B1\r\nContent-Type: text/rfc822-headers"
                       ).encode()


class ForgedBounce(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = harness.Pg().start()
        cls.daemons = {}
        for mode in ("reject", "flag"):
            d = harness.Daemon({
                "smtp": {"domains": f"{RETURN};other.example.com", "fbl_addresses": FBL},
                "store": {"conninfo": cls.pg.conninfo, "retry_max_seconds": "1"},
                "signing": {"verify_keys": "hex:" + OLD_KEY.hex(),
                            "required_domains": RETURN, "max_age_days": "7", "mode": mode,
                            "unsigned_domains": "other.example.com"},
                # complaints without DKIM: only a signed original can carry
                # them (test_trust.py has the DKIM side)
                "fbl": {"require_dkim": "false"},
            })
            keyfile = os.path.join(d.dir, "signing.key")
            with open(keyfile, "w") as f:
                f.write("base64:" + base64.b64encode(NEW_KEY).decode() + "\n")
            os.chmod(keyfile, 0o600)
            d.conf["signing"]["key"] = "file:" + keyfile
            d.write_conf()
            d.start()
            cls.daemons[mode] = d

    @classmethod
    def tearDownClass(cls):
        harness.finish_all(cls.daemons, cls.pg)

    def q(self, sql):
        return self.pg.psql(sql)

    def wait(self, sql, want, timeout=20):
        self.pg.wait(self, sql, want,
                     lambda: "\n".join(d.log()[-1500:] for d in self.daemons.values()), timeout)

    def rcpt(self, mode, addr):
        with smtplib.SMTP("127.0.0.1", self.daemons[mode].port, timeout=30) as s:
            s.ehlo("client.test")
            s.mail("")
            code, msg = s.rcpt(addr)
            s.rset()
            return code, msg.decode()

    def send(self, mode, rcpt, data):
        with smtplib.SMTP("127.0.0.1", self.daemons[mode].port, timeout=30) as s:
            s.sendmail("", [rcpt], data)

    def sign(self, addr, mode="reject"):
        p = subprocess.run([harness.REBOUND, "sign", "-c", self.daemons[mode].conf_path, addr],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode().strip()

    def suppressed(self, key):
        return self.q(f"SELECT class FROM suppressions WHERE address_key = '{key}'")

    def test_sign_matches_documented_format(self):
        self.assertEqual(self.sign("Ann.Lee@Example.ORG"), py_sign(NEW_KEY, "Ann.Lee@Example.ORG"))
        self.assertEqual(self.sign("a=b@example.org"), py_sign(NEW_KEY, "a=b@example.org"))
        p = subprocess.run([harness.REBOUND, "sign", "-c", self.daemons["reject"].conf_path,
                            '"quoted local"@example.org'], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot sign", p.stderr)

    def test_config_check_masks_keys(self):
        d = self.daemons["reject"]
        p = subprocess.run([harness.REBOUND, "serve", "-c", d.conf_path, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        out = p.stdout.decode()
        self.assertNotIn(OLD_KEY.hex(), out)
        self.assertIn("verify_keys = hex:(masked)", out)
        self.assertIn("key = file:", out)       # a path is no secret
        self.assertIn("mode = reject", out)
        # a short key is refused with file:line
        bad = os.path.join(d.dir, "bad.conf")
        with open(d.conf_path) as f, open(bad, "w") as g:
            g.write(f.read().replace("hex:" + OLD_KEY.hex(), "hex:0011"))
        p = subprocess.run([harness.REBOUND, "serve", "-c", bad, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout.decode(), r"bad\.conf:\d+: signing\.verify_keys: ")

    def test_reject_mode_refuses_at_rcpt(self):
        genuine = py_sign(NEW_KEY, "x@example.org")
        forged_tag = genuine.split("=")
        forged_tag[2] = "aaaaaaaa" if forged_tag[2] != "aaaaaaaa" else "bbbbbbbb"
        cases = [
            (f"bounce@{RETURN}", "not signed"),
            ("=".join(forged_tag), "invalid"),
            (genuine.replace("=x=", "=victim=", 1), "invalid"),      # tag moved to another address
            (py_sign(b"\x07" * 32, "x@example.org"), "invalid"),     # unknown key
            (py_sign(NEW_KEY, "x@example.org", today() - 8), "expired"),
            (py_sign(OLD_KEY, "x@example.org", today() - 30), "expired"),
            ("b=1=zz=x@" + RETURN, "invalid"),
        ]
        for addr, why in cases:
            code, msg = self.rcpt("reject", addr)
            self.assertEqual(code, 550, (addr, msg))
            self.assertTrue(msg.startswith("5.7.1"), (addr, msg))
            self.assertIn(why, msg, addr)
        for addr in (genuine, py_sign(OLD_KEY, "x@example.org"), FBL, "anyone@other.example.com",
                     py_sign(NEW_KEY, "x@example.org", today() - 7), "postmaster"):
            self.assertEqual(self.rcpt("reject", addr)[0], 250, addr)

    def test_genuine_signed_bounce_suppresses(self):
        for mode, who in (("reject", "gen-r@example.org"), ("flag", "gen-f@example.org")):
            self.send(mode, self.sign(who, mode), m.dsn("hard", who, "gen-" + mode))
            self.wait(f"SELECT class FROM suppressions WHERE address_key = '{who}'", [["hard"]])
            self.assertEqual(self.q("SELECT m.suppressible, e.suppressible FROM events e JOIN"
                                    " messages m ON m.id = e.message_id"
                                    f" WHERE e.address_key = '{who}'"), [["t", "t"]])

    def test_rotated_key_still_suppresses(self):
        who = "rotated@example.org"
        self.send("reject", py_sign(OLD_KEY, who), m.dsn("hard", who, "rot"))
        self.wait(f"SELECT class FROM suppressions WHERE address_key = '{who}'", [["hard"]])

    def test_verp_recovers_recipient_from_signed_path(self):
        # The DSN names nobody usable: the signed envelope says who it was for.
        who = "verp@example.org"
        data = m.dsn("hard", "mangled-by-forwarder@relay.example", "verp")
        self.send("reject", self.sign(who), data)
        self.wait(f"SELECT class FROM suppressions WHERE address_key = '{who}'", [["hard"]])
        self.assertEqual(self.suppressed("mangled-by-forwarder@relay.example"), [])

    def test_flag_mode_stores_but_never_suppresses(self):
        cases = [
            ("unsigned", f"bounce@{RETURN}", "flag-unsigned@example.org"),
            ("forged", py_sign(b"\x07" * 32, "flag-forged@example.org"),
             "flag-forged@example.org"),
            ("expired", py_sign(NEW_KEY, "flag-expired@example.org", today() - 30),
             "flag-expired@example.org"),
        ]
        for tag, rcpt, victim in cases:
            self.send("flag", rcpt, m.dsn("hard", victim, "flag-" + tag))
        for tag, rcpt, victim in cases:
            self.wait("SELECT m.suppressible, e.suppressible, e.class FROM events e"
                      " JOIN messages m ON m.id = e.message_id"
                      f" WHERE e.address_key = '{victim}'", [["f", "f", "hard"]])
            self.assertEqual(self.suppressed(victim), [], tag)
        # Three forged soft bounces do not reach the soft threshold either.
        for i in range(3):
            self.send("flag", f"bounce@{RETURN}", m.dsn("soft", "flag-soft@example.org",
                                                        f"flag-soft-{i}"))
        self.wait("SELECT count(*) FROM events WHERE address_key = 'flag-soft@example.org'",
                  [["3"]])
        self.assertEqual(self.suppressed("flag-soft@example.org"), [])

    def test_genuine_path_cannot_suppress_someone_else(self):
        # The holder of a genuine signed path for their own address sends a
        # DSN naming two victims: neither is suppressed.
        mine = self.sign("holder@example.org")
        self.send("reject", mine, dsn_two("victim-a@example.org", "victim-b@example.org",
                                          "other", mine))
        self.wait("SELECT count(*) FROM events WHERE address_key IN"
                  " ('victim-a@example.org', 'victim-b@example.org') AND NOT suppressible",
                  [["2"]])
        self.assertEqual(self.suppressed("victim-a@example.org"), [])
        self.assertEqual(self.suppressed("victim-b@example.org"), [])

    def test_reprocess_keeps_the_answer_given_at_arrival(self):
        forged_victim, genuine = "re-forged@example.org", "re-genuine@example.org"
        self.send("flag", f"bounce@{RETURN}", m.dsn("hard", forged_victim, "re-forged"))
        self.send("flag", self.sign(genuine, "flag"), m.dsn("hard", genuine, "re-genuine"))
        self.wait(f"SELECT count(*) FROM events WHERE address_key IN ('{forged_victim}',"
                  f" '{genuine}')", [["2"]])
        # Retire every key the genuine path could verify with: reprocess keeps
        # the answer given when the message arrived, and adds nothing forged.
        d = self.daemons["flag"]
        conf = os.path.join(d.dir, "rotated.conf")
        with open(d.conf_path) as f, open(conf, "w") as g:
            text = f.read().replace("hex:" + OLD_KEY.hex(), "hex:" + ("42" * 32))
            text = "\n".join("key = hex:" + "17" * 32 if l.startswith("key = ") else l
                             for l in text.split("\n"))
            g.write(text)
        p = subprocess.run([harness.REBOUND, "reprocess", "-c", conf, "--since", "2000-01-01"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(self.suppressed(forged_victim), [])
        self.assertEqual(self.suppressed(genuine), [["hard"]])
        self.assertEqual(self.q("SELECT e.suppressible FROM events e WHERE e.address_key"
                                f" IN ('{forged_victim}', '{genuine}') ORDER BY e.address_key"),
                         [["f"], ["t"]])

    def test_fbl_report_needs_no_signature(self):
        """The feedback-loop address is not signed; without DKIM the
        complaint's original return path must be ours and signed for the
        address complained about.  Another domain's, or none (redacted),
        proves nothing and suppresses nobody."""
        for mode in ("reject", "flag"):
            who = f"complainer-{mode}@example.net"
            self.send(mode, FBL, m.arf(who, "fbl-" + mode, to=FBL, mail_from=py_sign(NEW_KEY, who)))
            other = f"other-{mode}@example.net"
            self.send(mode, FBL, m.arf(other, "fbl-o-" + mode, to=FBL,
                                       mail_from="news@other.example.com"))
            redacted = f"redacted-{mode}@example.net"
            self.send(mode, FBL, m.arf(redacted, "fbl-r-" + mode, to=FBL, mail_from=None))
            self.wait(f"SELECT class FROM suppressions WHERE address_key = '{who}'",
                      [["complaint"]])
            for k in (other, redacted):
                self.wait(f"SELECT suppressible FROM events WHERE address_key = '{k}'", [["f"]])
                self.assertEqual(self.suppressed(k), [], k)
        log = self.daemons["reject"].log()
        self.assertIn("signature=original-not-ours", log)
        self.assertIn("signature=original-missing", log)

    def test_forged_complaint_cannot_suppress(self):
        """A complaint to the feedback-loop address whose original went out
        from one of our return paths unsigned (or forged) suppresses nobody;
        a genuinely signed one suppresses only the address it was signed for."""
        victim, paid = "fbl-victim@example.net", "fbl-paid@example.net"
        self.send("reject", FBL, m.arf(victim, "fbl-forged", to=FBL,
                                       mail_from="bounce@bounces.example.com"))
        self.send("reject", FBL, m.arf(victim, "fbl-forged2", to=FBL,
                                       mail_from=py_sign(OLD_KEY, victim)[:-len(RETURN) - 3]
                                       + "zz@" + RETURN))
        self.send("reject", FBL, m.arf(victim, "fbl-other", to=FBL,
                                       mail_from=py_sign(NEW_KEY, paid)))
        self.wait(f"SELECT count(*) FROM events WHERE address_key = '{victim}'", [["3"]])
        self.assertEqual(self.q(f"SELECT e.suppressible, m.suppressible FROM events e"
                                f" JOIN messages m ON m.id = e.message_id"
                                f" WHERE e.address_key = '{victim}' ORDER BY m.id"),
                         [["f", "f"], ["f", "f"], ["f", "t"]])
        self.assertEqual(self.suppressed(victim), [])
        self.assertIn("original-unsigned", self.daemons["reject"].log())


if __name__ == "__main__":
    harness.run()
