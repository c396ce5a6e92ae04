#!/usr/bin/env python3
"""rebound import-mail: a 600-message mbox (and a maildir) backfilled into
PostgreSQL through the parser workers and the store: every report stored
once (a second run finds them all duplicates), each event dated from its
report (Last-Attempt-Date, else the notice's Date), the soft-bounce window
counted on those dates, a progress bar on a terminal only, and a summary.
Prints the import rate as a '#' line (never asserted)."""
import email.utils, os, pty, re, subprocess, time, unittest
import harness

NOW = int(time.time())
DAY = 86400

DSN = """From: MAILER-DAEMON@mx.example.org
To: bounce@bounces.example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <imp-{tag}@mx.example.org>
Date: {date}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.example.org.
From the team at mx.example.org: your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: {status}
Last-Attempt-Date: {attempt}
Diagnostic-Code: smtp; {diag}

--B1--
"""

ARF = """From: feedback@fbl.isp.test
To: fbl@bounces.example.com
Subject: complaint
Message-ID: <imp-{tag}@isp.test>
Date: {date}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1
Original-Rcpt-To: <{rcpt}>

--B2
Content-Type: message/rfc822

From: news@sender.example
To: {rcpt}
Subject: Our news

Hello
--B2--
"""

HARD = ("5.1.1", "550 5.1.1 User unknown")
SOFT = ("4.2.2", "452 4.2.2 Mailbox full")


def rfc(t):
    return email.utils.formatdate(t, usegmt=True)


def build_mbox(path):
    """600 reports; returns {recipient: expected occurred_at (unix)}."""
    want = {}
    with open(path, "w") as f:
        def put(text):
            f.write("From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n")
            f.write(text.replace("\nFrom the team", "\n>From the team"))
            f.write("\n")
        for i in range(500):
            rcpt = f"user{i}@d{i % 20}.example.org"
            attempt = NOW - (i % 60) * DAY - 3600
            st, diag = HARD if i % 2 else SOFT
            put(DSN.format(tag=f"d{i}", rcpt=rcpt, status=st, diag=diag, date=rfc(attempt + 60),
                           attempt=rfc(attempt)))
            want[rcpt] = attempt
        for i in range(94):
            rcpt = f"complainer{i}@isp.test"
            date = NOW - (i % 30) * DAY - 7200
            put(ARF.format(tag=f"a{i}", rcpt=rcpt, date=rfc(date)))
            want[rcpt] = date
        # soft bounces of one address spread wider than the 7-day window,
        # and of another within it
        for k, days in enumerate((20, 10, 1)):
            t = NOW - days * DAY
            put(DSN.format(tag=f"wide{k}", rcpt="wide@soft.example.org", status=SOFT[0],
                           diag=SOFT[1], date=rfc(t), attempt=rfc(t)))
        for k, days in enumerate((3, 2, 1)):
            t = NOW - days * DAY
            put(DSN.format(tag=f"near{k}", rcpt="near@soft.example.org", status=SOFT[0],
                           diag=SOFT[1], date=rfc(t), attempt=rfc(t)))
    return want


class ImportMail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg, cls.d = harness.store_daemon()
        cls.d.migrate()
        cls.mbox = os.path.join(cls.d.dir, "bounces.mbox")
        cls.want = build_mbox(cls.mbox)
        t0 = time.time()
        cls.first = cls.run_import("--mbox", cls.mbox)
        cls.wall = time.time() - t0

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pg.destroy()

    @classmethod
    def run_import(cls, *args):
        return subprocess.run([harness.REBOUND, "import-mail", "-c", cls.d.conf_path, *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)

    def q(self, sql):
        return self.pg.psql(sql)

    def test_every_report_once(self):
        p = self.first
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = p.stdout.decode()
        self.assertIn("600 messages read, 600 stored, 0 duplicates, 0 without a report, 600 events", out)
        self.assertNotIn(b"importing [", p.stderr)      # no terminal: no progress bar
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT sha256), count(raw) FROM messages"),
                         [["600", "600", "600"]])
        self.assertEqual(self.q("SELECT count(*) FROM events"), [["600"]])
        rate = re.search(r"\(([0-9]+) messages/s\)", out).group(1)
        print(f"# import-mail 600 messages: {rate} messages/s (wall {self.wall:.2f} s incl. start-up;"
              f" load {os.getloadavg()[0]:.2f})")
        again = self.run_import("--mbox", self.mbox)
        self.assertEqual(again.returncode, 0, again.stderr.decode())
        self.assertIn("600 messages read, 0 stored, 600 duplicates", again.stdout.decode())
        self.assertEqual(self.q("SELECT count(*) FROM events"), [["600"]])

    def test_dated_from_the_report(self):
        rows = self.q("SELECT address_key, extract(epoch FROM occurred_at)::bigint FROM events"
                      " WHERE address_key NOT LIKE '%@soft.example.org'")
        got = {k: int(t) for k, t in rows}
        self.assertEqual(len(got), len(self.want))
        self.assertEqual(got, self.want)
        # received_at is the import; the events are spread over 60 days
        self.assertEqual(self.q("SELECT count(*) FROM events WHERE occurred_at < now() - interval '30 days'"),
                         [[str(sum(1 for t in self.want.values() if t < NOW - 30 * DAY))]])

    def test_unquoted_from_lines(self):
        self.assertEqual(self.q("SELECT position(E'\\r\\nFrom the team at' IN convert_from(raw, 'UTF8')) > 0,"
                                " position('>From' IN convert_from(raw, 'UTF8')) = 0"
                                " FROM messages WHERE position('<imp-d0@mx' IN convert_from(raw, 'UTF8')) > 0"),
                         [["t", "t"]])

    def test_soft_window_uses_occurred_at(self):
        self.assertEqual(self.q("SELECT address_key, class FROM suppressions"
                                " WHERE address_key LIKE '%@soft.example.org'"),
                         [["near@soft.example.org", "soft"]])
        # expires soft_expire_days after the last of the three
        self.assertEqual(self.q("SELECT extract(epoch FROM expires_at)::bigint FROM suppressions"
                                " WHERE address_key = 'near@soft.example.org'"),
                         [[str(NOW - DAY + 30 * DAY)]])

    def test_progress_bar_on_a_terminal(self):
        # a fresh small mbox, so that the bar has something to draw
        path = os.path.join(self.d.dir, "small.mbox")
        with open(path, "w") as f:
            for i in range(20):
                f.write("From x Mon Nov 23 10:00:00 2026\n")
                f.write(DSN.format(tag=f"pty{i}", rcpt=f"pty{i}@example.org", status=HARD[0],
                                   diag=HARD[1], date=rfc(NOW), attempt=rfc(NOW))
                        .replace("\nFrom the team", "\n>From the team") + "\n")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(harness.REBOUND, [harness.REBOUND, "import-mail", "-c", self.d.conf_path,
                                       "--mbox", path])
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        text = out.decode()
        self.assertIn("\rimporting [########################################] 100% 20 messages", text)
        self.assertIn("20 messages read, 20 stored", text)

    def test_maildir(self):
        md = os.path.join(self.d.dir, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        for i in range(5):
            sub = "cur" if i % 2 else "new"
            with open(os.path.join(md, sub, f"17000000{i}.M1P1.host:2,S"), "w") as f:
                f.write(DSN.format(tag=f"md{i}", rcpt=f"md{i}@example.org", status=HARD[0],
                                   diag=HARD[1], date=rfc(NOW - 5 * DAY), attempt=rfc(NOW - 5 * DAY)))
        p = self.run_import("--maildir", md)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn("5 messages read, 5 stored", p.stdout.decode())
        self.assertEqual(self.q("SELECT count(*) FROM events WHERE address_key LIKE 'md_@example.org'"
                                f" AND extract(epoch FROM occurred_at)::bigint = {NOW - 5 * DAY}"),
                         [["5"]])

    def test_zz_reprocess_keeps_report_dates(self):
        before = self.q("SELECT id, occurred_at FROM events ORDER BY id")
        p = subprocess.run([harness.REBOUND, "reprocess", "-c", self.d.conf_path, "--since", "2000-01-01"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(self.q("SELECT id, occurred_at FROM events ORDER BY id"), before)

    def test_usage_errors(self):
        self.assertEqual(self.run_import().returncode, 2)
        self.assertEqual(self.run_import("--mbox", "x", "--maildir", "y").returncode, 2)
        p = self.run_import("--mbox", "/nonexistent.mbox")
        self.assertEqual(p.returncode, 2)
        self.assertIn("nonexistent", p.stderr.decode())


if __name__ == "__main__":
    harness.run()
