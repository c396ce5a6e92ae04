"""Labels of tests/corpus/webklex-imap (Webklex/php-imap tests/messages), made by
reading each message; labels.py takes them with its own helpers.  Every message
not listed is mail (among them issue-382, a "Mail Delivery System" sender whose
text is "Hi", and a DMARC aggregate report)."""


def labels(rec, none):
    return {
        # Exim: "SMTP error from remote mail server after pipelined end of data:
        # 550-Verification failed for <info@foo.de> 550-Unrouteable address 550
        # Sender verify failed" (Status 5.0.0): the remote refused the sender
        "example_bounce.eml": [rec("ding@ding.de", "rejected", "5.0.0")],
        # "Undeliverable: Some subject" from a postmaster, whose text is "Test
        # message": it names no failed address
        "issue-462.eml": none,
    }
