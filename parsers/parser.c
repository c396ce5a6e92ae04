/*
 * parser.c - one message in, one struct report out (see parser.h).
 *
 * Order of work: sanitize_prepare() bounds and defuses the raw bytes;
 * GMime parses the body from one memory buffer (or mime_split() splits a
 * plainly structured one); one walk over the MIME tree (depth- and
 * part-limited, parser_walk.c) finds the parts that matter; then the
 * readers of the table below are tried in order, each when its check
 * says so: an RFC 3464/6533 DSN, an ARF report, a complaint of another
 * shape, an SES notification, an auto-reply, a non-standard bounce.
 * Only the parts read are decoded.  Reasons come from the rules (rules_match.c).
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/fields.h"
#include "parsers/mime.h"
#include "parsers/parser.h"
#include "parsers/parser_arf.h"
#include "parsers/parser_classify.h"
#include "parsers/parser_dsn.h"
#include "parsers/parser_int.h"
#include "parsers/parser_orig.h"
#include "parsers/parser_raw.h"
#include "parsers/parser_re.h"
#include "parsers/parser_ses.h"
#include "parsers/parser_text.h"
#include "parsers/parser_util.h"
#include "parsers/rules.h"
#include "parsers/sanitize.h"
#include "parsers/scan.h"
#include "common/signing.h"

#define DEFAULT_MAX_DEPTH	20
#define DEFAULT_MAX_PARTS	1000
#define DEFAULT_MAX_HEADER	(256 * 1024)
#define MAX_MESSAGE_SIZE	(64 * 1024 * 1024)
#define MAX_TEXT		(256 * 1024)	/* of a multipart's raw text, as its context */
#define DEFAULT_MAX_RECORDS	1000
#define GBUF_KEEP		(1024 * 1024)	/* largest buffer parser_parse keeps */

static const char *const default_charsets[] = {
	"us-ascii", "ascii", "utf-8", "utf8", "iso-8859-1", "iso-8859-2", "iso-8859-15",
	"windows-1250", "windows-1251", "windows-1252", "koi8-r", "iso-2022-jp", "shift_jis",
	"euc-jp", "gb2312", "gbk", "gb18030", "big5", "euc-kr", "ks_c_5601-1987", NULL
};

static void
parser_gmime_init(void)
{
	static gsize once = 0;

	if (g_once_init_enter(&once)) {
		g_mime_init();
		g_once_init_leave(&once, 1);
	}
}

struct parser *
parser_new(const struct parser_options *opts, char **err)
{
	struct parser *p;
	char **cs;
	GError *gerr = NULL;

	parser_gmime_init();
	p = g_new0(struct parser, 1);
	p->rules = rules_load(opts != NULL ? opts->rules_path : NULL, err);
	if (p->rules == NULL) {
		g_free(p);
		return NULL;
	}
	if (opts != NULL && opts->verp_pattern != NULL && *opts->verp_pattern != '\0') {
		p->verp = g_regex_new(opts->verp_pattern, G_REGEX_CASELESS, 0, &gerr);
		if (p->verp == NULL) {
			*err = g_strdup_printf("verp_pattern: %s", gerr->message);
			g_error_free(gerr);
			parser_free(p);
			return NULL;
		}
	}
	p->lim.max_depth = opts != NULL && opts->max_depth > 0 ? opts->max_depth : DEFAULT_MAX_DEPTH;
	p->lim.max_parts = opts != NULL && opts->max_parts > 0 ? opts->max_parts : DEFAULT_MAX_PARTS;
	p->lim.max_header_size = opts != NULL && opts->max_header_size > 0 ?
	    opts->max_header_size : DEFAULT_MAX_HEADER;
	p->lim.max_size = MAX_MESSAGE_SIZE;
	p->max_records = opts != NULL && opts->max_recipients > 0 ? (guint)opts->max_recipients :
	    DEFAULT_MAX_RECORDS;
	p->lim.charset_allow = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	cs = opts != NULL && opts->charset_allow != NULL ? opts->charset_allow :
	    (char **)default_charsets;
	for (; *cs != NULL; cs++)
		g_hash_table_add(p->lim.charset_allow, scan_ascii_down(*cs, -1));
	p->corr = g_ptr_array_new_with_free_func(g_free);
	if (opts != NULL && opts->correlation_headers != NULL)
		for (cs = opts->correlation_headers; *cs != NULL; cs++)
			if (**cs != '\0')
				g_ptr_array_add(p->corr, g_strdup(*cs));
	p->gopts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(p->gopts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(p->gopts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(p->gopts, GMIME_RFC_COMPLIANCE_LOOSE);
	p->empty = g_mime_stream_mem_new();
	p->mparts = g_array_new(FALSE, FALSE, sizeof(struct mime_part));
	p->iconv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, walk_iconv_close);
	parser_re_init(p);
	return p;
}

void
parser_free(struct parser *p)
{
	if (p == NULL)
		return;
	rules_free(p->rules);
	if (p->verp != NULL)
		g_regex_unref(p->verp);
	if (p->lim.charset_allow != NULL)
		g_hash_table_destroy(p->lim.charset_allow);
	if (p->corr != NULL)
		g_ptr_array_free(p->corr, TRUE);
	if (p->gopts != NULL)
		g_mime_parser_options_free(p->gopts);
	if (p->gparser != NULL)
		g_object_unref(p->gparser);
	if (p->empty != NULL)
		g_object_unref(p->empty);
	if (p->mparts != NULL)
		g_array_free(p->mparts, TRUE);
	if (p->iconv != NULL)
		g_hash_table_destroy(p->iconv);
	if (p->gbuf != NULL)
		g_byte_array_free(p->gbuf, TRUE);
	parser_re_fini(p);
	g_free(p);
}

void
parser_set_gmime_only(struct parser *p, gboolean on)
{
	p->gmime_only = on;
}

static void
apply_verp(struct parse_ctx *c, const char *envelope_rcpt)
{
	struct parser *p = c->p;
	struct report *r = c->r;
	GMatchInfo *mi = NULL;
	char *local, *dom, *addr = NULL, *signed_rcpt;
	const char *how = "verp";

	if (envelope_rcpt == NULL)
		return;
	/* A signed return path (common/signing.h) names its recipient without a
	 * pattern; whether its signature holds is the store's business. */
	if ((signed_rcpt = signing_decode(envelope_rcpt)) != NULL) {
		addr = parser_address(signed_rcpt);
		g_free(signed_rcpt);
		how = "signed-path";
	} else if (p->verp != NULL && g_utf8_validate(envelope_rcpt, -1, NULL) &&
	    g_regex_match(p->verp, envelope_rcpt, 0, &mi)) {
		local = g_match_info_fetch_named(mi, "local");
		dom = g_match_info_fetch_named(mi, "domain");
		if (local != NULL && dom != NULL && *local != '\0' && *dom != '\0') {
			char *t = g_strconcat(local, "@", dom, NULL);

			addr = parser_address(t);
			g_free(t);
		}
		g_free(local);
		g_free(dom);
	}
	g_match_info_free(mi);
	if (addr == NULL)
		return;
	if (r->records->len == 0 && (r->kind == REPORT_KIND_BOUNCE || r->kind == REPORT_KIND_DSN)) {
		/* A bounce that names nobody: VERP still says who it was for. */
		struct report_record *rec = report_add_record(r);

		rec->recipient = addr;
		parser_rcpt_from(rec, how);
		rec->action = g_strdup("failed");
		classify_record(c, rec, c->context);
		return;
	}
	if (r->records->len == 1) {
		struct report_record *rec = g_ptr_array_index(r->records, 0);

		if (rec->recipient == NULL || g_ascii_strcasecmp(rec->recipient, addr) != 0) {
			g_free(rec->original_recipient);
			rec->original_recipient = rec->recipient;
			rec->recipient = addr;
			parser_rcpt_from(rec, how);
			addr = NULL;
		}
	}
	/* Several records: the report names each failed recipient itself. */
	g_free(addr);
}

/* The original's header, wherever the walk or the raw search found it. */
static gboolean
orig_check(struct parse_ctx *c)
{
	(void)c;
	return TRUE;
}

static void
orig_read(struct parse_ctx *c)
{
	if (c->orig_hdr != NULL) {
		c->orig_fields = fields_parse_header(c->orig_hdr, c->orig_hdrlen);
		orig_from_fields(c, c->orig_fields);
	} else if (c->w.orig != NULL)
		orig_from_message(c, GMIME_OBJECT(c->w.orig));
	else if (!LEAF_SET(c->w.headers)) {
		/*
		 * A text part after the notice (the second, or the first after
		 * an HTML notice) that opens with a header: the original, sent
		 * as text.
		 */
		const struct leaf *cand[2] = { c->w.html_first ? &c->w.text : NULL, &c->w.text2 };
		guint i;

		for (i = 0; i < 2 && c->orig_fields == NULL; i++) {
			gsize tn;
			char *t = cand[i] != NULL && LEAF_SET(*cand[i]) ?
			    walk_part_text(c->p, cand[i], &tn, &c->anomalies) : NULL;
			gssize at = t != NULL ? orig_text_header(c->p->re_marker, t, tn) : -1;

			if (at >= 0) {
				c->orig_fields = fields_parse_header(t + at, tn - at);
				orig_from_fields(c, c->orig_fields);
			}
			g_free(t);
		}
	}
	if (LEAF_SET(c->w.headers)) {
		gsize hn;
		char *h = walk_part_text(c->p, &c->w.headers, &hn, &c->anomalies);

		if (h != NULL) {
			struct fields *f = fields_parse_header(h, hn);

			orig_from_fields(c, f);
			fields_free(f);
			g_free(h);
		}
	}
}

/*
 * The readers, tried in this order on every message, each when its check
 * says so; a later one sees what the earlier ones found (most run only
 * while the report has no record).  An auto-reply is told by its header
 * before a daemon-like sender makes it a bounce.
 */
static const struct reader {
	const char *name;
	gboolean (*check)(struct parse_ctx *);
	void (*read)(struct parse_ctx *);
} readers[] = {
	{ "dsn", dsn_check, dsn_read },
	{ "dsn-raw", dsn_raw_check, dsn_raw_read },
	{ "arf", arf_check, arf_read },
	{ "original", orig_check, orig_read },
	{ "complaint", complaint_check, complaint_read },
	{ "ses", ses_check, ses_read },
	{ "unsubscribe", unsubscribe_check, unsubscribe_read },
	{ "complaint-bare", bare_check, bare_read },
	{ "autoreply", auto_check, auto_read },
	{ "text", text_check, text_read },
	{ "arf-recipient", arf_rcpt_check, arf_rcpt_read },
	{ "autoreply-late", auto_late_check, auto_read },
};

/*
 * GMime (or mime_split()) reads the body and the walk finds its parts.
 * *body, *st: what the caller releases (see ctx_fini).  FALSE when the
 * message is no MIME message at all.
 */
static gboolean
ctx_walk(struct parse_ctx *c, GMimeObject **body, GMimeStream **st)
{
	struct parser *p = c->p;
	const char *buf = c->buf, *tok = NULL, *cte;
	gsize hlen, glen, early, toklen = 0;

	/* The message's own header ends before anything raw_gmime_extent() may cut: found once. */
	c->hlen = hlen = raw_body(buf, c->blen) - buf;
	glen = raw_gmime_extent(buf, c->blen, hlen, &c->orig_hdr, &c->orig_hdrlen, &early, &tok,
	    &toklen);
	/* The message's own header is read here (fields.c): GMime would build
	 * an object for every Received line. */
	c->top = fields_parse_header(buf, hlen);
	c->ct = fields_get(c->top, 0, "Content-Type");
	cte = fields_get(c->top, 0, "Content-Transfer-Encoding");
	c->w.p = p;
	c->w.r = c->r;
	/*
	 * A plainly structured body is split here (mime.c) without building
	 * GMime's objects; anything else goes to GMime.
	 */
	if (!p->gmime_only && mime_split(c->ct, cte, buf + hlen, glen - hlen, p->lim.max_parts,
	    p->lim.max_depth, p->mparts)) {
		walk_split(&c->w, p->mparts, c->orig_hdr != NULL);
		return TRUE;
	}
	*body = walk_gmime(p, &c->w, c->ct, cte, buf + hlen, glen - hlen,
	    early != 0 ? early - hlen : 0, tok, toklen, st);
	return *body != NULL;
}

/*
 * The human-readable text: context for reasons, body of non-standard
 * bounces.  The text part; or the HTML part as text.
 */
static void
ctx_context(struct parse_ctx *c)
{
	struct walk *w = &c->w;

	/* a text/plain after the HTML notice is an attachment (the original's header, say) */
	if (LEAF_SET(w->text) && !w->html_first)
		c->context = walk_part_text(c->p, &w->text, &c->clen, &c->anomalies);
	if (c->context != NULL && LEAF_SET(w->html) && memchr(c->context, '@', c->clen) == NULL) {
		/*
		 * A notice sent as text and HTML whose text names no address
		 * (Office 365 shortens it): the HTML, as text, follows it.
		 */
		gsize hn;
		char *h = walk_part_text(c->p, &w->html, &hn, &c->anomalies), *t = parser_from_html(h);

		if (t != NULL) {
			char *both = g_strconcat(c->context, "\n", t, NULL);

			g_free(c->context);
			c->context = both;
			c->clen = strlen(c->context);
		}
		g_free(t);
		g_free(h);
	} else if (c->context == NULL && LEAF_SET(w->html)) {
		char *h = walk_part_text(c->p, &w->html, &c->clen, &c->anomalies);

		c->context = parser_from_html(h);
		c->clen = c->context != NULL ? strlen(c->context) : 0;
		g_free(h);
	}
	if ((c->context == NULL || c->clen == 0) && w->multipart) {
		/* A multipart GMime could not split: its raw text is all there is. */
		const char *raw = c->buf + c->hlen;

		g_free(c->context);
		c->clen = MIN((gsize)(c->buf + c->blen - raw), MAX_TEXT);
		c->context = parser_utf8(raw, c->clen);
		c->clen = strlen(c->context);
	}
}

static gboolean
is_action(const struct report_record *rec, const char *action)
{
	return rec->action != NULL && g_ascii_strcasecmp(rec->action, action) == 0;
}

/*
 * A report that says a recipient's delivery was delayed and, in another
 * group, that it failed (an MTA's retries then its give-up, or two hops'
 * views) has one outcome for that recipient: the failure.  The delayed
 * record goes; it would be a second record for one address.
 */
static void
drop_superseded_delays(struct report *r)
{
	guint i, j;

	for (i = 0; i < r->records->len; i++) {
		struct report_record *d = g_ptr_array_index(r->records, i);
		gboolean failed = FALSE;

		if (!is_action(d, "delayed") || d->recipient == NULL)
			continue;
		for (j = 0; j < r->records->len && !failed; j++) {
			const struct report_record *f = g_ptr_array_index(r->records, j);

			failed = j != i && is_action(f, "failed") && f->recipient != NULL &&
			    g_ascii_strcasecmp(f->recipient, d->recipient) == 0;
		}
		if (failed)
			report_remove_record(r, i--);
	}
}

/* What every report gets once the readers are done: VERP, recipients, outcome. */
static void
ctx_finish(struct parse_ctx *c, const char *envelope_rcpt)
{
	struct report *r = c->r;
	guint i;

	apply_verp(c, envelope_rcpt);
	drop_superseded_delays(r);
	for (i = 0; i < r->records->len; i++) {
		struct report_record *rec = g_ptr_array_index(r->records, i);

		/* One recipient the report could not name: the original was for it. */
		if (rec->recipient == NULL && r->records->len == 1 && r->kind == REPORT_KIND_DSN &&
		    r->orig_to != NULL && strchr(r->orig_to, ',') == NULL) {
			rec->recipient = parser_address(r->orig_to);
			parser_rcpt_from(rec, "original-to");
		}
		if (rec->recipient == NULL)
			r->anomalies |= REPORT_ANOMALY_NO_RECIPIENT;
	}
	r->anomalies |= c->anomalies;
	if (r->kind != REPORT_KIND_NONE && !c->mta_done) {
		/* a report no record was classified for (a complaint): still say who made it */
		classify_mta(c, c->context != NULL ? classify_folded(c, c->context) : NULL);
	}
	if (r->kind != REPORT_KIND_NONE && r->records->len == 0 && r->outcome == NULL)
		r->outcome = g_strdup("no recipient found");
	if ((r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS) && r->outcome == NULL)
		r->outcome = g_strdup("too_many_recipients");
}

/* The one free path of a call: what the context and GMime hold. */
static void
ctx_fini(struct parse_ctx *c, GMimeObject *body, GMimeStream *st)
{
	struct parser *p = c->p;

	if (body != NULL)
		g_object_unref(body);
	fields_free(c->top);
	fields_free(c->orig_fields);
	g_free(c->fold_out);
	g_free(c->orig_sender);
	g_free(c->context);
	if (c->orig_hdrs != NULL)
		g_string_free(c->orig_hdrs, TRUE);
	if (c->orig_rcpts != NULL)
		g_hash_table_destroy(c->orig_rcpts);
	if (st != NULL) {
		/* drop its reference to this message's stream; the parser itself is kept */
		g_mime_parser_init_with_stream(p->gparser, p->empty);
		g_object_unref(st);
	}
	if (p->gbuf != NULL && p->gbuf->len > GBUF_KEEP) {
		/* not kept at the size of the largest message ever seen */
		g_byte_array_free(p->gbuf, TRUE);
		p->gbuf = NULL;
	}
}

struct report *
parser_parse(struct parser *p, const char *data, gsize len, const char *envelope_rcpt)
{
	struct parse_ctx c;
	const char *why = NULL;
	char *copy = NULL;
	GMimeStream *st = NULL;
	GMimeObject *body = NULL;
	GMimeMessage *split_orig = NULL;
	guint i;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.r = report_new(REPORT_KIND_NONE);
	c.buf = sanitize_prepare(&p->lim, data, len, &c.blen, &copy, &c.r->anomalies, &why);
	if (c.buf == NULL) {
		/* The copy may have been made before a limit was found exceeded. */
		g_free(copy);
		c.r->outcome = g_strdup(why);
		return c.r;
	}
	if (!ctx_walk(&c, &body, &st))
		c.r->outcome = g_strdup("not a MIME message");
	else {
		if (body == NULL)
			split_orig = c.w.orig;	/* walk_split's, which the caller unrefs */
		ctx_context(&c);
		for (i = 0; i < G_N_ELEMENTS(readers); i++)
			if (readers[i].check(&c))
				readers[i].read(&c);
		ctx_finish(&c, envelope_rcpt);
	}
	if (split_orig != NULL)
		g_object_unref(split_orig);
	if (c.r->outcome == NULL)
		c.r->outcome = g_strdup("ok");
	ctx_fini(&c, body, st);
	g_free(copy);
	return c.r;
}
