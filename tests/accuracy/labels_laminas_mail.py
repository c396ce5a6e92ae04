"""Labels of tests/corpus/laminas-mail (laminas/laminas-mail test/_files), made by
reading each message; labels.py takes them with its own helpers.  Every message
not listed is mail."""


def labels(rec):
    return {
        # Sendmail gave up after five days ("Deferred", "Message could not be
        # delivered for 5 days"; Action failed, Status 4.4.7).  Its text names
        # sysadmin@example.com, its Final-Recipient sysadmin@internet.com: the
        # report's field is the label, as elsewhere.
        "laminas-mail-19.eml": [rec("sysadmin@internet.com", "expired", "4.4.7")],
    }
