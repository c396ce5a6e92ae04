"""Labels of tests/corpus/mime4j (apache/james-mime4j's test messages, MIME-tools'
among them), made by reading each message once; labels.py takes them with its
own helpers.  Every message not listed is mail (MIME test cases)."""


def labels(rec):
    return {
        # Netscape Mail Server's "Program-Deliver module": the delivery program
        # failed ("Can't exec ... exited with an unknown value of 141")
        "mimetools-testmsgs_badbound.msg.eml": [rec("pnet@uscom.com", "mailererror", "")],
    }
