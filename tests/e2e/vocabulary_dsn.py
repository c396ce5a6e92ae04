"""The minimal DSN that tests/fixtures/vocabulary/sisimai.tsv's rows are read in.

A Postfix-style notice for one recipient: the remote host's reply in the
text ("... said: REPLY (in reply to RCPT TO command)") and in the report
(Status, Remote-MTA when a provider's host is given, Diagnostic-Code).
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
