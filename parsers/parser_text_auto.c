/*
 * parser_text_auto.c - auto-replies (RFC 3834 and out-of-office), told
 * by their header; a mail system's notice that carries the same marks is
 * told apart by its words of a failed delivery.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_int.h"
#include "parsers/parser_orig.h"
#include "parsers/parser_text.h"
#include "parsers/parser_text_line.h"
#include "parsers/parser_util.h"

/* The Subject as a person reads it (out-of-office replies in most languages encode theirs). */
static char *
subject_text(struct parse_ctx *c, const struct fields *top)
{
	return orig_header_text(c->p, fields_get(top, 0, "Subject"), &c->anomalies);
}

/*
 * An out-of-office Subject.  Some clients write theirs in 8 bits with no
 * charset said, and some copies read those bytes as Latin-1 once more
 * ("Yahoo! \xc3\x80\xc2\xb4..." for GB2312's "\xc0\xb4..."): such a Subject
 * is also read, as its bytes, in the charsets raw headers are written in,
 * each conversion that succeeds tried against the words.
 */
static gboolean
ooo_subject(struct parse_ctx *c, const struct fields *top, const char *subj)
{
	static const char *const raw_charsets[] = { "windows-1252", "gb18030", "big5",
		"shift_jis", "euc-kr", "windows-1251", "koi8-r" };
	const char *raw = fields_get(top, 0, "Subject"), *q;
	char *bytes = NULL;
	gboolean yes = subj != NULL && g_regex_match(c->p->re_autoreply_subject, subj, 0, NULL);
	gsize i = 0, high = 0;

	if (yes || raw == NULL || strstr(raw, "=?") != NULL)
		return yes;
	if (!parser_utf8_valid(raw, strlen(raw)))
		bytes = g_strdup(raw);
	else if (subj != NULL) {
		/*
		 * Only Latin-1 letters beyond ASCII, as many as two double-byte
		 * characters take: the bytes they stand for (Windows-1252 would
		 * only read them as they are).
		 */
		for (q = subj; *q != '\0'; q++)
			high += ((guchar)*q == 0xc2 || (guchar)*q == 0xc3);
		if (high >= 4)
			bytes = g_convert(subj, -1, "ISO-8859-1", "UTF-8", NULL, NULL, NULL);
		i = 1;
	}
	if (bytes == NULL || parser_utf8_valid(bytes, strlen(bytes))) {
		g_free(bytes);
		return FALSE;
	}
	for (; i < G_N_ELEMENTS(raw_charsets) && !yes; i++) {
		char *u = g_convert(bytes, -1, "UTF-8", raw_charsets[i], NULL, NULL, NULL);

		yes = u != NULL && g_regex_match(c->p->re_autoreply_subject, u, 0, NULL);
		g_free(u);
	}
	g_free(bytes);
	return yes;
}

/*
 * An auto-reply's marks in the header: RFC 3834's Auto-Submitted
 * "auto-replied", X-Autoreply / X-Autorespond, Precedence "auto_reply",
 * and Exchange's for a reply its inbox rules (the out-of-office assistant)
 * sent: X-Auto-Response-Suppress "All" with X-MS-Exchange-Inbox-Rules-Loop
 * (Exchange marks such a reply "auto-generated", under any Subject the
 * user wrote); iCloud's X-Apple-Action "vacation".
 */
static gboolean
marked_autoreply(const struct fields *top)
{
	const char *as = fields_get(top, 0, "Auto-Submitted");
	const char *prec = fields_get(top, 0, "Precedence");
	const char *sup = fields_get(top, 0, "X-Auto-Response-Suppress");
	const char *apple = fields_get(top, 0, "X-Apple-Action");

	return (as != NULL && strcasestr(as, "auto-replied") != NULL) ||
	    fields_get(top, 0, "X-Autoreply") != NULL || fields_get(top, 0, "X-Autorespond") != NULL ||
	    (prec != NULL && strcasestr(prec, "auto_reply") != NULL) ||
	    (apple != NULL && strcasestr(apple, "vacation") != NULL) ||
	    (sup != NULL && strcasestr(sup, "all") != NULL &&
	    fields_get(top, 0, "X-MS-Exchange-Inbox-Rules-Loop") != NULL);
}

/*
 * A multipart/report (RFC 6522) is a mail system's report on a message: a
 * DSN, a feedback or DMARC failure report, a read receipt, a TLS report.
 * Mail systems mark those "auto-replied" too, and a report is nobody's
 * out-of-office, whatever else its header says.
 */
static gboolean
machine_report(const char *ct)
{
	while (ct != NULL && g_ascii_isspace(*ct))
		ct++;
	return ct != NULL && g_ascii_strncasecmp(ct, "multipart/report", 16) == 0;
}

/*
 * RFC 3834's own marks, or an out-of-office Subject: an auto-reply says so
 * in its header.  A mail system's notice may carry the same marks (Exim
 * puts "Auto-Submitted: auto-replied" on its bounces), so the marks decide
 * only when nothing says a delivery failed: no X-Failed-Recipients, no
 * bounce Subject (unless it is also an out-of-office one), no failure
 * wording in the text before the enclosed original.
 */
static gboolean
is_autoreply(struct parse_ctx *c, const struct fields *top, const char *body, gsize len)
{
	struct parser *p = c->p;
	char *subj;
	gboolean marked, ooo, bounce;

	if (fields_get(top, 0, "X-Failed-Recipients") != NULL || machine_report(c->ct))
		return FALSE;
	subj = subject_text(c, top);
	ooo = ooo_subject(c, top, subj);
	marked = marked_autoreply(top);
	if (!marked && !ooo) {
		g_free(subj);
		return FALSE;
	}
	bounce = subj != NULL && !ooo && g_regex_match(p->re_bounce_subject, subj, 0, NULL);
	g_free(subj);
	if (bounce)
		return FALSE;
	if (body != NULL && len > 0) {
		gsize cut = line_original_start(p->re_marker, body, len);

		if (g_regex_match_full(p->re_bounce_body, body, line_utf8_cut(body, cut, 8192), 0, 0,
		    NULL, NULL))
			return FALSE;
	}
	return TRUE;
}

static void
autoreply(struct parse_ctx *c, struct report *r, const struct fields *top)
{
	char *subj = subject_text(c, top);	/* valid for the regex */
	gboolean yes;
	struct report_record *rec;

	if (machine_report(c->ct)) {
		g_free(subj);
		return;
	}
	yes = marked_autoreply(top) || ooo_subject(c, top, subj);
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

gboolean
auto_check(struct parse_ctx *c)
{
	return c->r->records->len == 0 && c->r->kind == REPORT_KIND_NONE && c->w.ndsn == 0 &&
	    !LEAF_SET(c->w.arf) && is_autoreply(c, c->top, c->context, c->clen);
}

gboolean
auto_late_check(struct parse_ctx *c)
{
	return c->r->records->len == 0 && c->r->kind == REPORT_KIND_NONE;
}

void
auto_read(struct parse_ctx *c)
{
	autoreply(c, c->r, c->top);
}
