/*
 * parser_dsn.c - RFC 3464/6533 delivery status notifications: one record
 * per recipient block of a message/delivery-status part, or of such a
 * block found in the raw bytes where no part holds it.
 */
#include <string.h>
#include <glib.h>

#include "parsers/parser_classify.h"
#include "parsers/parser_dsn.h"
#include "parsers/parser_int.h"
#include "parsers/parser_raw.h"
#include "parsers/parser_text_line.h"
#include "parsers/parser_util.h"
#include "parsers/scan.h"

static char *
strip_type(const char *v)
{
	const char *s;

	if (v == NULL)
		return NULL;
	s = strchr(v, ';');
	s = s != NULL ? s + 1 : v;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s != '\0' ? parser_utf8(s, -1) : NULL;
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
		if (b < e && !line_generated(b, e - b) &&
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

/*
 * The first mention of rcpt in context that is not itself a delivery-status
 * field line, or NULL.  *line is where the mention's line starts, or where
 * the heading above it starts when that line is a generated one.
 */
static const char *
dsn_mention(const char *context, const char *rcpt, const char **line)
{
	const char *hit, *s = context, *e;

	for (hit = context; (hit = strcasestr(hit, rcpt)) != NULL; hit++) {
		for (s = hit; s > context && s[-1] != '\n' && s[-1] != '\r'; s--)
			;
		if (g_ascii_strncasecmp(s, "final-recipient:", 16) != 0 &&
		    g_ascii_strncasecmp(s, "original-recipient:", 19) != 0 &&
		    g_ascii_strncasecmp(s, "x-actual-recipient:", 19) != 0)
			break;
	}
	if (hit == NULL)
		return NULL;
	for (e = hit; *e != '\0' && *e != '\n' && *e != '\r'; e++)
		;
	if (line_generated(s, e - s) && s > context) {
		/* the entry's heading is the line above */
		const char *h = s - 1;

		if (h > context && *h == '\n' && h[-1] == '\r')
			h--;
		while (h > context && h[-1] != '\n' && h[-1] != '\r')
			h--;
		s = h;
	}
	*line = s;
	return hit;
}

/*
 * The end of the recipient's failure paragraph that starts at s with the
 * mention at hit: its line and what follows, up to the next line that
 * starts with another address or with the heading of another redirected
 * entry, a section rule, a second blank line in a row, or a dozen lines.
 * "Failed to deliver to x" is often followed by the remote answer on
 * unindented lines.
 */
static const char *
dsn_paragraph_end(const char *s, const char *hit, const char *rcpt)
{
	const char *e = hit;

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
			if (lines > 1 && line_generated(n, le - n)) {
				/* another entry: its heading is the line before */
				while (e > s && e[-1] != '\n' && e[-1] != '\r')
					e--;
				if (e > s && e[-1] == '\n')
					e--;
				if (e > s && e[-1] == '\r')
					e--;
				break;
			}
			if (line_blank(n, le - n)) {
				if (++blanks == 2)
					break;
			} else
				blanks = 0;
			if (line_section(n, le - n))
				break;
			while (n + pos < le && (n[pos] == ' ' || n[pos] == '\t' || n[pos] == '<'))
				pos++;
			if ((a = parser_next_address(n, le - n, &pos)) != NULL) {
				gboolean other = g_ascii_strcasecmp(a, rcpt) != 0 &&
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
	return e;
}

/*
 * The recipient's failure paragraph in the text part: start in *s, end
 * returned; NULL when the text names it without saying why.
 */
static const char *
dsn_own_paragraph(const char *rcpt, const char *context, const char **s)
{
	const char *hit, *e, *le, *n, *pe, *ps;

	if (rcpt == NULL || context == NULL || (hit = dsn_mention(context, rcpt, s)) == NULL)
		return NULL;
	e = dsn_paragraph_end(*s, hit, rcpt);
	if (e <= *s || names_only(*s, e - *s, rcpt))
		return NULL;
	/*
	 * The last of a list of bare addresses, then a blank line: what
	 * follows the list is said of all of them ("The following text was
	 * generated during the delivery attempts:"), not of this one.
	 */
	for (le = hit; *le != '\0' && *le != '\n' && *le != '\r'; le++)
		;
	n = le + (*le == '\r' && le[1] == '\n' ? 2 : *le != '\0');
	for (pe = n; *pe != '\0' && *pe != '\n' && *pe != '\r'; pe++)
		;
	if (!names_only(*s, le - *s, rcpt) || !line_blank(n, pe - n) || *s == context)
		return e;
	pe = *s - 1;
	if (pe > context && *pe == '\n' && pe[-1] == '\r')
		pe--;
	for (ps = pe; ps > context && ps[-1] != '\n' && ps[-1] != '\r'; ps--)
		;
	if (line_starts_with_address(ps, pe - ps)) {
		gsize pos = 0;
		gboolean bare = FALSE;
		char *a;

		while (ps + pos < pe && (ps[pos] == ' ' || ps[pos] == '\t' || ps[pos] == '<'))
			pos++;
		if ((a = parser_next_address(ps, pe - ps, &pos)) != NULL) {
			bare = names_only(ps, pe - ps, a);
			g_free(a);
		}
		if (bare)
			return NULL;
	}
	return e;
}

/*
 * Does a Diagnostic-Code end inside a multi-line reply ("550-5.7.1 The
 * first line" and nothing after it)?  Some MTAs keep only the first line
 * of the answer; the rest, often the reason, is in the text part.
 */
static gboolean
reply_cut(const char *d)
{
	char last[5];

	while (*d == ' ' || *d == '\t')
		d++;
	if (!(d[0] == '4' || d[0] == '5') || !g_ascii_isdigit(d[1]) || !g_ascii_isdigit(d[2]) ||
	    d[3] != '-')
		return FALSE;
	/* the reply's last line repeats the code with a space: "550 ..." */
	memcpy(last, d, 3);
	last[3] = ' ';
	last[4] = '\0';
	return strstr(d + 4, last) == NULL;
}

/*
 * The lines after p that go on with a reply of code ("550-...", up to the
 * last, "550 ..."; indented, or after a transcript's "<<< "), each after a
 * line end, appended to more.
 */
static void
reply_rest(const char *p, const char *code, GString *more)
{
	while (*p == '\r' || *p == '\n') {
		const char *ls, *le;

		p += (*p == '\r' && p[1] == '\n') ? 2 : 1;
		for (ls = p; *ls == ' ' || *ls == '\t'; ls++)
			;
		if (strncmp(ls, "<<< ", 4) == 0)
			ls += 4;
		for (le = ls; *le != '\0' && *le != '\n' && *le != '\r'; le++)
			;
		if (le - ls < 4 || strncmp(ls, code, 3) != 0 || (ls[3] != '-' && ls[3] != ' '))
			return;
		g_string_append_c(more, '\n');
		g_string_append_len(more, ls, le - ls);
		if (ls[3] == ' ')
			return;
		p = le;
	}
}

/*
 * The rest of a reply the Diagnostic-Code cut (reply_cut()), from the
 * text part where it quotes the same first line and goes on with it (a
 * summary line may quote that line alone): appended to the diagnostic.
 */
static void
reply_complete(struct report_record *rec, const char *context)
{
	const char *d = rec->diagnostic, *first, *hit;
	char code[4], *needle;
	GString *more;
	gsize fl;

	while (*d == ' ' || *d == '\t')
		d++;
	memcpy(code, d, 3);
	code[3] = '\0';
	first = d + 4;
	for (fl = 0; first[fl] != '\0' && first[fl] != '\n' && first[fl] != '\r'; fl++)
		;
	if (fl < 8)
		return;
	needle = g_strndup(first, fl);
	more = g_string_new(NULL);
	for (hit = strstr(context, needle); hit != NULL && more->len == 0;
	    hit = strstr(hit + fl, needle))
		reply_rest(hit + fl, code, more);
	g_free(needle);
	if (more->len > 0) {
		char *t = parser_utf8(more->str, more->len);
		char *n = g_strconcat(rec->diagnostic, t, NULL);

		g_free(t);
		g_free(rec->diagnostic);
		rec->diagnostic = n;
	}
	g_string_free(more, TRUE);
}

/*
 * A record without a Diagnostic-Code: its lines are taken from the text
 * part.  One whose Diagnostic-Code was cut inside a multi-line reply gets
 * the rest of the reply from there.
 */
static void
dsn_enrich(struct report_record *rec, const char *context)
{
	const char *s, *e;

	if (rec->diagnostic != NULL) {
		if (reply_cut(rec->diagnostic) && context != NULL)
			reply_complete(rec, context);
		return;
	}
	if ((e = dsn_own_paragraph(rec->recipient, context, &s)) != NULL) {
		char *d = parser_utf8(s, e - s);

		rec->diagnostic = g_strstrip(d);
	}
}

/*
 * Recipient blocks of f that say why they failed: a Diagnostic-Code, or
 * a failure paragraph of their own in the text part.  Where some do, the
 * text is a list of per-recipient failures, and a recipient it gives no
 * paragraph is not explained by the others' (Exim's "an undisclosed
 * address" under an "Unrouteable address" of another).
 */
static guint
dsn_explained(const struct fields *f, const char *context)
{
	guint b, n = 0;

	for (b = 0; b < f->blocks->len; b++) {
		const char *fr = fields_get(f, b, "Final-Recipient"), *s;
		char *a;

		if (fr == NULL)
			continue;
		if (fields_get(f, b, "Diagnostic-Code") != NULL) {
			n++;
			continue;
		}
		a = parser_address(fr);
		if (dsn_own_paragraph(a, context, &s) != NULL)
			n++;
		g_free(a);
	}
	return n;
}

/*
 * Do the recipient blocks of f fail differently: a Diagnostic-Code that
 * differs from the first recipient's, or one missing after the first?
 */
static gboolean
dsn_differ(const struct fields *f)
{
	const char *first_dc = NULL;
	guint b, n_rcpts = 0;

	for (b = 0; b < f->blocks->len; b++) {
		const char *d = fields_get(f, b, "Diagnostic-Code");

		if (fields_get(f, b, "Final-Recipient") == NULL)
			continue;
		if (n_rcpts++ == 0)
			first_dc = d;
		else if (d == NULL || g_strcmp0(d, first_dc) != 0)
			return TRUE;
	}
	return FALSE;
}

/*
 * The record of block b of f (it names a recipient), with the codes of its
 * fields and of its diagnostic.  differ: dsn_differ(f).
 */
static void
dsn_record(struct parse_ctx *c, const struct fields *f, guint b, const char *context,
    gboolean differ, guint explained)
{
	struct report *r = c->r;
	const char *fr = fields_get(f, b, "Final-Recipient");
	const char *orr = fields_get(f, b, "Original-Recipient");
	const char *st, *dc, *v;
	char *hint;
	struct report_record *rec;

	rec = report_add_record(r);
	rec->recipient = parser_address(fr != NULL ? fr : orr);
	parser_rcpt_from(rec, fr != NULL ? "final-recipient" : "original-recipient");
	rec->original_recipient = orr != NULL ? parser_address(orr) : NULL;
	if (rec->original_recipient != NULL && (rec->recipient == NULL ||
	    rec->recipient[0] == '@' || strchr(strrchr(rec->recipient, '@'), '.') == NULL)) {
		/* a source route or a bare host name: the original is the address */
		g_free(rec->recipient);
		rec->recipient = g_strdup(rec->original_recipient);
		parser_rcpt_from(rec, "original-recipient");
	}
	if (fields_get(f, b, "Action") != NULL)
		rec->action = scan_ascii_down(fields_get(f, b, "Action"), -1);
	if (rec->action != NULL)
		g_strstrip(rec->action);
	st = fields_get(f, b, "Status");
	if (st != NULL) {
		rec->status = parser_find_status(st);
		if (rec->status == NULL)
			r->anomalies |= REPORT_ANOMALY_BAD_STATUS;
	}
	dc = fields_get(f, b, "Diagnostic-Code");
	/* "X-Unix; 77" says a local program failed: the type is the message. */
	rec->diagnostic = dc != NULL && g_ascii_strncasecmp(dc, "x-unix", 6) == 0 ?
	    parser_utf8(dc, -1) : strip_type(dc);
	rec->remote_mta = strip_type(fields_get(f, b, "Remote-MTA"));
	if (fields_get(f, b, "Last-Attempt-Date") != NULL)
		rec->last_attempt = parser_utf8(fields_get(f, b, "Last-Attempt-Date"), -1);
	dsn_enrich(rec, context);
	if (rec->diagnostic != NULL) {
		char *ds = parser_find_status(rec->diagnostic);

		rec->replycode = parser_find_replycode(rec->diagnostic);
		/* A generic X.0.0 field loses to a specific code in the diagnostic. */
		if (ds != NULL && (rec->status == NULL ||
		    (strcmp(rec->status + 1, ".0.0") == 0 && ds[0] == rec->status[0] &&
		    strcmp(ds + 1, ".0.0") != 0))) {
			g_free(rec->status);
			rec->status = ds;
		} else
			g_free(ds);
	}
	v = fields_get(f, b, "X-PowerMTA-BounceCategory");
	if (v == NULL)
		v = fields_get(f, 0, "X-PowerMTA-BounceCategory");
	hint = v != NULL ? g_strconcat("x-powermta-bouncecategory: ", v, NULL) : NULL;
	c->hint = hint;
	/*
	 * Recipients that failed differently (or whose failure only the
	 * notice's text tells) share that text: a record whose own
	 * diagnostic decides nothing takes no reason from another
	 * recipient's failure.
	 */
	c->own_only = differ;
	c->others_only = differ && explained > 0 && rec->diagnostic == NULL;
	classify_record(c, rec, context);
	c->own_only = FALSE;
	c->others_only = FALSE;
	c->hint = NULL;
	g_free(hint);
}

/* txt: a delivery-status part's text (n bytes, valid UTF-8). */
static void
dsn_parse(struct parse_ctx *c, const char *txt, gsize n)
{
	struct report *r = c->r;
	struct fields *f;
	guint b;
	gboolean differ;
	guint explained;

	/* The per-message block, the records kept, and one more to notice the cap. */
	f = fields_parse(txt, n, c->p->max_records + 2);
	r->kind = REPORT_KIND_DSN;
	differ = dsn_differ(f);
	explained = differ ? dsn_explained(f, c->context) : 0;
	for (b = 0; b < f->blocks->len; b++) {
		if (fields_get(f, b, "Reporting-MTA") != NULL && r->reporting_mta == NULL)
			r->reporting_mta = strip_type(fields_get(f, b, "Reporting-MTA"));
		if (fields_get(f, b, "Arrival-Date") != NULL && r->arrival_date == NULL)
			r->arrival_date = parser_utf8(fields_get(f, b, "Arrival-Date"), -1);
		if (fields_get(f, b, "Final-Recipient") == NULL &&
		    fields_get(f, b, "Original-Recipient") == NULL) {
			if (fields_get(f, b, "Action") != NULL || fields_get(f, b, "Status") != NULL)
				r->anomalies |= REPORT_ANOMALY_NO_RECIPIENT;
			continue;
		}
		if (r->records->len >= c->p->max_records) {
			r->anomalies |= REPORT_ANOMALY_TOO_MANY_RCPTS;
			break;
		}
		dsn_record(c, f, b, c->context, differ, explained);
	}
	fields_free(f);
}

/* A block found in the raw bytes: made valid UTF-8 first, like a decoded part. */
static void
dsn_parse_raw(struct parse_ctx *c, const char *raw, gsize n)
{
	char *t = parser_utf8(raw, n);

	dsn_parse(c, t, strlen(t));
	g_free(t);
}

gboolean
dsn_check(struct parse_ctx *c)
{
	return c->w.ndsn > 0;
}

void
dsn_read(struct parse_ctx *c)
{
	int i;

	for (i = 0; i < c->w.ndsn; i++) {
		gsize n;
		char *txt = walk_part_text(c->p, &c->w.dsn[i], &n, &c->anomalies);

		if (txt != NULL)
			dsn_parse(c, txt, n);
		g_free(txt);
	}
}

/*
 * With no report part at all, a block in the raw bytes.  (A message
 * disposition notification, RFC 8098, says a message was displayed or
 * deleted: its Final-Recipient is no failure.)
 */
static gboolean
dsn_raw_only(const struct parse_ctx *c)
{
	return c->w.ndsn == 0 && !LEAF_SET(c->w.arf) && !c->w.mdn &&
	    !(c->ct != NULL && strcasestr(c->ct, "disposition-notification") != NULL);
}

gboolean
dsn_raw_check(struct parse_ctx *c)
{
	return dsn_raw_only(c) || (c->w.ndsn > 0 && c->w.ndsn < MAX_DSN_PARTS);
}

void
dsn_raw_read(struct parse_ctx *c)
{
	const char *raw;
	gsize rn, off;
	int k;

	if (dsn_raw_only(c)) {
		if (raw_dsn_block(c->buf, c->blen, -1, &raw, &rn))
			dsn_parse_raw(c, raw, rn);
		else if (c->context != NULL && LEAF_SET(c->w.text) && !c->w.html_first &&
		    walk_leaf_encoded(&c->w.text) && raw_dsn_block(c->context, c->clen, -1, &raw, &rn))
			/* a report quoted in a text its transfer encoding hid from the search: the text decoded */
			dsn_parse_raw(c, raw, rn);
		return;
	}
	/*
	 * Reports run together in one file: the parts GMime did not see.
	 * Only after the top-level multipart has closed: before that, GMime
	 * saw every report part, and a delivery-status further in belongs to
	 * an enclosed original (a bounce of a bounce), whose recipients are
	 * not ours.
	 */
	off = raw_after_close(c->buf, c->blen, c->w.boundary, c->w.boundary_len);
	for (k = 0; c->w.ndsn + k < MAX_DSN_PARTS &&
	    raw_dsn_block(c->buf + off, c->blen - off, k, &raw, &rn); k++)
		dsn_parse_raw(c, raw, rn);
}
