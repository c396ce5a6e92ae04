"""Labels of tests/corpus/parsedmarc (domainaware/parsedmarc samples), made by
reading each message; labels.py takes them with its own helpers.  Every message
not listed is mail: DMARC aggregate reports and an SMTP TLS report.

The DMARC failure reports in ARF (Feedback-Type: auth-failure) are labelled as
mail-auth's are: a feedback record for the Original-Rcpt-To, else the reported
message's To:.  parsedmarc's tests assert only that they parse as failure reports."""


def labels(fbl, none):
    return {
        # Original-Rcpt-To: peter.pan@domain.de
        "failure_DMARC_Failure_Report_for_domain.de__mail-from_sharepoint_domain.de__ip_10.10.10.10_.eml":
            [fbl("peter.pan@domain.de")],
        # Netease's report (base64 feedback part) has no Original-Rcpt-To; the
        # reported message went To: redacted@163.com
        "failure__Netease_DMARC_Failure_Report__Rent_Reminder.eml": [fbl("redacted@163.com")],
        # LinkedIn's: Original-Rcpt-To: recipient@linkedin.com (the CRLF copy; the
        # LF one is the same message and was left out)
        "failure_dmarc_ruf_report_linkedin.crlf.eml": [fbl("recipient@linkedin.com")],
        # Exim's DMARC forensic report in plain text (multipart/report with no
        # report part, Auto-Submitted: auto-replied): it names a sending domain and
        # IP, no recipient, and is nobody's out-of-office
        "failure_exim_plain_text_only_no_arf_part.eml": none,
    }
