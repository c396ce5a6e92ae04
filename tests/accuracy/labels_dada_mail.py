"""Labels of tests/corpus/dada-mail (justingit/dada-mail app/dada/t/corpus/email_messages),
made by reading each message; labels.py takes them with its own helpers.  The
bounces are real ones Dada Mail's own lists received (addresses rewritten to
example.com); every message not listed is mail: the bridge plugin's list mail
and the templates the message formatter is tested with.

Dada Mail's t/DADA_App_BounceHandler_MessageParser.t asserts the bounced address
of 15 of these and a handling rule for 16.  The addresses agree but one: of the
Postfix DSN whose Final-Recipient is a forward target ("expanded from"), the test
takes the Original-Recipient, the labels the Final-Recipient (as ../shared/corpus
does).  The rules are Dada Mail's own groups (a disabled account falls under
"exim_user_unknown" or "permanent_error", an unknown domain under
"user_inactive"); the reasons here are read from the failure texts."""

P = "t_corpus_email_messages_"


def labels(rec, fbl):
    lab = {
        # Postfix relaying Cox: "550 5.1.1 <...> invalid recipient", Status 5.1.1
        "bounce-cox_500_5.1.1": [rec("subscriber@cox.net", "userunknown", "5.1.1")],
        # Postfix gave up on "delivery temporarily suspended: connect to ...:
        # Connection refused" (Action failed, Status 4.4.1): the queue lifetime ran out
        "bounce-dsn-4.4.1": [rec("subscriber@example.com", "expired", "4.4.1")],
        # Postfix: "<final.recipient@...> (expanded from <subscriber@...>): ...
        # 550 5.1.1 User unknown"; Final-Recipient is the forward target
        "bounce-dsn-user_unknown": [rec("final.recipient@example.com", "userunknown", "5.1.1")],
        # Exim relaying Yahoo: "554 delivery error: dd Sorry your message to ... cannot
        # be delivered. This account has been disabled or discontinued [#102]"
        "bounce-exim-something": [rec("subscriber@example.com", "suspend", "")],
        # Amazon SES relaying Gmail: "550-5.1.1 The email account that you tried to
        # reach does not exist" (Status 5.0.0, the text's code 5.1.1)
        "bounce-gmail-550-5.1.1": [rec("this.is.going.to.bounce.67876543@gmail.com", "userunknown", "5.1.1")],
        # qmail relaying Gmail's 550 5.1.1 after RCPT
        "bounce-qmail-550-5.1.1": [rec("ljdfsajlkadfsmndfsalkjfdsapimoiasdfiodfsakl@gmail.com",
                                       "userunknown", "5.1.1")],
        # qmail: "511 sorry, no mailbox here by that name (#5.1.1 - chkuser)"
        "bounce-qmail-551-no_mailbox_here": [rec("ljdfsajlkadfsmndfsalkjfdsapimoiasdfiodfsakl@skazat.com",
                                                 "userunknown", "5.1.1")],
        # GoDaddy (secureserver.net), forwarded on by Dada Mail's bounce handler:
        # "child status 100...the user's mailfolder is full"
        "bounce-secureservers.net-mailfolder_is_full": [rec("subscriber@example.com", "mailboxfull", "")],
        # qmail at secureserver.net, forwarded likewise: "Mail quota exceeded."
        "bounce_secureserver.net-mail_quota_exceeded": [rec("subscriber@example.com", "mailboxfull", "")],
        # Amazon SES: "5.1.2 - Bad destination host 'DNS Hard Error looking up ... NXDomain'"
        "bounces-amazon_ses_bounce_status-5.1.2": [
            rec("asdfljasdfljkasdfjklasdfjklasdflasdflafsdjkl@sdfajdsafljfadsjldfsajl.com",
                "hostunknown", "5.1.2")],
        # Amazon SES: "5.1.0 - Unknown address error 550-'No Such User Here'"
        "bounces-amazon_ses_status-5.5.0": [rec("nonexistingaddress@dadademo.com", "userunknown", "5.1.0")],
        # 1&1 relaying Gmail after RCPT: "550-5.2.1 The email account that you tried
        # to reach is disabled"
        "bounces-disabled": [rec("subscriber@example.com", "suspend", "5.2.1")],
        # qmail relaying Yahoo: "554 delivery error: dd This user doesn't have a
        # yahoo.com account", no status, "failed after I sent the message" (after
        # DATA): a user-unknown text after DATA is filtered
        "bounces-qmail-554_no_account": [rec("ljdfsajlkadfsmndfsalkjfdsapimoiasdfiodfsakl@yahoo.com",
                                             "filtered", "")],
        # An ARF abuse report from Yahoo through Amazon SES, Original-Rcpt-To given
        "bounces_amazon_ses_abuse_report": [fbl("subscriber@example.com")],
        # 1&1 relaying Hotmail after RCPT: "550 Requested action not taken: mailbox unavailable"
        "bouncing_email_with_brackets": [rec("bouncing.email@example.com", "userunknown", "")],
        # Hotmail's complaint (JMRP, before ARF): the reported message whole, its
        # X-HmXmrOriginalRecipient the complainer
        "hotmail_notification.txt": [fbl("bouncing_address@example.com")],
        # Postfix relaying Yahoo/AOL after DATA: "552 1 Requested mail action aborted,
        # mailbox not found" (Status 5.0.0); two of them, on different days.  A
        # user-unknown text after DATA with no X.1.1 status is filtered
        "mailbox_not_found-01_14_21": [rec("bouncingemail@subscriberdomain.com", "filtered", "5.0.0")],
        "mailbox_not_found-01_18_21": [rec("bouncingemail@subscriberdomain.com", "filtered", "5.0.0")],
        # Yahoo's "Failure Notice": "This is a permanent error; I've given up" and
        # the recipient, with no failure text for it (a multipart/report without a
        # delivery-status part)
        "permanent_error": [rec("subscriber@example.com", "undefined", "")],
    }
    return {P + k + ".eml": v for k, v in lab.items()}
