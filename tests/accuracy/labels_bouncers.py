"""Labels of four bounce handlers' test mail, made by reading each message;
labels.py takes them with its own helpers.  Every message not listed is mail.

node-baunsu (ardiesaeidi/node-baunsu tests/emails): Postfix relaying the
providers' replies to a Nodemailer sender.  Its tests assert that every bounce_
file is a (hard) bounce, auto_earthlink an auto-response and the rest mail; the
labels agree.

deliveryboy (choonkeat/deliveryboy spec/fixtures): its bounce_cases.yml asserts
the recipient and status of each; the labels agree.

tmail-bouncer (tangofoxtrot/tmail_bouncer test/fixtures): its test asserts which
are bounces; legit_with_quota, a MAILER-DAEMON message whose text says it was
written to carry the mailbox-full words, it takes for mail, and so do the labels.

courriel (houseabsolute/Courriel t/data/stress-test): a MIME parser's stress
test, mostly list mail from the 2000s; among it backscatter that reached the
tomcat-user list, whose address worms forged: Yahoo! auto-responses (labelled
as such), and two virus scanners' notices that a message "to" someone was
stopped (mail: the list distributed them as posts, to every subscriber, about a
message none of them sent; a notice a list distributes is a post, as the parser's
unit tests have it too).  Worm mail posing as a "Mail Delivery (failure)" notice
and a Mailman "disabled due to excessive bounces" notice are mail too."""


def labels(rec, vac):
    baunsu = {
        # Postfix, each "in reply to RCPT TO command" unless said otherwise
        "bounce_aol": [rec("mango3438kaskdmdfklas@aol.com", "userunknown", "5.1.1")],
        # "521 DNSRBL: Blocked for abuse" in reply to MAIL FROM
        "bounce_att": [rec("mango3438kaskdmdfklas@att.net", "blocked", "5.0.0")],
        "bounce_charter": [rec("mango3438kaskdmdfklas@charter.net", "userunknown", "5.1.1")],
        # Cox's "550 Mailbox unavailable or access denied": Sisimai's suspend phrase
        "bounce_cox": [rec("mango3438kaskdmdfklas@cox.com", "suspend", "5.0.0")],
        # "550 ...User unknown" at RCPT (Status 5.0.0)
        "bounce_earthlink": [rec("mango3438kaskdmdfklas@earthlink.net", "userunknown", "5.0.0")],
        # MessageLabs: "550 Invalid recipient <...> (#5.1.1)" at RCPT
        "bounce_exchange": [rec("mango3432dkl@skylight.com", "userunknown", "5.0.0")],
        "bounce_gmail": [rec("mango3432xlkdieldkl@gmail.com", "userunknown", "5.1.1")],
        # Hotmail's "550 Requested action not taken: mailbox unavailable" at RCPT
        "bounce_hotmail": [rec("mango3432xlkdieldkl@hotmail.com", "userunknown", "5.0.0")],
        # "550 5.1.1 unknown or illegal alias"
        "bounce_me": [rec("mango3438kaskdmdfklas@me.com", "userunknown", "5.1.1")],
        "bounce_postfix": [rec("mango-=#43@panda.com", "userunknown", "5.1.1")],
        # amavis: "554 5.7.0 Reject, id=... - SPAM"
        "bounce_spam": [rec("dev@sender.com", "spamdetected", "5.7.0")],
        # Yahoo's "dd This user doesn't have a yahoo.com account", which Yahoo
        # gives after DATA (as ../shared/corpus's rhost-yahooinc-03 has it)
        "bounce_yahoo": [rec("mango3438kaskdmdfklas@yahoo.com", "userunknown", "5.0.0")],
        # EarthLink spamBlocker's challenge (Precedence: auto_reply)
        "auto_earthlink": [vac("mangoresponse@earthlink.net")],
    }
    out = {"node-baunsu": {k + ".txt.eml": v for k, v in baunsu.items()}}
    out["deliveryboy"] = {
        # Exchange: "forwarded more than the maximum allowed times. This could
        # indicate a mail loop" (Action failed, Status 4.4.6)
        "bounce_cases_forwarding_loop.eml": [rec("forwarding_loop@mail.testreceiver.com", "networkerror", "4.4.6")],
        # "552 4.2.2 User has full mailbox." (Status 5.0.0)
        "bounce_cases_fullinbox.eml": [rec("fullinbox@testreceiver.com", "mailboxfull", "5.0.0")],
        "bounce_cases_host_not_found.eml": [rec("host_hot_found@testreceiver.com", "hostunknown", "5.4.4")],
        # "550 <...>, Recipient unknown" at RCPT
        "bounce_cases_unknown_recipient.eml": [rec("unknown_recipient@testreceiver.com", "userunknown", "5.0.0")],
        "bounce_cases_unknown_recipient2.eml": [rec("unknown_recipient2@testreceiver.com", "userunknown", "5.1.1")],
        # Gmail (Google Groups): "You have exceeded the the allowable number of
        # posts without solving a captcha": the group's posting policy
        "bounce_cases_without_delivery_status.eml":
            [rec("without_delivery_status@testreceiver.com", "policyviolation", "")],
    }
    out["tmail-bouncer"] = {
        # AOL: "552 ... MAILBOX FULL" (Status 5.2.2)
        "aol.eml": [rec("fred@aol.com", "mailboxfull", "5.2.2")],
        # "rejected due to the user exceeding its mailbox quota"
        "box_full.eml": [rec("fred@example.com", "mailboxfull", "")],
        # Yahoo: "This account has been disabled or discontinued [#102]"
        "yahoo.eml": [rec("fred@somewhere.com", "suspend", "5.0.0")],
        # Sun Messaging Server relaying Barracuda's "550 cuda_nsu No such
        # recipient" (Status 5.0.0, no command named): filtered by the rule
        "verizon.eml": [rec("fred@somewhere.com", "filtered", "5.0.0")],
    }
    out["courriel"] = {
        # Yahoo! Auto Response (one in Chinese, GB2312 undeclared)
        "mbox_mime_yahoo-auto-response.txt.eml": [vac("freetimeintomoney@yahoo.com")],
        "mbox_mime_yahoo-auto-response-cn.txt.eml": [vac("sunjinsheng0604@yahoo.com.cn")],
    }
    return out
