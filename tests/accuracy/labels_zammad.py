"""Labels for tests/corpus/zammad (train), read by labels.py.

Zammad's mail-import suite: mostly ordinary customer mail (replies,
forwards with enclosed messages, spam, odd charsets).  Two Postfix DSNs
for one recipient each; Zammad's own spec (bounce_delivery_permanent_failed)
disables not_existing@znuny.com on mail033, which agrees.  Every file not
listed here is mail, no bounce.
"""


def _rec(rcpt, reason, status):
    return {"recipient": rcpt, "reason": reason, "hardbounce": reason == "userunknown",
            "status": status, "action": "failed"}


LABELS = {
    # Postfix: "550 5.1.1 ... Recipient address rejected: User unknown"
    "mail033-undelivered-mail-returned-to-sender-notification.eml":
        [_rec("not_existing@znuny.com", "userunknown", "5.1.1")],
    # Postfix relaying Gmail's "550-5.1.1 The email account that you tried to
    # reach does not exist"; the enclosed original is Zammad's own auto-reply
    "mail055.eml": [_rec("ticket-bounce-trigger2@example.com", "userunknown", "5.1.1")],
}
