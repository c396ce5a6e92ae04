"""Labels of tests/corpus/mox (mjl-/mox testdata), made by reading each message
once; labels.py takes them with its own helpers.  Every message not listed is
mail: DMARC aggregate reports (Google, Mail.Ru, Outlook, XS4ALL, Yahoo), TLS
reports (Google, Microsoft) and spam."""


def labels(rec, none):
    return {
        # a DSN whose report part is "..." and whose text is "error"
        "message_message-rfc822-multipart.eml": none,
        # Original-Recipient <user@domain> only, "550 5.1.1 <user@domain>... User
        # unknown" (no Status field; the text's code is 5.1.1)
        "message_message-rfc822-multipart2.eml": [rec("user@domain", "userunknown", "5.1.1")],
    }
