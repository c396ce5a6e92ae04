"""Labels of tests/corpus/espocrm (espocrm/espocrm tests/unit/testData/Core/Mail),
made by reading each message; labels.py takes them with its own helpers.
Every message not listed is mail.

EspoCRM's tests/unit/Espo/Core/Mail/Account/BouncedRecognizerTest.php asserts
that the three bounced_ files are bounces and test_email_1 is not, and the
5.4.1 of bounced_3; the labels agree.  Its "hard" means a 5.x.x status, so
bounced_1 (Status 5.0.0) is hard there and, as an expired delivery, not here."""

P = "testData_Core_Mail_"


def labels(rec):
    lab = {
        # Amazon SES: "5.4.7 - Delivery expired (message too old) 'no valid ip
        # addresses'" (Status 5.0.0)
        "bounced_1": [rec("wrongster@test.com", "expired", "5.4.7")],
        # RFC 3464's example of a delivery given up after five days of "Connection
        # timed out" (Action failed, Status 4.0.0), with its header lines broken
        # where the copy folded them
        "bounced_2": [rec("louisl@larry.slip.umd.edu", "expired", "4.0.0")],
        # Symantec Email Security.cloud relaying Exchange Online's "550 5.4.1
        # Recipient address rejected: Access denied. AS(201806281)", the code of a
        # recipient its directory does not hold
        "bounced_3": [rec("receiver@test.com", "userunknown", "5.4.1")],
    }
    return {P + k + ".eml": v for k, v in lab.items()}
