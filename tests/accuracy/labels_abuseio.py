"""Labels of tests/corpus/abuseio (AbuseIO's extra/notifier-samples/feedback-loop),
made by reading each message; labels.py takes them with its own helpers.  Every
file is an ARF abuse report ("Feedback-Type: abuse") of one complaint."""

# Sisimai's stand-in for a report that names no recipient (mail-auth's 001 too)
UNDISCLOSED = "undisclosed-recipient-in-headers@libsisimai.org.invalid"


def labels(fbl):
    # The recipient is the report's Original-Rcpt-To (hashed by Return Path's
    # feedback loops); without one, the To: of the reported message.
    rcpt = {
        # AOL redacts the local part of To: and keeps the domain
        "AOL_example_1": "redacted@welovetotravel.net",
        "AOL_example_2": "redacted@aol.com",
        "Bluetie_example_1": "c05e6794fd2ea6ffa2c7b8257138ecc0@excite.com",
        "Bluetie_example_2": "74effa612e9d9fc1cf12feaaeec9d8ae@excite.com",
        "Comcast_example_1": "b6cf7e1a0096ba1caf76ee2c90aaaeaa@comcast.net",
        "Comcast_example_2": "27a4767fd6480dcd6301d3711503069b@comcast.net",
        "Cox_example_1": "275b86f68f4c15e341a5188e416c44b6@cox.net",
        "Cox_example_2": "c4261472b98e3d2fb6baab0560160ecf@cox.net",
        "Fastmail_example_1": "cd17248e07765e9c70d0e7cfa91954ef@emailplus.org",
        "Fastmail_example_2": "e706e595ba0bb1b7fb130a8e1b928a33@myfastmail.com",
        "OpenSRS_example_1": "06b17a35259424d71a396bd1f6b356e0@bex.net",
        "OpenSRS_example_2": "b463e4d118786d568f2c2be464d5a35f@buckeye-express.com",
        "Rackspace_example_1": "3da9a55bf56d9f1739959b63cfce627f@olympiaintl.com",
        "Rackspace_example_2": "d9b4f707ca620400c0de82f4fc3624ac@alpeseguridad.com",
        # Time Warner Cable redacts the recipient ("[redacted]") everywhere
        "RoadRunner_example_1": UNDISCLOSED,
        "RoadRunner_example_2": UNDISCLOSED,
        "Synacor_example_1": "7a5828b75e5518527cdabc7fd76ac41d@mymts.net",
        # no Original-Rcpt-To, and the reported message has no To:
        "Synacor_example_2": UNDISCLOSED,
        "USANet_example_1": "c92c34de884224fbae01bb3472c17c92@kjo.com.sa",
        "USANet_example_2": "b4f2f88d39ee30774cff0c6b4b9941a3@usa.net",
        "Yahoo_example_1": "piporrina@yahoo.es",
        # To: is the sender itself; Original-Rcpt-To names the complainer
        "Yahoo_example_2": "santaanaalgemesi@yahoo.es",
        # The sender wrote To: itself (the complainer was a blind copy):
        # Delivered-To names the mailbox that complained
        "Zoho_example_1": "espinosa@espinosaviveros.com",
        # Delivered-To is a forward's target; the sender wrote to To:, which
        # its Received line confirms ("for <gfong@insumos.com.pe>")
        "Zoho_example_2": "gfong@insumos.com.pe",
    }
    return {"feedback-loop_%s.eml" % k: [fbl(v)] for k, v in rcpt.items()}
