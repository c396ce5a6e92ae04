"""The notices tests/fixtures/vocabulary/sisimai.tsv's rows are read in.

dsn(): a Postfix-style notice for one recipient, the remote host's reply in
the text ("... said: REPLY (in reply to RCPT TO command)") and in the report
(Status, Remote-MTA when a provider's host is given, Diagnostic-Code).
delayed(): dsn()'s notice as a warning (Action: delayed, 4xx).
two(): two recipients refused with two texts, in a report or in qmail's or Exim's text.
FORMATS: the same refusal at RCPT in the plain-text notices of Exim, qmail,
Sendmail, Courier and GMX, which carry no report: the reason must come out
the same.
"""


def dsn(i, host, reply, status, text):
    domain = host.split(".", 1)[1] if host else "example.org"
    said = "host %s[192.0.2.1] said" % host if host else "host mx.example.org[192.0.2.1] said"
    remote = "Remote-MTA: dns; %s\n" % host if host else ""
    return f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 7 Dec 2026 10:00:00 +0000
Message-ID: <{i}.vocabulary@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<user{i}@{domain}>: {said}: {reply} {status} {text} (in reply to RCPT TO command)

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; user{i}@{domain}
Action: failed
Status: {status}
{remote}Diagnostic-Code: smtp; {reply} {status} {text}

--B--
"""


def delayed(i, reply, status, text):
    """dsn()'s notice as Postfix's warning: still queued, the same words after a 4xx."""
    return dsn(i, None, "4" + reply[1:], "4" + status[1:], text).replace(
        "Action: failed", "Action: delayed").replace(
        "Subject: Undelivered Mail Returned to Sender", "Subject: Delayed Mail (still being retried)")


def two(k, a, b, fmt):
    """ann{k} refused with a = (reply, status, text), bob{k} with b, in fmt:
    "report" (Postfix's), "qmail" or "exim" (their plain-text notices)."""
    said = "<ann{k}@example.org>: host mx.example.org[192.0.2.1] said: {0} {1} {2} " \
        "(in reply to RCPT TO command)\n\n<bob{k}@example.net>: host mx.example.net[192.0.2.2] " \
        "said: {3} {4} {5} (in reply to RCPT TO command)".format(*a, *b, k=k)
    rcpts = [(f"ann{k}@example.org", "mx.example.org", "192.0.2.1") + tuple(a),
             (f"bob{k}@example.net", "mx.example.net", "192.0.2.2") + tuple(b)]
    if fmt == "exim":
        return exim_for(rcpts)
    if fmt == "qmail":
        return qmail_for(rcpts)
    if fmt == "report":
        return f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

{said}

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ann{k}@example.org
Action: failed
Status: {a[1]}
Diagnostic-Code: smtp; {a[0]} {a[1]} {a[2]}

Final-Recipient: rfc822; bob{k}@example.net
Action: failed
Status: {b[1]}
Diagnostic-Code: smtp; {b[0]} {b[1]} {b[2]}

--B--
"""
    raise ValueError(fmt)


def exim_for(rcpts):
    """Exim's notice for rcpts, a list of (address, host, ip, reply, status, text)."""
    failed = "".join(f"""  {a}
    host {h} [{ip}]
    SMTP error from remote mail server after RCPT TO:<{a}>:
    {r} {s} {t}
""" for a, h, ip, r, s, t in rcpts)
    names = ", ".join(x[0] for x in rcpts)
    return f"""From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: sender@example.com
Subject: Mail delivery failed: returning message to sender
Auto-Submitted: auto-replied
X-Failed-Recipients: {names}

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

{failed}
------ This is a copy of the message, including all the headers. ------

From: sender@example.com
To: {names}
Subject: hello
"""


def exim(i, reply, status, text):
    return exim_for([(f"user{i}@example.org", "mx.example.org", "192.0.2.1", reply, status, text)])


def qmail_for(rcpts):
    """qmail's notice for rcpts, a list of (address, host, ip, reply, status, text)."""
    failed = "".join(f"""<{a}>:
{ip} does not like recipient.
Remote host said: {r} {s} {t}
Giving up on {ip}.

""" for a, _h, ip, r, s, t in rcpts)
    return f"""From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

{failed}--- Below this line is a copy of the message.

From: sender@example.com
To: {", ".join(x[0] for x in rcpts)}
Subject: hello
"""


def qmail(i, reply, status, text):
    return qmail_for([(f"user{i}@example.org", "mx.example.org", "192.0.2.1", reply, status, text)])


def sendmail(i, reply, status, text):
    return f"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: sender@example.com
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)

The original message was received at Mon, 7 Dec 2026 10:00:00 +0000
from localhost [127.0.0.1]

   ----- The following addresses had permanent fatal errors -----
<user{i}@example.org>
    (reason: {reply} {status} {text})

   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> RCPT To:<user{i}@example.org>
<<< {reply} {status} {text}
{reply} {status} <user{i}@example.org>... {text}

   ----- Original message follows -----
From: sender@example.com
To: user{i}@example.org
Subject: hello
"""


def courier(i, reply, status, text):
    return f"""From: Courier mail server at mx.example.net <@>
To: sender@example.com
Subject: NOTICE: mail delivery status.

This is a delivery status notification from mx.example.net,
running the Courier mail server.

UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

<user{i}@example.org>:
    mx.example.org [192.0.2.1]:
>>> RCPT TO:<user{i}@example.org>
<<< {reply} {status} {text}

If your message was also sent to additional recipients, their delivery
status is not included in this report.
"""


def gmx(i, reply, status, text):
    return f"""From: Mail Delivery System <mailer-daemon@gmx.net>
To: sender@example.com
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address
failed:

"user{i}@example.org":
SMTP error from remote server after RCPT command:
host: mx.example.org
{reply}-{status} {text}

--- The header of the original message is following. ---

From: sender@example.com
To: user{i}@example.org
Subject: hello
"""


FORMATS = {"exim": exim, "qmail": qmail, "sendmail": sendmail, "courier": courier, "gmx": gmx}
