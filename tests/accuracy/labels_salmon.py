"""Labels of tests/corpus/salmon (moggers87/salmon tests/data), made by reading
each message; labels.py takes them with its own helpers.  Every message not
listed is mail (a mailing-list reply and the spam of its "spam" mbox).  Salmon's
tests/test_bounce.py asserts this bounce's Final-Recipient and its diagnostic code 550-5.1.1."""


def labels(rec):
    return {
        # Postfix relaying Gmail's "550-5.1.1 The email account that you tried to
        # reach does not exist" (in reply to RCPT TO command); the file keeps its
        # mbox "From " line
        "bounce.msg.eml": [rec("asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com",
                               "userunknown", "5.1.1")],
    }
