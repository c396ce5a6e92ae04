"""Reports an analyst's day might hold, for the API and UI tests: hard, soft
and block bounces at two providers, complaints from Yahoo (two campaigns)
and a small ISP, and redacted complaints whose recipients are placeholders."""
import smtplib

import store_msgs as m

FBL = "fbl@bounces.example.com"
YAHOO_ARF = """From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: fbl@bounces.example.com
Subject: Yahoo! Mail AntiSpam Feedback
Message-ID: <arf-{tag}@yahoo.com>
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B3"

--B3
Content-Type: text/plain

This is an email abuse report.

--B3
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <bounce@bounces.example.com>
Original-Rcpt-To: <{rcpt}>
Arrival-Date: Sun, 22 Nov 2026 09:00:00 +0000
Reported-Domain: sender.example

--B3
Content-Type: message/rfc822

From: news@sender.example
To: {rcpt}
Subject: Our news
Message-ID: <orig-{tag}@sender.example>
X-Campaign-Id: {campaign}

Hello
--B3--
"""

# A provider that redacts: no Original-Rcpt-To, the enclosed To rewritten.
REDACTED_ARF = """From: fbl@isp.example
To: fbl@bounces.example.com
Subject: complaint
Message-ID: <arf-{tag}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B4"

--B4
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1

--B4
Content-Type: text/rfc822-headers

From: news@sender.example
To: {to}
Subject: Our news
Message-ID: <orig-{tag}@sender.example>

--B4--
"""


def crlf(s):
    return s.replace("\n", "\r\n").encode()


def messages():
    """(bytes, envelope recipient) of every report, in sending order."""
    return [
        (m.dsn("hard", "alice@gmail.com", "h1"), "bounce@bounces.example.com"),
        (m.dsn("hard", "bob@gmail.com", "h2"), "bounce@bounces.example.com"),
        (m.dsn("hard", "carl@yahoo.com", "h3"), "bounce@bounces.example.com"),
        (m.dsn("soft", "sue@yahoo.com", "s1"), "bounce@bounces.example.com"),
        (m.dsn("block", "blk@gmail.com", "b1"), "bounce@bounces.example.com"),
        (m.arf("Carol@isp.example", "c1"), FBL),
        (crlf(YAHOO_ARF.format(tag="y1", rcpt="yvonne@yahoo.com", campaign="spring")), FBL),
        (crlf(YAHOO_ARF.format(tag="y2", rcpt="yuri@yahoo.com", campaign="autumn")), FBL),
        (crlf(REDACTED_ARF.format(tag="r1", to="redacted@example.net")), FBL),
        (crlf(REDACTED_ARF.format(tag="r2", to="someone@example.com")), FBL),
        (crlf(REDACTED_ARF.format(tag="r3", to="<Undisclosed Recipients>")), FBL),
    ]


def seed(daemon, pg):
    """Send every report to the daemon and wait until all are stored."""
    msgs = messages()
    for data, rcpt in msgs:
        with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as s:
            s.sendmail("", [rcpt], data)
    if not pg.poll("SELECT count(*) FROM events", [[str(len(msgs))]], timeout=30)[0]:
        raise AssertionError("the reports were not all stored:\n" + daemon.log()[-3000:])
    return msgs
