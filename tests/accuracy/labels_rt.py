"""Labels of tests/corpus/rt (bestpractical/rt t/data/emails), made by reading
each message; labels.py takes them with its own helpers.  Every message not
listed is mail: no bounce, report or auto-reply."""


def labels(rec, vac):
    return {
        # Sendmail via Mirapoint: "550 5.1.1 <jesmund>... User unknown", Status 5.1.1;
        # RT's t/mail/sendmail.t takes it as "the bounce" too
        "emails_multipart-report.eml": [rec("jesmund@mailbox.other.example.com", "userunknown", "5.1.1")],
    }
