/*
 * text.c - non-standard bounces and auto-replies.
 *
 * A bounce that is not an RFC 3464 report is recognised by its headers
 * (sender is a mailer daemon, a bounce-like Subject, X-Failed-Recipients).
 * Its human-readable text is cut where the enclosed original starts; in
 * what remains every address that is not the sender's starts a recipient
 * block, and the lines up to the next such address are its diagnostic.
 * This is what Postfix, Exim, qmail, Sendmail, Gmail, Yahoo and friends
 * all do in their own words, so one scanner serves them all and the
 * words themselves are left to the rules file.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_int.h"
#include "parsers/scan.h"

#define MAX_BLOCK_LINES	40
#define MAX_TEXT_RCPTS	200

void
text_init(struct parser *p)
{
	p->cur_orig_rcpts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p->cur_orig_hdrs = g_string_new(NULL);
	p->re_marker = g_regex_new(
	    "^[ \\t>|*=_-]*(?:"
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
	    ")", G_REGEX_CASELESS | G_REGEX_MULTILINE | G_REGEX_OPTIMIZE, 0, NULL);
	p->re_bounce_subject = g_regex_new(
	    "undeliver|undelivered|not delivered|delivery (?:status|failure|failed|has failed|"
	    "notification|problem|report)|returned mail|return(?:ed)? to sender|failure notice|"
	    "mail delivery|could not be delivered|couldn't be delivered|non[- ]?deliver|"
	    "failed delivery|delivery error|mail system error|bounce|rejected|"
	    "message you sent|warning: could not send|nicht zustellbar|non remis|"
	    "permanent error|mail failure|error sending|mail error|delivery notice|"
	    "unzustellbar|non recapitabile|no entregado|are not member|not a member|loop alert|"
	    "\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc|"	/* mail error (ja) */
	    "\xe4\xb8\x8d\xe9\x81\x94",									/* undelivered (ja) */
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
	p->re_fail_notice = g_regex_new(
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
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
	p->re_failure_words = g_regex_new(
	    "\\b[45]\\d\\d\\b|\\b[45]\\.\\d{1,3}\\.\\d{1,3}\\b|deliver|fail|reject|refus|unknown|"
	    "not found|exist|invalid|error|bounce|quota|full|denied|block|disabled|suspend|"
	    "unavailable|timed? ?out|expired|unrout|no such|not accept|not allowed|giving up|"
	    "gave up|unable|could not|couldn't|cannot|can't|doesn't|does not|no longer|"
	    "account|mailbox|user|recipient|address|domain|host",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
	p->re_rcpt_list = g_regex_new(
	    "did not reach the following recipient|delivery has failed to these recipients",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
	/* Wording of a notice that returns a message, for senders that say nothing else. */
	p->re_bounce_body = g_regex_new(
	    "could not be delivered|couldn't be delivered|undeliverable|delivery (?:has )?failed|"
	    "was not delivered|unable to deliver|permanent(?:ly)? fail|returned mail|"
	    "following (?:address|recipient)s? (?:failed|had permanent)|"
	    "has not (?:yet )?been delivered|created automatically by mail delivery software|"
	    "delivery (?:is |has been )?delayed|message (?:has been |was )?delayed",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
	/* Folded text (lower case, single spaces). */
	p->re_given_up = g_regex_new(
	    "permanent fatal error|delivery failed \\d+ attempts|failed after \\d+ (?:delivery )?attempts|"
	    "permanent(?:ly)? (?:error|failure|failed)|this is a permanent error|giving up|gave up|"
	    "will not (?:try|retry|be retried)|no further (?:delivery )?attempts|"
	    "(?:message|it) will be deleted from (?:the )?queue|could not be delivered for \\d+ days|"
	    "cannot send message for \\d+ days",
	    G_REGEX_OPTIMIZE, 0, NULL);
	/*
	 * The Subjects of the warnings MTAs send while they still retry:
	 * Postfix "Delayed Mail (still being retried)", Sendmail "Warning:
	 * could not send message for past 4 hours", Exim "Warning: message
	 * X delayed 24 hours", Gmail "Delivery Status Notification (Delay)",
	 * Exchange "Delivery delayed:".
	 */
	p->re_delay_subject = g_regex_new(
	    "delayed mail|still being retried|could not send message for past|"
	    "^warning: message \\S+ delayed|\\(delay\\)|^delivery delayed\\b|^delayed:",
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
	p->re_autoreply_subject = g_regex_new(
	    "^(?:auto(?:matic)?[ -]?(?:reply|response|respon[sd]e?r?|antwort)|auto:|"
	    "out of (?:the )?office|away from|vacation|on holiday|abwesen|absence|absent|"
	    "r[ée]ponse automatique|respuesta autom|risposta automatica)|"
	    "(?:out of (?:the )?office|autoreply|auto-reply|auto reply|automatic reply|"
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
	    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
}

void
text_fini(struct parser *p)
{
	if (p->cur_orig_rcpts != NULL)
		g_hash_table_destroy(p->cur_orig_rcpts);
	if (p->cur_orig_hdrs != NULL)
		g_string_free(p->cur_orig_hdrs, TRUE);
	if (p->re_marker != NULL)
		g_regex_unref(p->re_marker);
	if (p->re_bounce_subject != NULL)
		g_regex_unref(p->re_bounce_subject);
	if (p->re_bounce_body != NULL)
		g_regex_unref(p->re_bounce_body);
	if (p->re_rcpt_list != NULL)
		g_regex_unref(p->re_rcpt_list);
	if (p->re_failure_words != NULL)
		g_regex_unref(p->re_failure_words);
	if (p->re_fail_notice != NULL)
		g_regex_unref(p->re_fail_notice);
	if (p->re_autoreply_subject != NULL)
		g_regex_unref(p->re_autoreply_subject);
	if (p->re_given_up != NULL)
		g_regex_unref(p->re_given_up);
	if (p->re_delay_subject != NULL)
		g_regex_unref(p->re_delay_subject);
}

/* ---- small helpers ---- */

static gboolean
local_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c >= 0x80 || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

/* ASCII only: text bounces glue non-ASCII punctuation to addresses. */
static gboolean
domain_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '-';
}

/*
 * Next address in [p, end) at or after *pos; returns a new normalised
 * address and sets *pos past it, or NULL.
 */
static char *
next_address(const char *line, gsize n, gsize *pos)
{
	gsize i;

	for (i = *pos; i < n; i++) {
		gsize a, b;
		char *s, *out;
		const char *at = memchr(line + i, '@', n - i);

		if (at == NULL)
			break;
		i = at - line;
		a = i;
		while (a > 0 && local_char(line[a - 1]))
			a--;
		b = i + 1;
		while (b < n && domain_char(line[b]))
			b++;
		while (b > i + 1 && (line[b - 1] == '.' || line[b - 1] == '-'))
			b--;
		/*
		 * Characters RFC 5322 allows in a local part but that in a notice
		 * are punctuation glued to the address: "|jo@x" in a signature,
		 * "=3Djo@x" from a URL, "'jo@x'".
		 */
		while (a < i && strchr(".'|=/`{}~^*+?#$%&!-", line[a]) != NULL)
			a++;
		*pos = b > i ? b : i + 1;
		if (a == i || b <= i + 1 || memchr(line + i + 1, '.', b - i - 1) == NULL)
			continue;
		/* a URL's path or query ("/help?email=x@y"), not an address */
		if (memchr(line + a, '/', i - a) != NULL || memchr(line + a, '?', i - a) != NULL)
			continue;
		/* inside a URL or a Message-ID-ish token "<...@...>" after "id"? keep simple */
		if (a >= 3 && line[a - 1] == '/' )
			continue;
		s = g_strndup(line + a, b - a);
		out = parser_address(s);
		g_free(s);
		if (out != NULL)
			return out;
	}
	*pos = n;
	return NULL;
}

void
text_add_orig_rcpts(struct parser *p, const char *v)
{
	if (v != NULL && p->cur_orig_hdrs->len < 65536) {
		g_string_append(p->cur_orig_hdrs, v);
		g_string_append_c(p->cur_orig_hdrs, '\n');
	}
}

/* The original's recipients, made from what text_add_orig_rcpts() kept. */
static GHashTable *
orig_rcpts(struct parser *p)
{
	const char *v = p->cur_orig_hdrs->str;
	gsize pos = 0, n = p->cur_orig_hdrs->len;
	char *a;

	if (n > 0 && g_hash_table_size(p->cur_orig_rcpts) == 0)
		while ((a = next_address(v, n, &pos)) != NULL) {
			g_hash_table_add(p->cur_orig_rcpts, g_ascii_strdown(a, -1));
			g_free(a);
		}
	return p->cur_orig_rcpts;
}

static void
exclude_add(GHashTable *ex, const char *v)
{
	gsize pos = 0;
	char *a;

	if (v == NULL)
		return;
	while ((a = next_address(v, strlen(v), &pos)) != NULL)
		g_hash_table_add(ex, g_ascii_strdown(a, -1)), g_free(a);
}

static gboolean
is_daemon_local(const char *addr)
{
	static const char *const locals[] = { "mailer-daemon", "postmaster", "mail-daemon",
		"mailer_daemon", "mailerdaemon", "mmdf", "abuse", "hostmaster", "noreply",
		"no-reply", "daemon", "root", "bounce", "bounces" };
	const char *at = strchr(addr, '@');
	size_t i, n = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (i = 0; i < G_N_ELEMENTS(locals); i++)
		if (n == strlen(locals[i]) && g_ascii_strncasecmp(addr, locals[i], n) == 0)
			return TRUE;
	return FALSE;
}

/* min(len, max), backed off to the start of a UTF-8 sequence: a regex's subject end. */
static gsize
utf8_cut(const char *s, gsize len, gsize max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((guchar)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/*
 * How much the header says the message is a bounce: 2 when a mail
 * system's sender sends it under a bounce Subject (or X-Failed-Recipients
 * names the failed), 1 when only one of the two does, 0 when neither.
 */
static int
looks_like_bounce(struct parser *p, const struct fields *top)
{
	const char *from = fields_get(top, 0, "From");
	char *subj;
	int yes = 0;

	if (fields_get(top, 0, "X-Failed-Recipients") != NULL)
		return 2;
	if (from != NULL && (strcasestr(from, "mailer-daemon") != NULL ||
	    strcasestr(from, "postmaster") != NULL || strcasestr(from, "mail delivery") != NULL ||
	    strcasestr(from, "mail-daemon") != NULL || strcasestr(from, "mailer_daemon") != NULL ||
	    strcasestr(from, "delivery subsystem") != NULL || strcasestr(from, "mmdf") != NULL ||
	    strcasestr(from, "mail administrator") != NULL || strcasestr(from, "post_master") != NULL))
		yes++;
	/* The header as sent: a regex (UTF-8 mode, unchecked) only sees valid UTF-8. */
	subj = parser_utf8(fields_get(top, 0, "Subject"), -1);
	if (subj != NULL && g_regex_match(p->re_bounce_subject, subj, 0, NULL))
		yes++;
	g_free(subj);
	return yes;
}

/* Start of the enclosed original in body, or len. */
static gsize
original_start(struct parser *p, const char *body, gsize len)
{
	GMatchInfo *mi = NULL;
	gsize at = len;
	int s, e;

	if (g_regex_match_full(p->re_marker, body, len, 0, 0, &mi, NULL) &&
	    g_match_info_fetch_pos(mi, 0, &s, &e))
		at = s;
	g_match_info_free(mi);
	return at;
}

struct block {
	char *addr;
	GString *text;
	int lines;
	gboolean whole;		/* text is the recipient's whole story (sendmail_regroup) */
	gboolean boiler;	/* named on a line of contact boilerplate */
};

static void
block_free(gpointer x)
{
	struct block *b = x;

	g_free(b->addr);
	g_string_free(b->text, TRUE);
	g_free(b);
}

/* Empty, or only quoting: "> >". */
static gboolean
blank_line(const char *p, gsize n)
{
	gsize i;

	for (i = 0; i < n; i++)
		if (p[i] != '>' && p[i] != ' ' && p[i] != '\t')
			return FALSE;
	return TRUE;
}

static gboolean
sender_line(const char *p, gsize n)
{
#define TAG(s)	{ s, sizeof(s) - 1 }
	static const struct { const char *s; gsize n; } tags[] = { TAG("from:"),
		TAG("mail from:"), TAG("sender:"), TAG("return-path:"), TAG("reply-to:"),
		TAG("envelope-from:"), TAG("message-id:"), TAG("in-reply-to:"), TAG("references:") };
#undef TAG
	gsize i;

	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '>')) {
		p++;
		n--;
	}
	/* the first letter turns most lines away without a call */
	for (i = 0; n > 0 && i < G_N_ELEMENTS(tags); i++)
		if (n >= tags[i].n && g_ascii_tolower(*p) == tags[i].s[0] &&
		    g_ascii_strncasecmp(p, tags[i].s, tags[i].n) == 0)
			return TRUE;
	return FALSE;
}

/*
 * A line that opens another section of a notice: a rule ("-----",
 * "=====", "*****" with or without a title) or the machine-readable
 * fields of an inline delivery-status block.  Sendmail's "Transcript of
 * session follows" is no other section: it is the failure itself.
 */
static gboolean
section_line(const char *p, gsize n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n >= 3 && (p[0] == '-' || p[0] == '=' || p[0] == '*' || p[0] == '_' || p[0] == '#') &&
	    p[1] == p[0] && p[2] == p[0])
		return g_strstr_len(p, n, "ranscript") == NULL;
	return (n >= 14 && g_ascii_strncasecmp(p, "reporting-mta:", 14) == 0) ||
	    (n >= 16 && g_ascii_strncasecmp(p, "final-recipient:", 16) == 0) ||
	    (n >= 19 && g_ascii_strncasecmp(p, "original-recipient:", 19) == 0);
}

/*
 * A line of a provider's boilerplate: where to ask for help, whom to
 * write to.  An address on it is a contact, not a recipient, unless the
 * line speaks of the failure too.
 */
static gboolean
boiler_line(const char *p, gsize n)
{
	static const char *const contact[] = { "contact", "question", "help desk", "helpdesk",
		"assistance", "support", "e-mail us", "email us", "write to", "please send",
		"visit", "feedback", "unsubscribe" };
	static const char *const failure[] = { "deliver", "fail", "reject", "refuse", "unknown",
		"not found", "exist", "invalid", "error", "bounce", "undeliverable", "quota", "full" };
	char *l = g_ascii_strdown(p, n);
	gboolean yes = FALSE;
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(contact) && !yes; i++)
		yes = strstr(l, contact[i]) != NULL;
	for (i = 0; i < G_N_ELEMENTS(failure) && yes; i++)
		yes = strstr(l, failure[i]) == NULL;
	g_free(l);
	return yes;
}

/* Does a recipient's paragraph say anything of a failure: a reply or status code, a word? */
static gboolean
speaks_of_failure(struct parser *p, const char *t)
{
	return g_regex_match(p->re_failure_words, t, 0, NULL);
}

/* Does the line start (after blanks, "<" or a quote) with an address? */
static gboolean
line_starts_with_address(const char *p, gsize n)
{
	gsize i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '<' || p[i] == '"' || p[i] == '\''))
		i++;
	while (i < n && local_char((unsigned char)p[i]))
		i++;
	return i < n && p[i] == '@';
}

/*
 * Split region into per-address blocks, at most max.  Returns GPtrArray of
 * struct block; addresses past max set REPORT_ANOMALY_TOO_MANY_RCPTS.
 */
static GPtrArray *
scan_blocks(const char *region, gsize len, GHashTable *exclude, GString *preamble, guint max,
    guint32 *anomalies)
{
	GPtrArray *blocks = g_ptr_array_new_with_free_func(block_free);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct block *cur = NULL;
	const char *p = region, *end = region + len;
	gboolean noise = FALSE;

	while (p < end) {
		const char *e = p;
		gsize n, pos = 0;
		char *a;
		gboolean started = FALSE;

		while (e < end && *e != '\n' && *e != '\r')
			e++;
		n = e - p;
		if (scan_noise_field(p, e) || (noise && n > 0 && (*p == ' ' || *p == '\t'))) {
			/* a quoted trace or verdict field (scan.h), folded lines and all */
			noise = TRUE;
			if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
				e++;
			p = e + 1;
			continue;
		}
		noise = FALSE;
		/* "From: x" or "MAIL FROM: x" in a summary names the sender */
		if (sender_line(p, n))
			pos = n;
		while ((a = next_address(p, n, &pos)) != NULL) {
			char *k = g_ascii_strdown(a, -1);
			gboolean ex = g_hash_table_contains(exclude, k);

			if (!ex && g_hash_table_contains(seen, k)) {
				/* a recipient named again: what follows is about it */
				cur = g_hash_table_lookup(seen, k);
				started = TRUE;
				g_free(k);
				g_free(a);
				break;
			}
			if (!ex && blocks->len >= max)
				*anomalies |= REPORT_ANOMALY_TOO_MANY_RCPTS;
			else if (!ex) {
				cur = g_new0(struct block, 1);
				cur->addr = a;
				cur->boiler = boiler_line(p, n);
				cur->text = g_string_new(NULL);
				g_ptr_array_add(blocks, cur);
				g_hash_table_insert(seen, g_ascii_strdown(cur->addr, -1), cur);
				started = TRUE;
				g_free(k);
				break;
			}
			g_free(k);
			g_free(a);
		}
		if (cur != NULL && !started && section_line(p, n)) {
			/*
			 * A recipient's block is its whole failure paragraph, blank
			 * lines and all ("Technical details of permanent failure:"
			 * and the remote answer often follow one): it ends at the
			 * next recipient or at a section rule, not at a blank line.
			 */
			cur = NULL;
		} else if (cur != NULL) {
			if (cur->lines++ < MAX_BLOCK_LINES) {
				g_string_append_len(cur->text, p, n);
				g_string_append_c(cur->text, '\n');
			}
		} else if (preamble->len < 4096) {
			g_string_append_len(preamble, p, n);
			g_string_append_c(preamble, '\n');
		}
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		p = e + 1;
	}
	g_hash_table_destroy(seen);
	return blocks;
}

/*
 * The address of a Sendmail per-recipient summary line, "554 <addr>...
 * text" or "550 5.1.1 <addr>... text" (g_free), or NULL.
 */
static char *
sendmail_summary_addr(const char *p, gsize n)
{
	const char *e = p + n, *a;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (e - p < 8 || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) || p[3] != ' ')
		return NULL;
	p += 4;
	if (p < e && g_ascii_isdigit(*p)) {
		/* an enhanced status code: d.d{1,3}.d{1,3} and a space */
		while (p < e && (g_ascii_isdigit(*p) || *p == '.'))
			p++;
		if (p == e || *p != ' ')
			return NULL;
		p++;
	}
	if (p == e || *p != '<')
		return NULL;
	a = ++p;
	while (p < e && *p != '>' && *p != '<' && *p != ' ')
		p++;
	if (e - p < 4 || memcmp(p, ">...", 4) != 0 || memchr(a, '@', p - a) == NULL)
		return NULL;
	return g_strndup(a, p - a);
}

/*
 * Sendmail's transcript ends each recipient with its summary line: the
 * lines before it since the previous one ("While talking to host:", the
 * ">>>" / "<<<" exchange that failed) are that recipient's, not the
 * previous recipient's as the generic scan has it.  The blocks of the
 * addresses that have a summary line are rebuilt that way.
 */
static void
sendmail_regroup(const char *region, gsize len, GPtrArray *blocks)
{
	const char *p = region, *end = region + len;
	GString *pending;
	GHashTable *redone;
	struct block *last = NULL;

	/*
	 * Only a transcript: its ">>> command" / "<<< reply" exchange.  The
	 * region ends in its NUL (text_parse()), so strstr() sees what
	 * g_strstr_len() would, with glibc's vectorised search rather than
	 * GLib's byte loop.
	 */
	if (strstr(region, "\n>>> ") == NULL && strstr(region, "\n<<< ") == NULL)
		return;
	pending = g_string_new(NULL);
	redone = g_hash_table_new(NULL, NULL);
	while (p < end) {
		const char *e = p;
		char *a;
		guint i;
		struct block *hit = NULL;

		while (e < end && *e != '\n' && *e != '\r')
			e++;
		if ((a = sendmail_summary_addr(p, e - p)) != NULL) {
			for (i = 0; i < blocks->len && hit == NULL; i++) {
				struct block *b = g_ptr_array_index(blocks, i);
				if (g_ascii_strcasecmp(b->addr, a) == 0)
					hit = b;
			}
			g_free(a);
		}
		if (hit != NULL) {
			if (!g_hash_table_contains(redone, hit)) {
				g_hash_table_add(redone, hit);
				g_string_truncate(hit->text, 0);
				hit->lines = 0;
				hit->whole = TRUE;
			}
			g_string_append_len(hit->text, pending->str, pending->len);
			g_string_append_len(hit->text, p, e - p);
			g_string_append_c(hit->text, '\n');
			g_string_truncate(pending, 0);
			last = hit;
		} else if (blank_line(p, e - p))
			g_string_truncate(pending, 0);
		else if (pending->len < 4096) {
			g_string_append_len(pending, p, e - p);
			g_string_append_c(pending, '\n');
		}
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		p = e + 1;
	}
	/* What follows the last summary line is still about its recipient. */
	if (last != NULL)
		g_string_append_len(last->text, pending->str, pending->len);
	g_hash_table_destroy(redone);
	g_string_free(pending, TRUE);
}

/* Addresses of an X-Failed-Recipients value, or NULL when none. */
static GPtrArray *
failed_recipients(const char *v)
{
	GPtrArray *a;
	gsize pos = 0;
	char *x;

	if (v == NULL)
		return NULL;
	a = g_ptr_array_new_with_free_func(g_free);
	while ((x = next_address(v, strlen(v), &pos)) != NULL && a->len < MAX_TEXT_RCPTS)
		g_ptr_array_add(a, x);
	if (a->len == 0) {
		g_ptr_array_free(a, TRUE);
		return NULL;
	}
	return a;
}

static gboolean
names_any(GPtrArray *addrs, GPtrArray *blocks)
{
	guint i, j;

	for (i = 0; i < addrs->len; i++)
		for (j = 0; j < blocks->len; j++) {
			const struct block *b = g_ptr_array_index(blocks, j);

			if (g_ascii_strcasecmp(b->addr, g_ptr_array_index(addrs, i)) == 0)
				return TRUE;
		}
	return FALSE;
}

static void
add_record(struct parser *p, struct report *r, const char *addr, const char *how,
    const char *diag, const char *context)
{
	struct report_record *rec;
	const char *subj;

	if (addr == NULL || r->records->len >= MIN(MAX_TEXT_RCPTS, p->max_records))
		return;
	rec = report_add_record(r);
	rec->recipient = g_strdup(addr);
	parser_rcpt_from(rec, how);
	rec->action = g_strdup("failed");
	if (diag != NULL) {
		char *d = g_strstrip(g_strdup(diag));

		rec->diagnostic = *d != '\0' ? d : (g_free(d), NULL);
	}
	parser_classify(p, rec, context);
	subj = p->cur_top != NULL ? fields_get(p->cur_top, 0, "Subject") : NULL;
	if (subj != NULL && g_regex_match(p->re_delay_subject, subj, 0, NULL)) {
		/*
		 * A warning that the MTA still retries is no failure (yet):
		 * whatever its reason, it must not count as a bounce.
		 */
		g_free(rec->action);
		rec->action = g_strdup("delayed");
		rec->class_ = REPORT_CLASS_UNKNOWN;
	}
}

/*
 * The line after Exim's "following address(es) failed:" (blank lines
 * skipped) when it holds one address and nothing but an optional ':',
 * as a pointer into region; NULL otherwise.
 */
static const char *
listed_failed(const char *region)
{
	const char *m = strcasestr(region, "following address(es)"), *l, *e;
	gsize pos = 0;
	char *a;

	if (m == NULL)
		return NULL;
	/* Exim folds the sentence: "address(es)" LF "failed:" */
	for (l = m + strlen("following address(es)"); *l == ' ' || *l == '\r' || *l == '\n'; l++)
		;
	if (g_ascii_strncasecmp(l, "failed:", 7) != 0)
		return NULL;
	l += 7;
	while (*l == '\r' || *l == '\n' || *l == ' ' || *l == '\t')
		l++;
	for (e = l; *e != '\0' && *e != '\n' && *e != '\r'; e++)
		;
	if ((a = next_address(l, e - l, &pos)) == NULL)
		return NULL;
	g_free(a);
	while (pos < (gsize)(e - l) && (l[pos] == ':' || l[pos] == '>' || l[pos] == ' ' ||
	    l[pos] == '\t'))
		pos++;
	return pos == (gsize)(e - l) ? l : NULL;
}

/*
 * Exchange names a failed recipient by its display name only ("Nora
 * Nobody on 1/1/2024"): of the original's To entries "Name <addr>", those
 * whose name the notice repeats are the failed ones.
 */
static void
display_names(struct parser *p, struct report *r, const char *to, const char *region)
{
	char **entries = g_strsplit(to, ",", 64);
	guint i;

	for (i = 0; entries[i] != NULL; i++) {
		char *lt = strchr(entries[i], '<'), *name, *a;

		if (lt == NULL)
			continue;
		name = g_strndup(entries[i], lt - entries[i]);
		g_strstrip(name);
		if (name[0] == '"') {
			memmove(name, name + 1, strlen(name));
			if (*name != '\0' && name[strlen(name) - 1] == '"')
				name[strlen(name) - 1] = '\0';
		}
		if (g_utf8_strlen(name, -1) >= 4 && strstr(region, name) != NULL &&
		    (a = parser_address(lt)) != NULL) {
			add_record(p, r, a, "original-to", NULL, region);
			g_free(a);
		}
		g_free(name);
	}
	g_strfreev(entries);
}

void
text_parse(struct parser *p, struct report *r, const struct fields *top, const char *body,
    gsize len, gboolean have_original)
{
	GHashTable *exclude;
	GPtrArray *blocks, *real, *xf;
	GHashTable *origs;
	const char *listed;
	GString *pre;
	gsize cut;
	guint i;
	int head;
	char *region;

	/*
	 * A daemon-like sender or a bounce-like Subject alone makes no bounce
	 * (a person writes from postmaster@, a newsletter says "rejected"):
	 * then the text before the enclosed original must speak of a failed
	 * delivery too.  Both together, or X-Failed-Recipients, are enough.
	 */
	head = looks_like_bounce(p, top);
	if (head == 0 && !(have_original && body != NULL &&
	    g_regex_match_full(p->re_bounce_body, body, utf8_cut(body, len, 8192), 0, 0, NULL,
	    NULL)))
		return;
	if (body == NULL)
		body = "", len = 0;
	cut = original_start(p, body, len);
	if (head < 2 && !g_regex_match_full(p->re_fail_notice, body, utf8_cut(body, cut, 16384), 0,
	    0, NULL, NULL))
		return;
	r->kind = REPORT_KIND_BOUNCE;
	if (!have_original && cut < len) {
		/* The original's headers follow the marker line. */
		const char *h = memchr(body + cut, '\n', len - cut);

		if (h != NULL) {
			struct fields *f = fields_parse_header(h + 1, len - (h + 1 - body));

			parser_original_from_fields(p, r, f);
			fields_free(f);
		}
	}
	exclude = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	exclude_add(exclude, fields_get(top, 0, "From"));
	exclude_add(exclude, fields_get(top, 0, "To"));
	exclude_add(exclude, fields_get(top, 0, "Reply-To"));
	exclude_add(exclude, fields_get(top, 0, "Sender"));
	exclude_add(exclude, r->orig_from);
	region = g_strndup(body, cut);
	pre = g_string_new(NULL);
	{
		/*
		 * "did not reach the following recipient(s):" and the like: the
		 * addresses above it are a summary of the original (its To:), the
		 * failed ones follow.
		 */
		GMatchInfo *mi = NULL;
		int ls = 0, le = 0;
		gsize from = 0;

		if (g_regex_match(p->re_rcpt_list, region, 0, &mi) && g_match_info_fetch_pos(mi, 0, &ls, &le)) {
			/* from the marker's own line: some put the address on it */
			for (from = ls; from > 0 && region[from - 1] != '\n' && region[from - 1] != '\r'; from--)
				;
			g_string_append_len(pre, region, from);
		}
		g_match_info_free(mi);
		blocks = scan_blocks(region + from, cut - from, exclude, pre,
		    MIN(MAX_TEXT_RCPTS, p->max_records), &r->anomalies);
		sendmail_regroup(region + from, cut - from, blocks);
	}
	/*
	 * X-Failed-Recipients (Exim, Gmail) names the failed addresses: when
	 * present, only they count, each with its block of text or, failing
	 * that, the text before the first address.
	 */
	xf = failed_recipients(fields_get(top, 0, "X-Failed-Recipients"));
	if (xf != NULL && !names_any(xf, blocks) && blocks->len > 0) {
		/* the header disagrees with the text: the text is more specific */
		g_ptr_array_free(xf, TRUE);
		xf = NULL;
	}
	if (xf != NULL) {
		for (i = 0; i < xf->len; i++) {
			const char *a = g_ptr_array_index(xf, i);
			struct block *hit = NULL;
			guint j;

			for (j = 0; j < blocks->len && hit == NULL; j++) {
				struct block *b = g_ptr_array_index(blocks, j);

				if (g_ascii_strcasecmp(b->addr, a) == 0)
					hit = b;
			}
			add_record(p, r, a, "x-failed-recipients", hit != NULL ? hit->text->str : pre->str,
			    region);
		}
		g_ptr_array_free(xf, TRUE);
		goto out;
	}
	/*
	 * Which addresses are recipients: one the enclosed original was sent
	 * to (To, Cc, a relay's "for <x>"); else one that is no mail system's
	 * own address nor a contact in boilerplate and, when the original is
	 * there to say who it was for, whose paragraph speaks of a failure
	 * (Bcc recipients and expanded aliases are in no header).  The others
	 * only count when nothing else was found.
	 */
	real = g_ptr_array_new();
	origs = orig_rcpts(p);
	for (i = 0; i < blocks->len; i++) {
		struct block *b = g_ptr_array_index(blocks, i);
		char *k = g_ascii_strdown(b->addr, -1);

		if (g_hash_table_contains(origs, k) ||
		    (!is_daemon_local(b->addr) && !b->boiler &&
		    (g_hash_table_size(origs) == 0 || speaks_of_failure(p, b->text->str))))
			g_ptr_array_add(real, b);
		g_free(k);
	}
	for (i = 0; i < blocks->len && real->len == 0; i++) {
		struct block *b = g_ptr_array_index(blocks, i);

		if (!is_daemon_local(b->addr))
			g_ptr_array_add(real, b);
	}
	if (real->len == 0)
		for (i = 0; i < blocks->len; i++)
			g_ptr_array_add(real, g_ptr_array_index(blocks, i));
	for (i = 0; i < real->len; i++) {
		struct block *b = g_ptr_array_index(real, i);

		/* A transcript block that names no command had no exchange of
		 * its own: the notice's first command is another recipient's. */
		add_record(p, r, b->addr, "failure-line", b->text->str, b->whole ? NULL : region);
	}
	if (r->records->len == 0 && (listed = listed_failed(region)) != NULL) {
		/*
		 * Exim's "The following address(es) failed:" names the failed
		 * address on the next line even when it is the notice's own
		 * addressee (mail to oneself, or addresses masked alike): the
		 * list is explicit, it wins over the original's To.
		 */
		GHashTable *none = g_hash_table_new(g_str_hash, g_str_equal);
		GString *ign = g_string_new(NULL);
		GPtrArray *one = scan_blocks(listed, strlen(listed), none, ign, 1, &r->anomalies);

		if (one->len > 0) {
			struct block *b = g_ptr_array_index(one, 0);

			add_record(p, r, b->addr, "failure-line", b->text->str, region);
		}
		g_ptr_array_free(one, TRUE);
		g_string_free(ign, TRUE);
		g_hash_table_destroy(none);
	}
	if (r->records->len == 0) {
		char *a = NULL;

		if (r->orig_to != NULL && strchr(r->orig_to, ',') == NULL)
			a = parser_address(r->orig_to);
		/*
		 * The notice never names the recipient, so none of its text is
		 * that recipient's diagnostic: the rules still read all of it,
		 * and when they find nothing the reason is undefined.
		 */
		if (a != NULL)
			add_record(p, r, a, "original-to", NULL, region);
		g_free(a);
	}
	if (r->records->len == 0 && r->orig_to != NULL)
		display_names(p, r, r->orig_to, region);
	g_ptr_array_free(real, TRUE);
out:
	g_ptr_array_free(blocks, TRUE);
	g_string_free(pre, TRUE);
	g_hash_table_destroy(exclude);
	g_free(region);
}

/*
 * Exim lists a failed address that a redirection produced under what it
 * became ("pipe to |cmd", "save to /file", "an undisclosed address", the
 * target address) and names the original on the next line, "(generated
 * from x)", "(ultimately generated from x)" after several redirections, or
 * "generated by x": that line belongs to the entry above it.
 */
static gboolean
generated_line(const char *p, gsize n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	return (n >= 15 && g_ascii_strncasecmp(p, "(generated from", 15) == 0) ||
	    (n >= 26 && g_ascii_strncasecmp(p, "(ultimately generated from", 26) == 0) ||
	    (n >= 12 && g_ascii_strncasecmp(p, "generated by", 12) == 0);
}

/*
 * Does a paragraph name its recipient and nothing more: the address on
 * its own, Exim's "(generated from x)", "an undisclosed address"?  Such a
 * paragraph gives no reason at all, and the record's reason is then
 * "undefined", not "onhold" (a failure text that decides nothing).
 */
static gboolean
names_only(const char *t, gsize len, const char *rcpt)
{
	const char *p = t, *end = t + len;
	gsize rl = strlen(rcpt);

	while (p < end) {
		const char *e = p, *b;

		while (e < end && *e != '\n' && *e != '\r')
			e++;
		for (b = p; b < e && (*b == ' ' || *b == '\t' || *b == '<'); b++)
			;
		if (b < e && !generated_line(b, e - b) &&
		    !((gsize)(e - b) >= 22 && g_ascii_strncasecmp(b, "an undisclosed address", 22) == 0)) {
			const char *q = b;

			if ((gsize)(e - b) >= rl && g_ascii_strncasecmp(b, rcpt, rl) == 0)
				q = b + rl;
			while (q < e && (*q == '>' || *q == ':' || *q == ',' || *q == ' ' || *q == '\t'))
				q++;
			if (q == b || q < e)
				return FALSE;
		}
		p = e < end ? e + 1 : e;
	}
	return TRUE;
}

void
text_enrich_record(struct parser *p, struct report_record *rec, const char *context)
{
	const char *hit, *s, *e;

	(void)p;
	if (rec->diagnostic != NULL || rec->recipient == NULL || context == NULL)
		return;
	/* the first mention that is not itself a delivery-status field line */
	for (hit = context; (hit = strcasestr(hit, rec->recipient)) != NULL; hit++) {
		for (s = hit; s > context && s[-1] != '\n' && s[-1] != '\r'; s--)
			;
		if (g_ascii_strncasecmp(s, "final-recipient:", 16) != 0 &&
		    g_ascii_strncasecmp(s, "original-recipient:", 19) != 0 &&
		    g_ascii_strncasecmp(s, "x-actual-recipient:", 19) != 0)
			break;
	}
	if (hit == NULL)
		return;
	for (e = hit; *e != '\0' && *e != '\n' && *e != '\r'; e++)
		;
	if (generated_line(s, e - s) && s > context) {
		/* the entry's heading is the line above */
		const char *h = s - 1;

		if (h > context && *h == '\n' && h[-1] == '\r')
			h--;
		while (h > context && h[-1] != '\n' && h[-1] != '\r')
			h--;
		s = h;
	}
	/*
	 * The recipient's failure paragraph: its line and what follows, up to
	 * the next line that starts with another address or with the heading
	 * of another redirected entry, a section rule, a second blank line in
	 * a row, or a dozen lines.  "Failed to deliver to x" is often followed
	 * by the remote answer on unindented lines.
	 */
	e = hit;
	for (int lines = 0, blanks = 0; *e != '\0' && lines < 12; ) {
		if (*e == '\n' || *e == '\r') {
			const char *n = e + 1, *le;
			gsize pos = 0;
			char *a;

			if (*e == '\r' && *n == '\n')
				n++;
			lines++;
			for (le = n; *le != '\0' && *le != '\n' && *le != '\r'; le++)
				;
			if (lines > 1 && generated_line(n, le - n)) {
				/* another entry: its heading is the line before */
				while (e > s && e[-1] != '\n' && e[-1] != '\r')
					e--;
				if (e > s && e[-1] == '\n')
					e--;
				if (e > s && e[-1] == '\r')
					e--;
				break;
			}
			if (blank_line(n, le - n)) {
				if (++blanks == 2)
					break;
			} else
				blanks = 0;
			if (section_line(n, le - n))
				break;
			while (n + pos < le && (n[pos] == ' ' || n[pos] == '\t' || n[pos] == '<'))
				pos++;
			if ((a = next_address(n, le - n, &pos)) != NULL) {
				gboolean other = g_ascii_strcasecmp(a, rec->recipient) != 0 &&
				    line_starts_with_address(n, le - n);

				g_free(a);
				if (other)
					break;
			}
			e = n;
			continue;
		}
		e++;
	}
	if (e > s && !names_only(s, e - s, rec->recipient)) {
		char *d = parser_utf8(s, e - s);

		rec->diagnostic = g_strstrip(d);
	}
}

/*
 * The Subject as a person reads it: valid UTF-8, RFC 2047 words decoded
 * (out-of-office replies in most languages encode theirs).  g_free.
 */
static char *
subject_text(struct parser *p, const struct fields *top)
{
	const char *v = fields_get(top, 0, "Subject");
	char *w, *d, *out;

	if (v == NULL || strstr(v, "=?") == NULL)
		return parser_utf8(v, -1);
	/* the same care as for the original's header (parser.c): hostile words defused first */
	w = g_strdup(v);
	sanitize_words(&p->lim, w, &p->cur_anomalies);
	d = g_mime_utils_header_decode_text(p->gopts, w);
	out = parser_utf8(d, -1);
	g_free(d);
	g_free(w);
	return out;
}

/*
 * RFC 3834's own marks, or an out-of-office Subject: an auto-reply says so
 * in its header.  A mail system's notice may carry the same marks (Exim
 * puts "Auto-Submitted: auto-replied" on its bounces), so the marks decide
 * only when nothing says a delivery failed: no X-Failed-Recipients, no
 * bounce Subject (unless it is also an out-of-office one), no failure
 * wording in the text before the enclosed original.
 */
gboolean
text_is_autoreply(struct parser *p, const struct fields *top, const char *body, gsize len)
{
	const char *as = fields_get(top, 0, "Auto-Submitted");
	const char *prec = fields_get(top, 0, "Precedence");
	char *subj;
	gboolean marked, ooo, bounce;

	if (fields_get(top, 0, "X-Failed-Recipients") != NULL)
		return FALSE;
	subj = subject_text(p, top);
	ooo = subj != NULL && g_regex_match(p->re_autoreply_subject, subj, 0, NULL);
	marked = (as != NULL && strcasestr(as, "auto-replied") != NULL) ||
	    fields_get(top, 0, "X-Autoreply") != NULL || fields_get(top, 0, "X-Autorespond") != NULL ||
	    (prec != NULL && strcasestr(prec, "auto_reply") != NULL);
	if (!marked && !ooo) {
		g_free(subj);
		return FALSE;
	}
	bounce = subj != NULL && !ooo && g_regex_match(p->re_bounce_subject, subj, 0, NULL);
	g_free(subj);
	if (bounce)
		return FALSE;
	if (body != NULL && len > 0) {
		gsize cut = original_start(p, body, len);

		if (g_regex_match_full(p->re_bounce_body, body, utf8_cut(body, cut, 8192), 0, 0,
		    NULL, NULL))
			return FALSE;
	}
	return TRUE;
}

void
text_autoreply(struct parser *p, struct report *r, const struct fields *top)
{
	const char *as = fields_get(top, 0, "Auto-Submitted");
	const char *prec = fields_get(top, 0, "Precedence");
	char *subj = subject_text(p, top);	/* valid for the regex */
	gboolean yes = FALSE;
	struct report_record *rec;

	if (as != NULL && strcasestr(as, "auto-replied") != NULL)
		yes = TRUE;
	else if (fields_get(top, 0, "X-Autoreply") != NULL ||
	    fields_get(top, 0, "X-Autorespond") != NULL ||
	    (prec != NULL && strcasestr(prec, "auto_reply") != NULL))
		yes = TRUE;
	else if (subj != NULL && g_regex_match(p->re_autoreply_subject, subj, 0, NULL))
		yes = TRUE;
	if (!yes) {
		g_free(subj);
		return;
	}
	r->kind = REPORT_KIND_AUTOREPLY;
	rec = report_add_record(r);
	rec->recipient = parser_address(fields_get(top, 0, "From"));
	parser_rcpt_from(rec, "from");
	rec->reason = g_strdup("vacation");
	rec->rule = g_strdup("autoreply");
	rec->class_ = REPORT_CLASS_AUTOREPLY;
	rec->diagnostic = subj;
}

/* UTF-8 for the code point of "&#NNN;" / "&#xHH;" at p, or 0 bytes. */
static gsize
numeric_entity(const char *p, char *out, gsize *used)
{
	char *end;
	gulong cp;

	if (p[1] != '#')
		return 0;
	if (p[2] == 'x' || p[2] == 'X')
		cp = strtoul(p + 3, &end, 16);
	else
		cp = strtoul(p + 2, &end, 10);
	if (end == p + 2 || end == p + 3 || *end != ';' || cp == 0 || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*used = end - p;
	return g_unichar_to_utf8((gunichar)cp, out);
}

char *
text_from_html(const char *html)
{
	GString *s;
	const char *p;

	if (html == NULL)
		return NULL;
	s = g_string_new(NULL);
	for (p = html; *p != '\0'; p++) {
		if (*p == '<') {
			const char *q = strchr(p, '>'), *skip = NULL;

			if (q == NULL)
				break;
			/* what a browser does not show is not the notice's text */
			if (g_ascii_strncasecmp(p, "<style", 6) == 0)
				skip = "</style";
			else if (g_ascii_strncasecmp(p, "<script", 7) == 0)
				skip = "</script";
			else if (g_ascii_strncasecmp(p, "<head", 5) == 0 && (p[5] == '>' || p[5] == ' '))
				skip = "</head";
			if (skip != NULL) {
				const char *c = strcasestr(q, skip);

				if (c == NULL || (q = strchr(c, '>')) == NULL)
					break;
			} else if (g_ascii_strncasecmp(p, "<br", 3) == 0 ||
			    g_ascii_strncasecmp(p, "</p", 3) == 0 ||
			    g_ascii_strncasecmp(p, "</div", 5) == 0 || g_ascii_strncasecmp(p, "</tr", 4) == 0 ||
			    g_ascii_strncasecmp(p, "</li", 4) == 0 || g_ascii_strncasecmp(p, "</h", 3) == 0 ||
			    g_ascii_strncasecmp(p, "</table", 7) == 0 || g_ascii_strncasecmp(p, "<p", 2) == 0)
				g_string_append_c(s, '\n');
			else if (g_ascii_strncasecmp(p, "</td", 4) == 0 || g_ascii_strncasecmp(p, "</th", 4) == 0)
				g_string_append_c(s, ' ');
			p = q;
		} else if (*p == '&') {
			char u[8];
			gsize used = 0, k;

			if (strncmp(p, "&lt;", 4) == 0)
				g_string_append_c(s, '<'), p += 3;
			else if (strncmp(p, "&gt;", 4) == 0)
				g_string_append_c(s, '>'), p += 3;
			else if (strncmp(p, "&amp;", 5) == 0)
				g_string_append_c(s, '&'), p += 4;
			else if (strncmp(p, "&nbsp;", 6) == 0)
				g_string_append_c(s, ' '), p += 5;
			else if (strncmp(p, "&quot;", 6) == 0)
				g_string_append_c(s, '"'), p += 5;
			else if (strncmp(p, "&apos;", 6) == 0)
				g_string_append_c(s, '\''), p += 5;
			else if ((k = numeric_entity(p, u, &used)) > 0)
				g_string_append_len(s, u, k), p += used;
			else
				g_string_append_c(s, '&');
		} else
			g_string_append_c(s, *p);
	}
	return g_string_free(s, FALSE);
}
