"""The suppression-list CLI against a real PostgreSQL, with a running
lookupd to show that CLI changes reach relays' lookups."""
import csv, io, json, os, sys, tempfile, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupEnv
from test_lookup_http import seed_events


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = LookupEnv()
        cls.env.suppress_sql("bounced@example.com", "hard", "user_unknown")
        seed_events(cls.env.pg)
        cls.env.start()

    @classmethod
    def tearDownClass(cls):
        cls.env.destroy()

    def test_check_exit_codes(self):
        rc, out, _ = self.env.cli("check", "Bounced@Example.com")
        self.assertEqual(rc, 0)
        self.assertIn("suppressed class=hard reason=user_unknown", out)
        rc, out, _ = self.env.cli("check", "fine@example.com")
        self.assertEqual(rc, 1)
        self.assertIn("not suppressed", out)
        rc, _, err = self.env.cli("check", "not-an-address")
        self.assertEqual(rc, 2)
        self.assertIn("not a valid address", err)
        rc, _, err = self.env.cli("check", "a@b.example", "--tenant", "ghost")
        self.assertEqual(rc, 2)
        p = harness.subprocess.run([harness.REBOUND, "check", "a@b.example"],
                                   stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE)
        # Without -c the default file is read (and named when it is missing).
        if not harness.os.path.exists("/etc/rebound/rebound.conf"):
            self.assertEqual(p.returncode, 2)
            self.assertIn(b"/etc/rebound/rebound.conf", p.stderr)
        p = harness.subprocess.run([harness.REBOUND, "suppress", "a@b.example",
                                    "-c", self.env.conf_path],
                                   stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--reason TEXT is required", p.stderr)

    def test_suppress_unsuppress_audited_and_live(self):
        rc, out, err = self.env.cli("suppress", "Cli.User@Example.net", "--reason", "asked to stop",
                                    "--note", "ticket 7")
        self.assertEqual(rc, 0, err)
        self.assertIn("added", out)
        self.env.wait_for(lambda: self.env.postmap("cli.user@example.net")[0] == 0, 1.0)
        self.assertIn("asked to stop", self.env.postmap("cli.user@example.net")[1])
        rc, out, _ = self.env.cli("suppress", "cli.user@example.net", "--reason", "again",
                                  "--class", "soft", "--expires", "2d")
        self.assertEqual((rc, "updated" in out), (0, True))
        self.assertEqual(self.env.cli("check", "cli.user@example.net")[0], 0)
        rc, out, _ = self.env.cli("unsuppress", "CLI.USER@example.net")
        self.assertEqual((rc, "removed" in out), (0, True))
        rc, out, _ = self.env.cli("unsuppress", "cli.user@example.net")
        self.assertEqual(rc, 1)
        self.env.wait_for(lambda: self.env.postmap("cli.user@example.net")[0] == 1, 1.0)
        audit = self.env.pg.psql("SELECT op, actor FROM suppression_audit WHERE address_key ="
                                 " 'cli.user@example.net' ORDER BY id")
        self.assertEqual(audit, [["add", "cli"], ["update", "cli"], ["remove", "cli"]])
        self.assertEqual(self.env.cli("suppress", "x@example.net")[0], 2)  # --reason required
        self.assertEqual(self.env.cli("suppress", "x@example.net", "--reason", "r", "--class", "vip")[0], 2)
        self.assertEqual(self.env.cli("suppress", "x@example.net", "--reason", "r", "--expires", "soon")[0], 2)

    def test_import_with_header_rejects_and_export_roundtrip(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "list.csv")
        with open(path, "w", newline="") as f:
            f.write("\ufeffEmail,Reason,Type,Note\n")
            f.write("imp1@example.org,user_unknown,bounce,\n")
            f.write('"Imp2@Example.ORG","spam, reported",complaint,"multi\nline note"\n')
            f.write("imp3@example.org,,,\n")
            f.write("not-an-address,x,hard,\n")
            f.write("imp4@example.org,x,vip,\n")
            f.write("\n")
            f.write("imp1@example.org,dup later wins,hard,\n")
            f.write(",no address,hard,\n")
        rc, out, err = self.env.cli("import", path)
        self.assertEqual(rc, 1, err)  # some rows rejected
        # 7 rows read (the header and the blank line are no rows), and the
        # four counts add up to them: imp1's second row is a repeat.
        self.assertIn("read 7 rows: 3 added, 0 updated, 1 repeated, 3 rejected", out)
        self.assertIn('line 6: not a valid address: "not-an-address"', err)
        # the bad field's value is quoted, not the address
        self.assertIn('line 7: unknown class: "vip"', err)
        self.assertIn("line 10: no address\n", err)
        rows = {r[0]: r[1:] for r in self.env.pg.psql(
            "SELECT address_key, class, reason, origin, replace(coalesce(note, ''), E'\\n', '|')"
            " FROM suppressions"
            " WHERE domain = 'example.org'")}
        self.assertEqual(rows["imp1@example.org"], ["hard", "dup later wins", "import", ""])
        self.assertEqual(rows["imp2@example.org"], ["complaint", "spam, reported", "import", "multi|line note"])
        self.assertEqual(rows["imp3@example.org"], ["manual", "imported", "import", ""])
        self.assertNotIn("imp4@example.org", rows)
        self.assertEqual(self.env.pg.psql("SELECT count(*) FROM suppression_audit WHERE actor = 'import'"
                                         " AND address_key LIKE '%@example.org'"),
                         [["3"]])
        self.env.wait_for(lambda: self.env.postmap("imp2@example.org")[0] == 0, 1.0)

        rc, out, err = self.env.cli("export", "--format", "csv")
        self.assertEqual(rc, 0, err)
        exported = list(csv.DictReader(io.StringIO(out)))
        by = {r["address"]: r for r in exported}
        self.assertEqual(by["Imp2@example.org"]["note"], "multi\nline note")
        self.assertEqual(by["Imp2@example.org"]["reason"], "spam, reported")
        rc, out, _ = self.env.cli("export", "--format", "json")
        self.assertEqual(rc, 0)
        j = json.loads(out)
        self.assertEqual(len(j), len(exported))
        self.assertEqual({r["address"] for r in j}, set(by))

        # the export loads back: same rows, all updates, nothing rejected,
        # and every field as it was (origin, first and last seen, reason, count)
        self.env.pg.psql("UPDATE suppressions SET first_seen = '2026-01-02 03:04:05+00',"
                         " last_seen = '2026-02-03 04:05:06+00', event_count = 7"
                         " WHERE address_key = 'bounced@example.com'")
        rc, before, _ = self.env.cli("export")
        back = os.path.join(d, "back.csv")
        with open(back, "w") as f:
            f.write(before)
        rc, out, err = self.env.cli("import", back)
        self.assertEqual(rc, 0, err)
        n = len(exported)
        self.assertIn(f"read {n} rows: 0 added, {n} updated, 0 repeated, 0 rejected", out)
        rc, after, _ = self.env.cli("export")
        self.assertEqual(sorted(before.splitlines()), sorted(after.splitlines()))
        row = {r["address"]: r for r in csv.DictReader(io.StringIO(after))}["bounced@example.com"]
        self.assertEqual((row["origin"], row["first_seen"], row["last_seen"], row["event_count"],
                          row["reason"]),
                         ("automatic", "2026-01-02T03:04:05Z", "2026-02-03T04:05:06Z", "7",
                          "user_unknown"))

    def test_import_provider_exports(self):
        """The suppression exports of SES, SendGrid and Mailgun load with their dates."""
        d = tempfile.mkdtemp()
        files = {
            "ses.csv": "EmailAddress,Reason,LastUpdateTime\n"
                       "ses1@example.biz,BOUNCE,2026-10-01T08:00:00.123Z\n"
                       "ses2@example.biz,COMPLAINT,2026-10-02T09:30:00Z\n",
            "sendgrid.csv": "created,email,reason,status\n"
                            "1790000000,sg1@example.biz,550 5.1.1 user unknown,5.1.1\n"
                            "2026-10-03 10:00:00,sg2@example.biz,mailbox full,4.2.2\n",
            "mailgun.csv": "address,code,error,created_at\n"
                           'mg1@example.biz,550,No such user,"Sat, 03 Oct 2026 11:02:55 UTC"\n',
        }
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        rc, out, err = self.env.cli("import", os.path.join(d, "ses.csv"))
        self.assertEqual(rc, 0, err)
        self.assertIn("read 2 rows: 2 added, 0 updated, 0 repeated, 0 rejected", out)
        rc, out, err = self.env.cli("import", os.path.join(d, "sendgrid.csv"), "--class", "hard")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.env.cli("import", os.path.join(d, "mailgun.csv"), "--class", "hard")
        self.assertEqual(rc, 0, err)
        rows = {r[0]: r[1:] for r in self.env.pg.psql(
            "SELECT address_key, class, reason, origin,"
            " to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
            " to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
            " FROM suppressions WHERE domain = 'example.biz'")}
        self.assertEqual(rows["ses1@example.biz"], ["hard", "BOUNCE", "import",
                                                     "2026-10-01 08:00:00", "2026-10-01 08:00:00"])
        self.assertEqual(rows["ses2@example.biz"][0], "complaint")
        self.assertEqual(rows["sg1@example.biz"], ["hard", "550 5.1.1 user unknown", "import",
                                                   "2026-09-21 14:13:20", "2026-09-21 14:13:20"])
        self.assertEqual(rows["sg2@example.biz"][2:], ["import", "2026-10-03 10:00:00",
                                                       "2026-10-03 10:00:00"])
        # Mailgun: the error text is the reason (not the code), the RFC 2822 date kept
        self.assertEqual(rows["mg1@example.biz"], ["hard", "No such user", "import",
                                                   "2026-10-03 11:02:55", "2026-10-03 11:02:55"])
        with open(os.path.join(d, "bad.csv"), "w") as f:
            f.write("email,created\nbad1@example.biz,yesterday-ish\n")
        rc, out, err = self.env.cli("import", os.path.join(d, "bad.csv"))
        self.assertEqual(rc, 1)
        self.assertIn('line 2: first seen is not a time: "yesterday-ish"', err)

    def test_csv_export_defuses_formulas(self):
        """Cells a spreadsheet would evaluate get a leading quote in the CSV
        (not in JSON), and import takes exactly that quote off again."""
        for addr, reason in (("=formula@example.com", "+SUM(1;2)"),
                             ("'-quoted@example.com", "@cmd"), ("plain-f@example.com", "-1")):
            rc, _, err = self.env.cli("suppress", addr, "--reason", reason)
            self.assertEqual(rc, 0, err)
        rc, out, err = self.env.cli("export", "--format", "csv")
        self.assertEqual(rc, 0, err)
        by = {r["reason"]: r for r in csv.DictReader(io.StringIO(out))}
        self.assertEqual(by["'+SUM(1;2)"]["address"], "'=formula@example.com")
        self.assertEqual(by["'@cmd"]["address"], "''-quoted@example.com")
        self.assertEqual(by["'-1"]["address"], "plain-f@example.com")
        for row in csv.reader(io.StringIO(out)):
            for cell in row:
                self.assertNotRegex(cell, r"^[=+\-@\t\r]", row)
        j = {r["address"]: r["reason"] for r in json.loads(self.env.cli("export", "--format",
                                                                         "json")[1])}
        self.assertEqual(j["=formula@example.com"], "+SUM(1;2)")
        self.env.cli("unsuppress", "=formula@example.com")
        self.env.cli("unsuppress", "'-quoted@example.com")
        back = os.path.join(tempfile.mkdtemp(), "back.csv")
        with open(back, "w") as f:
            f.write(out)
        rc, _, err = self.env.cli("import", back)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.env.pg.psql(
            "SELECT address, reason FROM suppressions WHERE address IN"
            " ('=formula@example.com', '''-quoted@example.com') ORDER BY address"),
            [["'-quoted@example.com", "@cmd"], ["=formula@example.com", "+SUM(1;2)"]])
        for addr in ("=formula@example.com", "'-quoted@example.com", "plain-f@example.com"):
            self.assertEqual(self.env.cli("unsuppress", addr)[0], 0, addr)

    def test_address_length_limit_is_one_rule(self):
        # 320 octets (RFC 5321) is the limit for suppress and import alike.
        fits = "l" * (320 - len("@long.example")) + "@long.example"
        over = "x" + fits
        rc, out, err = self.env.cli("suppress", fits, "--reason", "r")
        self.assertEqual(rc, 0, err)
        rc, _, err = self.env.cli("suppress", over, "--reason", "r")
        self.assertEqual(rc, 2)
        self.assertIn("not a valid address", err)
        d = tempfile.mkdtemp()
        path = os.path.join(d, "long.csv")
        with open(path, "w") as f:
            f.write("address\n%s\n%s\n" % (fits, over))
        rc, out, err = self.env.cli("import", path)
        self.assertEqual(rc, 1, err)
        self.assertIn("read 2 rows: 0 added, 1 updated, 0 repeated, 1 rejected", out)
        self.assertIn("line 3: not a valid address", err)
        self.assertEqual(self.env.cli("unsuppress", fits)[0], 0)

    def test_import_headerless_and_bad_file(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "plain.csv")
        with open(path, "w") as f:
            f.write("plain1@example.info\r\nplain2@example.info\r\n")
        rc, out, err = self.env.cli("import", path, "--class", "hard", "--reason", "legacy list")
        self.assertEqual(rc, 0, err)
        self.assertIn("read 2 rows: 2 added, 0 updated, 0 repeated, 0 rejected", out)
        self.assertEqual(self.env.cli("check", "plain2@example.info")[0], 0)
        self.assertEqual(self.env.cli("import", os.path.join(d, "missing.csv"))[0], 2)
        self.assertEqual(self.env.cli("import", path, "--class", "vip")[0], 2)

    def test_stats_and_complaints(self):
        rc, out, err = self.env.cli("stats", "--since", "30d")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"by class:\n  complaint\s+3\n  hard\s+2\n")
        self.assertRegex(out, r"by campaign:\n  spring\s+3\n  autumn\s+1\n")
        rc, out, _ = self.env.cli("stats", "--since", "7d", "--by", "domain")
        self.assertEqual(rc, 0)
        self.assertNotIn("by class", out)
        self.assertRegex(out, r"yahoo\.com\s+2")
        self.assertEqual(self.env.cli("stats", "--by", "colour")[0], 2)
        self.assertEqual(self.env.cli("stats", "--since", "whenever")[0], 2)
        rc, out, _ = self.env.cli("complaints", "--since", "30d")
        self.assertEqual(rc, 0)
        self.assertIn("3 complaints", out)
        rc, out, _ = self.env.cli("complaints", "--since", "30d", "--provider", "yahoo.com", "--type", "fraud")
        self.assertIn("fraud@yahoo.com", out)
        self.assertIn("1 complaint\n", out)


if __name__ == "__main__":
    harness.run()
