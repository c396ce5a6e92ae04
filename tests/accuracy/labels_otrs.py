"""Labels of tests/corpus/otrs (OTRS's scripts/test/sample messages, as OTOBO
carries them), made by reading each message; labels.py takes them with its own
helpers.  Every message not listed is mail: no bounce, report or auto-reply
(a Forefront engine-update notice, a Cisco fax and list mail among them)."""


def labels(rec, vac):
    # Postfix relaying "550 <...>: invalid address" after RCPT TO, Status 5.0.0
    # (the same message in EmailParser/ and PostMaster/)
    postfix = [rec("asdfasdfasdfasd@example.com", "userunknown", "5.0.0")]
    # A delivery-status part in multipart/mixed, "550 5.1.1 unknown or illegal
    # alias", Action failed (two copies differing in the returned Subject)
    alias = [rec("abc123@mydomain.somewhere", "userunknown", "5.1.1")]
    return {
        "sample_EmailParser_PostMaster-Test10.box.eml": postfix,
        "sample_PostMaster_PostMaster-Test10.box.eml": postfix,
        "sample_EmailParser_FilenameWithCRLF.box.eml": alias,
        "sample_EmailParser_FilenameWithNewline.box.eml": alias,
    }
