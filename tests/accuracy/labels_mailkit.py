"""Labels of tests/corpus/mailkit (jstedfast/MailKit UnitTests/Net/Imap/Resources/common,
jwz's Netscape mail test messages of 1995-1997), made by reading each message;
labels.py takes them with its own helpers.  Every message not listed is mail."""


def labels(rec):
    return {
        # Sendmail (1995, no DSN): "550 <drwebb@maine.link.net>... Host unknown
        # (Name server: maine.link.net: host not found)"
        "message.20.msg.eml": [rec("drwebb@maine.link.net", "hostunknown", "")],
    }
