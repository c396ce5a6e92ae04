"""Small DSN / ARF messages for the store's end-to-end tests and benchmark."""

DSN = """From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: {to}
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{tag}@mx.example.org>
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.example.org.
{pad}
--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {rcpt}
Action: {action}
Status: {status}
Remote-MTA: dns; mx2.example.org
Diagnostic-Code: smtp; {diag}

--B1
Content-Type: text/rfc822-headers

From: news@sender.example
To: {rcpt}
Subject: Our news
Message-ID: <orig-{tag}@sender.example>
X-Campaign-Id: spring-42

--B1--
"""

ARF = """From: fbl@isp.example
To: {to}
Subject: FW: Our news
Message-ID: <arf-{tag}@isp.example>
Date: Mon, 23 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an email abuse report.

--B2
Content-Type: message/feedback-report

Feedback-Type: {ftype}
User-Agent: ISP-FBL/1.0
Version: 1
{mail_from_line}Original-Rcpt-To: <{rcpt}>
Source-IP: 192.0.2.1

--B2
Content-Type: message/rfc822

From: news@sender.example
To: {rcpt}
Subject: Our news
Message-ID: <orig-{tag}@sender.example>

Hello
--B2--
"""

KINDS = {
    "hard": ("failed", "5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"),
    "soft": ("failed", "4.2.2", "452 4.2.2 <{rcpt}>: Mailbox full, quota exceeded"),
    "block": ("failed", "5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org"),
    "delivered": ("delivered", "2.0.0", "250 2.0.0 Ok"),
    "delayed": ("delayed", "4.4.1", "connect to mx2.example.org: Connection timed out"),
}


def dsn(kind, rcpt, tag, to="bounce@bounces.example.com", size=0):
    action, status, diag = KINDS[kind]
    msg = DSN.format(to=to, tag=tag, rcpt=rcpt, action=action, status=status,
                     diag=diag.format(rcpt=rcpt), pad="")
    if size > len(msg):
        line = "This line pads the report to a realistic size for the benchmark.\n"
        msg = DSN.format(to=to, tag=tag, rcpt=rcpt, action=action, status=status,
                         diag=diag.format(rcpt=rcpt),
                         pad=line * ((size - len(msg)) // len(line)))
    return msg.replace("\n", "\r\n").encode()


def arf(rcpt, tag, ftype="abuse", to="fbl@bounces.example.com",
        mail_from="bounce@bounces.example.com"):
    """mail_from: the Original-Mail-From field (None: redacted away)."""
    line = f"Original-Mail-From: <{mail_from}>\n" if mail_from is not None else ""
    return ARF.format(to=to, tag=tag, rcpt=rcpt, ftype=ftype,
                      mail_from_line=line).replace("\n", "\r\n").encode()
