/*
 * parser_re.c - the regular expressions of the text readers and the
 * classification, compiled once per parser (parser_new) from one table.
 */
#include <glib.h>

#include "parsers/parser_int.h"
#include "parsers/parser_re.h"

static const struct {
	gsize off;		/* of the GRegex * in struct parser */
	const char *pattern;
	GRegexCompileFlags flags;
} regexes[] = {
	/*
	 * The lookahead holds the first character of every alternative: it
	 * changes no match, and most lines then fail at one class test
	 * instead of at each alternative in turn.
	 */
	{ G_STRUCT_OFFSET(struct parser, re_marker),
	    "^[ \\t>|*=_-]*(?=[tbo\\-umhycra])(?:"
	    "this is a copy of (?:the|your) message|"
	    "below this line is a copy of the message|"
	    "original message (?:follows|headers|header)|"
	    "-+ ?original message ?-+|"
	    "-+ ?(?:the )?(?:original|returned|unsent|undelivered) (?:message|mail)|"
	    "unsent message below|"
	    "message headers follow|"
	    "undelivered message headers|"
	    "headers of the original message|"
	    "the header of the original message|"
	    "header of (?:the )?(?:original|returned) message|"
	    "the original message (?:headers )?(?:is|are) (?:included|attached|below|as follows)|"
	    "original message header|"
	    "the message follows|"
	    "your message reads|"
	    "content-type: message/rfc822|"
	    "-+ ?(?:begin|start) (?:of )?(?:returned|original|bounced) message|"
	    "(?:below is )?a copy of the original message|"
	    "message text follows|"
	    "received: from \\S+ \\("
	    ")",
	    G_REGEX_CASELESS | G_REGEX_MULTILINE | G_REGEX_OPTIMIZE },
	{ G_STRUCT_OFFSET(struct parser, re_bounce_subject),
	    "undeliver|undelivered|not delivered|delivery (?:status|failure|failed|has failed|"
	    "notification|problem|report)|returned mail|return(?:ed)? to sender|failure notice|"
	    "mail delivery|could not be delivered|couldn't be delivered|non[- ]?deliver|"
	    "failed delivery|delivery error|mail system error|bounce|rejected|"
	    "message you sent|warning: could not send|nicht zustellbar|non remis|"
	    "permanent error|mail failure|error sending|mail error|delivery notice|"
	    "unzustellbar|non recapitabile|no entregado|are not member|not a member|loop alert|"
	    "\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc|"	/* mail error (ja) */
	    "\xe4\xb8\x8d\xe9\x81\x94",									/* undelivered (ja) */
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	/*
	 * A person's reply: Re: and the mail clients' translations.  (Not a
	 * forward: a bounce forwarded whole is still the bounce.)
	 */
	{ G_STRUCT_OFFSET(struct parser, re_reply_subject),
	    "^\\s*(?:re|aw|sv|vs|r|odp|antw)\\s*(?:\\[\\d+\\])?\\s*:",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	{ G_STRUCT_OFFSET(struct parser, re_fail_notice),
	    "could not be delivered|couldn't be delivered|undeliver|delivery (?:has )?failed|"
	    "was not delivered|unable to deliver|(?:wasn't|was not|not) able to deliver|"
	    "permanent(?:ly)? (?:error|fail)|temporary (?:error|failure|problem)|returned mail|"
	    "failed (?:recipient|address|to deliver)|following (?:address|recipient)|"
	    "delivery (?:to the following|problem|error|status|notification|failure)|"
	    "has not (?:yet )?been delivered|created automatically by mail delivery software|"
	    "delayed|user unknown|unknown user|no such (?:user|mailbox|address)|does not exist|"
	    "not found|mailbox (?:is )?(?:full|unavailable)|over ?quota|rejected|refused|"
	    "\\b[245]\\d\\d[ -]\\d\\.\\d{1,3}\\.\\d{1,3}\\b|\\b[45]\\.\\d{1,3}\\.\\d{1,3}\\b|"
	    "\\b5[05]\\d\\b|smtp|mailer-daemon|giving up|gave up|expired|"
	    "\xe9\x85\x8d\xe4\xbf\xa1|\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc|\xe5\xae\x9b\xe5\x85\x88|"	/* ja: delivery, error, destination */
	    "nicht zugestellt|unzustellbar|non remis|no se pudo entregar|non recapitato|"
	    "not a member|exceeds|disabled|suspended|duplicated message-id|loop (?:alert|detected)|mail loop",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	{ G_STRUCT_OFFSET(struct parser, re_failure_words),
	    "\\b[45]\\d\\d\\b|\\b[45]\\.\\d{1,3}\\.\\d{1,3}\\b|deliver|fail|reject|refus|unknown|"
	    "not found|exist|invalid|error|bounce|quota|full|denied|block|disabled|suspend|"
	    "unavailable|timed? ?out|expired|unrout|no such|not accept|not allowed|giving up|"
	    "gave up|unable|could not|couldn't|cannot|can't|doesn't|does not|no longer|"
	    "account|mailbox|user|recipient|address|domain|host",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	{ G_STRUCT_OFFSET(struct parser, re_rcpt_list),
	    "did not reach the following recipient|delivery has failed to these recipients|"
	    "following address(?:es|\\(es\\))? failed|following addresses had permanent fatal errors|"
	    "deliver your message to the following address|delivery to the following recipients? failed|"
	    "following recipients?(?:\\(s\\))? (?:could not|cannot) be reached|"
	    "could not be delivered to the following recipient",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	/* Wording of a notice that returns a message, for senders that say nothing else. */
	{ G_STRUCT_OFFSET(struct parser, re_bounce_body),
	    "could not be delivered|couldn't be delivered|undeliverable|delivery (?:has )?failed|"
	    "was not delivered|unable to deliver|permanent(?:ly)? fail|returned mail|"
	    "following (?:address|recipient)s? (?:failed|had permanent)|"
	    "has not (?:yet )?been delivered|created automatically by mail delivery software|"
	    "delivery (?:is |has been )?delayed|message (?:has been |was )?delayed",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	/* A receipt: the notice says the message arrived (Exchange "Delivered:"). */
	{ G_STRUCT_OFFSET(struct parser, re_delivered),
	    "(?:has|have) been (?:successfully )?delivered to|was (?:successfully )?delivered to|"
	    "successfully delivered|delivery to (?:the following|these) recipients? (?:succeeded|"
	    "was (?:successful|complete))",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	/*
	 * A letter a person wrote opens with a greeting and closes with a
	 * sign-off; a mail system's notice does not do both.
	 */
	{ G_STRUCT_OFFSET(struct parser, re_greeting),
	    "\\A\\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|guten (?:tag|morgen)|"
	    "liebe|lieber|sehr geehrte|bonjour|hola|buen(?:os|as) d[ií]as|ciao|buongiorno|gentile|"
	    "hej|goedemorgen|beste|ol[aá]|prezado|prezada)\\b",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	{ G_STRUCT_OFFSET(struct parser, re_signoff),
	    "^[ \\t]*(?:regards|best regards|kind regards|best wishes|best|cheers|thanks|thank you|"
	    "many thanks|sincerely|yours|greetings|mit freundlichen gr|viele gr|liebe gr|"
	    "gr(?:\xc3\xbc|ue)(?:\xc3\x9f|ss)e|cordialement|bien (?:\xc3\xa0|a) vous|saludos|un saludo|"
	    "cordiali saluti|distinti saluti|met vriendelijke groet|groeten|atenciosamente|abra(?:\xc3\xa7|c)os)\\b",
	    G_REGEX_CASELESS | G_REGEX_MULTILINE | G_REGEX_OPTIMIZE },
	/* Folded text (lower case, single spaces). */
	{ G_STRUCT_OFFSET(struct parser, re_given_up),
	    "permanent fatal error|delivery failed \\d+ attempts|failed after \\d+ (?:delivery )?attempts|"
	    "permanent(?:ly)? (?:error|failure|failed)|this is a permanent error|giving up|gave up|"
	    "will not (?:try|retry|be retried)|no further (?:delivery )?attempts|"
	    "(?:message|it) will be deleted from (?:the )?queue|could not be delivered for \\d+ days|"
	    "cannot send message for \\d+ days",
	    G_REGEX_OPTIMIZE },
	/*
	 * The Subjects of the warnings MTAs send while they still retry:
	 * Postfix "Delayed Mail (still being retried)", Sendmail "Warning:
	 * could not send message for past 4 hours", Exim "Warning: message
	 * X delayed 24 hours", Gmail "Delivery Status Notification (Delay)",
	 * Exchange "Delivery delayed:".
	 */
	{ G_STRUCT_OFFSET(struct parser, re_delay_subject),
	    "delayed mail|still being retried|could not send message for past|"
	    "^warning: message \\S+ delayed|\\(delay\\)|^delivery delayed\\b|^delayed:",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
	{ G_STRUCT_OFFSET(struct parser, re_autoreply_subject),
	    "^(?:auto(?:matic)?[ -]?(?:reply|response|respon[sd]e?r?|antwort)|auto:|"
	    "out of (?:the )?office|away from|vacation|on holiday|abwesen|absence|absent|"
	    "r[ée]ponse automatique|respuesta autom|risposta automatica)|"
	    "(?:out of (?:the )?office|autoreply|auto-reply|auto reply|automatic reply|"
	    "auto[ -]?response|automatic response|"
	    "away until|on vacation|"
	    /* the same in the languages mail clients write it in */
	    "automatische antwort|abwesenheitsnotiz|nicht im b\xc3\xbcro|au(?:\xc3\x9f|ss)er haus|"
	    "r\xc3\xa9ponse automatique|absen(?:ce|t|te) du bureau|message d'absence|"
	    "respuesta autom\xc3\xa1tica|fuera de (?:la )?oficina|"
	    "risposta automatica|fuori (?:ufficio|sede)|"
	    "automatisch antwoord|afwezig|niet op kantoor|"
	    "resposta autom\xc3\xa1tica|fora do escrit\xc3\xb3rio|aus\xc3\xaancia|"
	    "automatiskt svar|fr\xc3\xa5nvaro|automatisk svar|frav\xc3\xa6r|autosvar|ikke til stede|"
	    "automaattinen vastaus|poissa toimistolta|"
	    "automatyczna odpowied\xc5\xba|nieobecno\xc5\x9b\xc4\x87|poza biurem|"
	    "automatick\xc3\xa1 odpov\xc4\x9b\xc4\x8f|nep\xc5\x99\xc3\xadtomnost|"
	    "otomatik (?:yan\xc4\xb1t|cevap)|ofis d\xc4\xb1\xc5\x9f\xc4\xb1nda|"
	    "automatikus v\xc3\xa1lasz|h\xc3\xa1zon k\xc3\xadv\xc3\xbcl|"
	    "\xd0\xb0\xd0\xb2\xd1\x82\xd0\xbe\xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5\xd1\x82|"	/* ru: avtootvet */
	    "\xd0\xb0\xd0\xb2\xd1\x82\xd0\xbe\xd0\xbc\xd0\xb0\xd1\x82\xd0\xb8\xd1\x87\xd0\xb5\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9 \xd0\xbe\xd1\x82\xd0\xb2\xd0\xb5\xd1\x82|"	/* ru: automatic reply */
	    "\xe8\x87\xaa\xe5\x8b\x95\xe5\xbf\x9c\xe7\xad\x94|\xe8\x87\xaa\xe5\x8b\x95\xe8\xbf\x94\xe4\xbf\xa1|"	/* ja: auto answer, auto reply */
	    "\xe4\xb8\x8d\xe5\x9c\xa8|"	/* ja: absent */
	    "\xe8\x87\xaa\xe5\x8a\xa8\xe5\x9b\x9e\xe5\xa4\x8d|\xe8\x87\xaa\xe5\x8b\x95\xe5\x9b\x9e\xe8\xa6\x86|"	/* zh: auto reply */
	    "\xec\x9e\x90\xeb\x8f\x99 \xec\x9d\x91\xeb\x8b\xb5|\xeb\xb6\x80\xec\x9e\xac\xec\xa4\x91)",	/* ko: auto reply, away */
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE },
};

void
parser_re_init(struct parser *p)
{
	guint i;

	for (i = 0; i < G_N_ELEMENTS(regexes); i++)
		G_STRUCT_MEMBER(GRegex *, p, regexes[i].off) =
		    g_regex_new(regexes[i].pattern, regexes[i].flags, 0, NULL);
}

void
parser_re_fini(struct parser *p)
{
	guint i;

	for (i = 0; i < G_N_ELEMENTS(regexes); i++)
		if (G_STRUCT_MEMBER(GRegex *, p, regexes[i].off) != NULL)
			g_regex_unref(G_STRUCT_MEMBER(GRegex *, p, regexes[i].off));
}
