/*
 * parser.c - one message in, one struct report out (see parser.h).
 *
 * Order of work: sanitize_prepare() bounds and defuses the raw bytes;
 * GMime parses the body from one memory buffer; one walk over the MIME
 * tree (depth- and part-limited) finds the parts that matter; then the
 * message is read as, in turn, an RFC 3464/6533 DSN, an ARF report, a
 * non-standard bounce (text.c) or an auto-reply.  Only the parts read are
 * decoded.  Reasons come from rules.c.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/fields.h"
#include "parsers/mime.h"
#include "parsers/parser.h"
#include "parsers/parser_int.h"
#include "parsers/scan.h"
#include "parsers/rules.h"
#include "parsers/sanitize.h"
#include "common/signing.h"

#define DEFAULT_MAX_DEPTH	20
#define DEFAULT_MAX_PARTS	1000
#define DEFAULT_MAX_HEADER	(256 * 1024)
#define MAX_MESSAGE_SIZE	(64 * 1024 * 1024)
#define MAX_TEXT		(256 * 1024)	/* decoded text part read */
#define DEFAULT_MAX_RECORDS	1000
#define GBUF_KEEP		(1024 * 1024)	/* largest buffer parser_parse keeps */
#define MAX_DSN_PARTS		8
#define MAX_CONTEXT_FOLD	(8 * 1024)	/* of the report's text, for reasons */
#define MAX_DIAG_FOLD		2048		/* of one diagnostic */
#define ARF_PLACEHOLDER		"undisclosed-recipient-in-headers@libsisimai.org.invalid"

static const char *const default_charsets[] = {
	"us-ascii", "ascii", "utf-8", "utf8", "iso-8859-1", "iso-8859-2", "iso-8859-15",
	"windows-1250", "windows-1251", "windows-1252", "koi8-r", "iso-2022-jp", "shift_jis",
	"euc-jp", "gb2312", "gbk", "gb18030", "big5", "euc-kr", "ks_c_5601-1987", NULL
};

static void iconv_close_value(gpointer v);

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
		g_hash_table_add(p->lim.charset_allow, g_ascii_strdown(*cs, -1));
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
	p->iconv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, iconv_close_value);
	text_init(p);
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
	text_fini(p);
	g_free(p);
}

/* ---- helpers shared with text.c (parser_int.h) ---- */

char *
parser_address(const char *s)
{
	const char *a, *b, *at;
	char *local, *dom, *out;
	gsize n;

	if (s == NULL)
		return NULL;
	/* "rfc822; <x@y>" or "x@y (comment)" or "Name <x@y>" */
	if ((a = strchr(s, ';')) != NULL && a < strchr(s, '@') && strchr(s, '@') != NULL)
		s = a + 1;
	if ((a = strchr(s, '<')) != NULL && strchr(a, '@') != NULL)
		s = a + 1;
	while (*s == ' ' || *s == '\t')
		s++;
	/* an RFC 5321 source route "@relay,@relay:user@host": the address is after it */
	if (*s == '@' && (a = strchr(s, ':')) != NULL && strchr(a, '@') != NULL)
		s = a + 1;
	if (*s == '"' && (b = strchr(s + 1, '"')) != NULL && b[1] == '@' && b - s > 1) {
		/* "quoted local part"@domain: the quotes belong to the address */
		for (a = b + 2; *a != '\0' && (g_ascii_isalnum(*a) || *a == '.' || *a == '-'); a++)
			;
		if (a > b + 2 && memchr(b + 2, '.', a - (b + 2)) != NULL && a - s <= 320) {
			dom = g_ascii_strdown(b + 2, a - (b + 2));
			local = g_strndup(s, b + 1 - s);
			out = g_utf8_validate(local, -1, NULL) ? g_strconcat(local, "@", dom, NULL) : NULL;
			g_free(local);
			g_free(dom);
			if (out != NULL)
				return out;
		}
	}
	while (*s == ' ' || *s == '\t' || *s == '"' || *s == '\'' || *s == '<' || *s == '(')
		s++;
	b = s;
	while (*b != '\0' && *b != '>' && *b != ' ' && *b != '\t' && *b != ',' && *b != '"' &&
	    *b != '\'' && *b != ')' && *b != '\r' && *b != '\n')
		b++;
	while (b > s && (b[-1] == '.' || b[-1] == ':' || b[-1] == ';'))
		b--;
	n = b - s;
	if (n < 3 || n > 320)
		return NULL;
	at = NULL;
	for (a = s; a < b; a++)
		if (*a == '@')
			at = a;
	if (at == NULL || at == s || at + 1 >= b)
		return NULL;
	/*
	 * The domain ends at the first character no domain (or address
	 * literal) has: "x@y.test&gt;" from an HTML notice, "x@y.test]".
	 */
	for (a = at + 1; a < b && (g_ascii_isalnum(*a) || *a == '.' || *a == '-' || *a == '_' ||
	    *a == '[' || *a == ']' || *a == ':' || (guchar)*a >= 0x80); a++)
		;
	if (a == at + 1)
		return NULL;
	b = a;
	while (b > at + 1 && b[-1] == '.')
		b--;
	local = g_strndup(s, at - s);
	dom = g_ascii_strdown(at + 1, b - at - 1);
	if (strchr(dom, '.') == NULL && g_ascii_strcasecmp(dom, "localhost") != 0) {
		/* not an Internet domain: keep anyway, some MTAs strip it */
	}
	if (!g_utf8_validate(local, -1, NULL) || !g_utf8_validate(dom, -1, NULL)) {
		g_free(local);
		g_free(dom);
		return NULL;
	}
	out = g_strconcat(local, "@", dom, NULL);
	g_free(local);
	g_free(dom);
	return out;
}

/*
 * Is the "-" before p that of a multi-line reply's continuation,
 * "550-5.7.26 ..." (Gmail writes every long answer so): a reply code at
 * the start of a line or after a blank, then the status code.
 */
static gboolean
reply_dash(const char *t, const char *p)
{
	const char *c = p - 4;

	if (p - t < 4 || (*c != '4' && *c != '5' && *c != '2') ||
	    !g_ascii_isdigit(c[1]) || !g_ascii_isdigit(c[2]))
		return FALSE;
	return c == t || c[-1] == ' ' || c[-1] == '\t' || c[-1] == '\n' || c[-1] == '\r' ||
	    c[-1] == '(' || c[-1] == ';' || c[-1] == ':' || c[-1] == '#';
}

/* Status "5.1.1" found in text, or NULL.  New string. */
char *
parser_find_status(const char *t)
{
	const char *p;

	if (t == NULL)
		return NULL;
	for (p = t; *p != '\0'; p++) {
		const char *q;
		int d1 = 0, d2 = 0;

		if (*p != '2' && *p != '4' && *p != '5')
			continue;
		if (p > t && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || (p[-1] == '-' && !reply_dash(t, p))))
			continue;
		if (p[1] != '.')
			continue;
		for (q = p + 2; g_ascii_isdigit(*q); q++)
			d1++;
		if (d1 < 1 || d1 > 3 || *q != '.')
			continue;
		for (q++; g_ascii_isdigit(*q); q++)
			d2++;
		if (d2 < 1 || d2 > 3)
			continue;
		if (g_ascii_isalnum(*q) || (*q == '.' && g_ascii_isdigit(q[1])))
			continue;
		return g_strndup(p, q - p);
	}
	return NULL;
}

/* SMTP reply code in text ("550 ", "550-", "550:"), or NULL.  New string. */
char *
parser_find_replycode(const char *t)
{
	const char *p;

	if (t == NULL)
		return NULL;
	for (p = t; *p != '\0'; p++) {
		if ((*p != '2' && *p != '4' && *p != '5') || !g_ascii_isdigit(p[1]) ||
		    !g_ascii_isdigit(p[2]) || p[1] > '5')
			continue;
		if (p > t && (g_ascii_isalnum(p[-1]) || p[-1] == '.' || p[-1] == '-' || p[-1] == '#'))
			continue;
		if (p[3] != ' ' && p[3] != '-' && p[3] != '\0' && p[3] != ']' && p[3] != ':' &&
		    p[3] != '\n' && p[3] != '\r')
			continue;
		if (p[3] == '-' && !g_ascii_isalpha(p[4]) && !g_ascii_isdigit(p[4]))
			continue;
		return g_strndup(p, 3);
	}
	return NULL;
}

/*
 * What g_utf8_validate_len() says, faster on plain ASCII (most of a
 * bounce): eight bytes at a time, none of them NUL or above 0x7f.
 */
static gboolean
utf8_valid(const char *s, gsize len)
{
	const guint64 lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	gsize i = 0;

	for (; i + 8 <= len; i += 8) {
		guint64 v;

		memcpy(&v, s + i, 8);
		if (((v - lo) & ~v & hi) != 0 || (v & hi) != 0)
			break;
	}
	for (; i < len; i++)
		if (s[i] == '\0' || (guchar)s[i] >= 0x80)
			return g_utf8_validate_len(s + i, len - i, NULL);
	return TRUE;
}

char *
parser_utf8(const char *s, gssize len)
{
	if (s == NULL)
		return NULL;
	if (len < 0)
		len = strlen(s);
	if (utf8_valid(s, len))
		return g_strndup(s, len);
	return g_utf8_make_valid(s, len);
}

/* ---- MIME walk ---- */

/* A leaf part: GMime's, or one mime_split() found (then g is NULL). */
struct leaf {
	GMimePart *g;
	const struct mime_part *m;
};

#define LEAF_SET(l)	((l).g != NULL || (l).m != NULL)

struct walk {
	struct parser *p;
	struct report *r;
	int nparts;
	struct leaf dsn[MAX_DSN_PARTS];	/* some MTAs send one part per recipient */
	int ndsn;
	struct leaf arf;
	struct leaf headers;		/* text/rfc822-headers */
	struct leaf text;		/* first text/plain */
	struct leaf html;		/* first text/html */
	GMimeMessage *orig;		/* message/rfc822 (owned by the tree, or see walk_split) */
	gboolean multipart;		/* the body is a multipart */
	gboolean mdn;			/* a message/disposition-notification part (RFC 8098) */
	const char *boundary;		/* its boundary (NUL-terminated), or NULL */
	gsize boundary_len;
};

/*
 * Where a leaf of this media type goes in the walk; the same for GMime's
 * parts and mime_split()'s.  TRUE when kept.
 */
static gboolean
walk_leaf(struct walk *w, const char *type, gsize tn, const char *sub, gsize sn, struct leaf l)
{
#define IS(s, n, lit)	((n) == sizeof(lit) - 1 && g_ascii_strncasecmp((s), (lit), (n)) == 0)
	if (IS(type, tn, "message")) {
		if (IS(sub, sn, "delivery-status") || IS(sub, sn, "global-delivery-status")) {
			if (w->ndsn < MAX_DSN_PARTS)
				w->dsn[w->ndsn++] = l;
		} else if (IS(sub, sn, "feedback-report") && !LEAF_SET(w->arf))
			w->arf = l;
		else if (IS(sub, sn, "disposition-notification"))
			w->mdn = TRUE;
		else if ((IS(sub, sn, "rfc822-headers") || IS(sub, sn, "global-headers") ||
		    IS(sub, sn, "rfc822") || IS(sub, sn, "global")) && !LEAF_SET(w->headers))
			w->headers = l;
		else
			return FALSE;
	} else if (IS(type, tn, "text")) {
		if (sn >= 13 && g_ascii_strncasecmp(sub, "rfc822-header", 13) == 0) {
			if (!LEAF_SET(w->headers))
				w->headers = l;
		} else if (IS(sub, sn, "plain")) {
			if (!LEAF_SET(w->text))
				w->text = l;
		} else if (IS(sub, sn, "html")) {
			if (!LEAF_SET(w->html))
				w->html = l;
		} else
			return FALSE;
	} else
		return FALSE;
	return TRUE;
#undef IS
}

/* One GMime parser per struct parser, reset for each use: its buffers are reused. */
static GMimeParser *
parser_gmime(struct parser *p)
{
	if (p->gparser == NULL) {
		p->gparser = g_mime_parser_new();
		g_mime_parser_set_persist_stream(p->gparser, TRUE);
	}
	return p->gparser;
}

/*
 * The header block of an enclosed message, as GMime reads it when it
 * parses the message/rfc822 part (fields it drops, how it unfolds and
 * decodes are GMime's): only that block goes through GMime, the rest of
 * the message never.  NULL when GMime makes no message of it.
 */
static GMimeMessage *
header_message(struct parser *p, const char *h, gsize n)
{
	static const char part[] = "Content-Type: message/rfc822\n\n";
	GByteArray *b = g_byte_array_sized_new(sizeof(part) - 1 + n);
	GMimeStream *st;
	GMimeObject *o;
	GMimeMessage *m = NULL;

	/* as the content of a message/rfc822 part: GMime reads that more leniently than a message */
	g_byte_array_append(b, (const guint8 *)part, sizeof(part) - 1);
	g_byte_array_append(b, (const guint8 *)h, n);
	st = g_mime_stream_mem_new_with_byte_array(b);
	g_mime_parser_init_with_stream(parser_gmime(p), st);
	o = g_mime_parser_construct_part(p->gparser, p->gopts);
	g_mime_parser_init_with_stream(p->gparser, p->empty);
	if (o != NULL && GMIME_IS_MESSAGE_PART(o) &&
	    (m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o))) != NULL)
		g_object_ref(m);
	if (o != NULL)
		g_object_unref(o);
	g_object_unref(st);	/* owns b */
	return m;
}

/*
 * The same walk over mime_split()'s parts, which were bounded as they
 * were found.  The first enclosed message is read (w->orig, which the
 * caller unrefs) only when have_orig is FALSE: gmime_extent() has the
 * original's header read raw wherever it comes last and plain.
 */
static void
walk_split(struct walk *w, const GArray *parts, gboolean have_orig)
{
	guint i;

	for (i = 0; i < parts->len; i++) {
		const struct mime_part *m = &g_array_index(parts, struct mime_part, i);
		struct leaf l = { NULL, m };

		w->nparts++;
		if (m->node == MIME_MULTIPART) {
			if (m->boundary == NULL)
				w->r->anomalies |= REPORT_ANOMALY_NO_BOUNDARY;
			if (i == 0) {
				w->multipart = TRUE;
				w->boundary = m->boundary;
				w->boundary_len = m->boundary_len;
			}
		} else if (m->node != MIME_MESSAGE)
			walk_leaf(w, m->type, m->type_len, m->sub, m->sub_len, l);
		else if (m->has_message && !have_orig && w->orig == NULL)
			/* GMime read a header that ran to the boundary with the line end before it */
			w->orig = header_message(w->p, m->content, m->header_len +
			    (m->header_len == m->content_len ? m->content_eol : 0));
	}
}

static void
walk(struct walk *w, GMimeObject *o, int depth)
{
	GMimeContentType *ct;
	const char *type, *sub;

	if (++w->nparts > w->p->lim.max_parts) {
		w->r->anomalies |= REPORT_ANOMALY_TOO_MANY_PARTS;
		return;
	}
	if (depth > w->p->lim.max_depth) {
		w->r->anomalies |= REPORT_ANOMALY_TOO_DEEP;
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int i, n = g_mime_multipart_get_count(mp);

		/*
		 * Not g_mime_multipart_get_boundary(): with no boundary it makes
		 * one up and re-encodes the Content-Type header, and GMime 3.2.13
		 * runs out of memory re-encoding hostile 8-bit parameters (4 GB
		 * allocation, a fuzz_parser find).  Read the parameter only.
		 */
		if (g_mime_object_get_content_type_parameter(o, "boundary") == NULL)
			w->r->anomalies |= REPORT_ANOMALY_NO_BOUNDARY;
		for (i = 0; i < n; i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (m != NULL && w->orig == NULL)
			w->orig = m;
		/* A bounce's enclosed original is not searched for reports. */
		return;
	}
	if (!GMIME_IS_PART(o))
		return;
	ct = g_mime_object_get_content_type(o);
	type = ct != NULL ? g_mime_content_type_get_media_type(ct) : NULL;
	sub = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : NULL;
	if (type == NULL || sub == NULL)
		return;
	walk_leaf(w, type, strlen(type), sub, strlen(sub), (struct leaf){ GMIME_PART(o), NULL });
}

/*
 * The bytes of a part that is not transfer-encoded, where they already
 * are: the parser's stream (parser_parse) is one memory buffer, and each
 * part's content a substream of it.  FALSE when they would need decoding.
 */
static gboolean
part_bytes(GMimeDataWrapper *dw, const char **data, gsize *len)
{
	GMimeStream *s = dw->stream;
	GByteArray *b;
	gint64 end;

	if (dw->encoding == GMIME_CONTENT_ENCODING_BASE64 ||
	    dw->encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    dw->encoding == GMIME_CONTENT_ENCODING_UUENCODE ||
	    s == NULL || !GMIME_IS_STREAM_MEM(s) ||
	    (b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s))) == NULL)
		return FALSE;
	end = s->bound_end == -1 ? (gint64)b->len : MIN(s->bound_end, (gint64)b->len);
	if (s->bound_start < 0 || s->bound_start > end)
		return FALSE;
	*data = (const char *)b->data + s->bound_start;
	*len = end - s->bound_start;
	return TRUE;
}

/* "ESC $ B" or "ESC $ @" (JIS X 0208) in data: ESC is rare, so memchr finds them fast. */
static gboolean
has_jis_escape(const char *data, gsize n)
{
	const char *e = data + n, *q;

	for (q = data; (q = memchr(q, '\x1b', e - q)) != NULL; q++)
		if (e - q >= 3 && q[1] == '$' && (q[2] == 'B' || q[2] == '@'))
			return TRUE;
	return FALSE;
}

/*
 * g_convert_with_fallback(data, "UTF-8", cs, "?"), with the converter for
 * cs kept from call to call: opening one (a gconv module lookup) cost
 * more than most conversions.  g_convert_with_fallback() first tries the
 * exact conversion and returns it when it succeeds; that is what the kept
 * converter does, and only input it cannot take goes the long way.
 */
#define ICONV_KEEP	16

static char *
parser_convert(struct parser *p, const char *data, gsize n, const char *cs, gsize *outlen)
{
	GIConv cd = (GIConv)-1;
	gpointer v;
	char *out;

	if (g_hash_table_lookup_extended(p->iconv, cs, NULL, &v))
		cd = (GIConv)v;
	else if (g_hash_table_size(p->iconv) < ICONV_KEEP) {
		cd = g_iconv_open("UTF-8", cs);
		g_hash_table_insert(p->iconv, g_strdup(cs), (gpointer)cd);
	}
	if (cd != (GIConv)-1) {
		g_iconv(cd, NULL, NULL, NULL, NULL);	/* the initial shift state */
		if ((out = g_convert_with_iconv(data, n, cd, NULL, outlen, NULL)) != NULL)
			return out;
	}
	return g_convert_with_fallback(data, n, "UTF-8", cs, "?", NULL, outlen, NULL);
}

static void
iconv_close_value(gpointer v)
{
	if ((GIConv)v != (GIConv)-1)
		g_iconv_close((GIConv)v);
}

/*
 * The content of a part mime_split() found, decoded as GMime's data
 * wrapper decodes it (the same GMime steps); in place when it is not
 * transfer-encoded.  *owned: a decoded copy to g_free(), or NULL.
 */
static void
split_bytes(const struct mime_part *m, const char **data, gsize *n, char **owned)
{
	GMimeEncoding st;
	gsize k;
	char *out;

	*owned = NULL;
	if (m->encoding != GMIME_CONTENT_ENCODING_BASE64 &&
	    m->encoding != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
		*data = m->content;
		*n = m->content_len;
		return;
	}
	g_mime_encoding_init_decode(&st, m->encoding);
	out = g_malloc(g_mime_encoding_outlen(&st, m->content_len) + 16);
	k = g_mime_encoding_step(&st, m->content, m->content_len, out);
	k += g_mime_encoding_flush(&st, "", 0, out + k);
	*owned = out;
	*data = out;
	*n = k;
}

/* Decoded content of a leaf part, converted to UTF-8 when its charset is allowed. */
static char *
part_text(struct parser *p, const struct leaf *l, gsize *outlen)
{
	GMimeDataWrapper *dw = NULL;
	GMimeStream *ms = NULL;
	GByteArray *ba;
	const char *cs, *data;
	char *out = NULL, *owned = NULL, *csbuf = NULL;
	gsize n;
	gboolean plain;

	*outlen = 0;
	if (l->m != NULL) {
		split_bytes(l->m, &data, &n, &owned);
		plain = TRUE;
	} else if (l->g == NULL || (dw = g_mime_part_get_content(l->g)) == NULL)
		return NULL;
	else
		plain = part_bytes(dw, &data, &n);
	/* Plain content is read in place unless it holds a NUL (rewritten below). */
	if (!plain || memchr(data, '\0', MIN(n, MAX_TEXT)) != NULL) {
		ba = g_byte_array_new();
		ms = g_mime_stream_mem_new_with_byte_array(ba);
		if (dw != NULL)
			g_mime_data_wrapper_write_to_stream(dw, ms);
		else
			g_byte_array_append(ba, (const guint8 *)data, n);
		/* "=00" in quoted-printable decodes to NUL, which would end every string early */
		for (gsize i = 0; i < MIN(ba->len, MAX_TEXT); i++)
			if (ba->data[i] == '\0')
				ba->data[i] = ' ';
		data = (const char *)ba->data;
		n = ba->len;
	}
	n = MIN(n, MAX_TEXT);
	if (l->m != NULL)
		cs = l->m->charset != NULL ?
		    (csbuf = g_strndup(l->m->charset, l->m->charset_len)) : NULL;
	else
		cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(l->g), "charset");
	if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0 &&
	    g_ascii_strcasecmp(cs, "us-ascii") != 0 &&
	    (g_ascii_strncasecmp(cs, "iso-2022-", 9) == 0 ||
	    !utf8_valid(data, n))) {
		if (sanitize_charset_ok(&p->lim, cs))
			out = parser_convert(p, data, n, cs, outlen);
		else
			p->cur_anomalies |= REPORT_ANOMALY_BAD_CHARSET;
	}
	if (out == NULL && n > 0 && has_jis_escape(data, n) &&
	    sanitize_charset_ok(&p->lim, "iso-2022-jp")) {
		/* unlabelled ISO-2022-JP (Japanese MTAs, delivery-status parts): its escapes say so */
		out = parser_convert(p, data, n, "ISO-2022-JP", outlen);
	}
	if (out == NULL && n == 0) {
		out = g_strdup("");
		*outlen = 0;
	} else if (out == NULL) {
		out = parser_utf8(data, n);
		*outlen = strlen(out);
	}
	if (ms != NULL)
		g_object_unref(ms);	/* owns ba */
	g_free(owned);
	g_free(csbuf);
	return out;
}

static char *
header_dup(GMimeObject *o, const char *name)
{
	const char *v = o != NULL ? g_mime_object_get_header(o, name) : NULL;

	return v != NULL ? parser_utf8(v, -1) : NULL;
}

/* Fill orig_* and correlation from a GMime message or a header block. */
static void
original_from_message(struct parser *p, struct report *r, GMimeObject *o)
{
	guint i;

	text_add_orig_rcpts(p, g_mime_object_get_header(o, "To"));
	text_add_orig_rcpts(p, g_mime_object_get_header(o, "Cc"));
	if (r->orig_message_id == NULL)
		r->orig_message_id = header_dup(o, "Message-ID");
	if (r->orig_from == NULL)
		r->orig_from = header_dup(o, "From");
	if (r->orig_to == NULL)
		r->orig_to = header_dup(o, "To");
	if (r->orig_subject == NULL)
		r->orig_subject = header_dup(o, "Subject");
	if (r->orig_list_id == NULL)
		r->orig_list_id = header_dup(o, "List-Id");
	if (r->orig_date == NULL)
		r->orig_date = header_dup(o, "Date");
	for (i = 0; i < p->corr->len; i++) {
		const char *h = g_ptr_array_index(p->corr, i);
		char *v = header_dup(o, h);

		if (v != NULL && !g_hash_table_contains(r->correlation, h))
			g_hash_table_insert(r->correlation, g_strdup(h), v);
		else
			g_free(v);
	}
}

void
parser_original_from_fields(struct parser *p, struct report *r, const struct fields *f)
{
	static const struct { const char *name; gsize off; } map[] = {
		{ "Message-ID", G_STRUCT_OFFSET(struct report, orig_message_id) },
		{ "From", G_STRUCT_OFFSET(struct report, orig_from) },
		{ "To", G_STRUCT_OFFSET(struct report, orig_to) },
		{ "Subject", G_STRUCT_OFFSET(struct report, orig_subject) },
		{ "List-Id", G_STRUCT_OFFSET(struct report, orig_list_id) },
		{ "Date", G_STRUCT_OFFSET(struct report, orig_date) },
	};
	guint i;

	if (f->blocks->len > 0) {
		GPtrArray *blk = g_ptr_array_index(f->blocks, 0);

		for (i = 0; i < blk->len; i++) {
			const struct field *x = g_ptr_array_index(blk, i);
			const char *v = x->value, *fo;
			char c = g_ascii_tolower(x->name[0]);

			if (c != 't' && c != 'c' && c != 'r')
				continue;
			if (g_ascii_strcasecmp(x->name, "To") == 0 || g_ascii_strcasecmp(x->name, "Cc") == 0)
				text_add_orig_rcpts(p, v);
			else if (g_ascii_strcasecmp(x->name, "Received") == 0 &&
			    (fo = strstr(v, " for ")) != NULL)
				/* the envelope recipient a relay recorded */
				text_add_orig_rcpts(p, fo + 5);
		}
	}
	for (i = 0; i < G_N_ELEMENTS(map); i++) {
		char **dst = G_STRUCT_MEMBER_P(r, map[i].off);
		const char *v = fields_get(f, 0, map[i].name);

		if (*dst != NULL || v == NULL)
			continue;
		if (strstr(v, "=?") != NULL) {
			/*
			 * Checked again after the field was joined from its lines:
			 * "=?IS" + "O-2022-CN-EXT?B?..." on two lines is one word
			 * here that the raw scan never saw (a fuzz_parser find).
			 */
			char *w = g_strdup(v), *d;

			sanitize_words(&p->lim, w, &r->anomalies);
			d = g_mime_utils_header_decode_text(p->gopts, w);
			*dst = parser_utf8(d, -1);
			g_free(d);
			g_free(w);
		} else
			*dst = parser_utf8(v, -1);
	}
	for (i = 0; i < p->corr->len; i++) {
		const char *h = g_ptr_array_index(p->corr, i);
		const char *v = fields_get(f, 0, h);

		if (v != NULL && !g_hash_table_contains(r->correlation, h))
			g_hash_table_insert(r->correlation, g_strdup(h), parser_utf8(v, -1));
	}
}

/*
 * Phrases that name an SMTP command, grouped by a common start: each group
 * is found with one strstr per occurrence of its start rather than one
 * strstr per phrase over the whole text.
 */
struct phrase_group {
	const char *start;
	struct {
		const char *rest, *cmd;
	} alt[6];
};

/*
 * The command of the phrase found first in t (the earliest; no two
 * phrases of different commands can start at one place), or NULL.
 */
static const char *
first_phrase(const char *t, const struct phrase_group *g, gsize ng)
{
	const char *best = NULL, *at = NULL, *h;
	gsize i, k;

	for (i = 0; i < ng; i++) {
		gsize sl = strlen(g[i].start);

		for (h = strstr(t, g[i].start); h != NULL && (at == NULL || h < at);
		    h = strstr(h + 1, g[i].start))
			for (k = 0; k < G_N_ELEMENTS(g[i].alt) && g[i].alt[k].cmd != NULL; k++)
				if (strncmp(h + sl, g[i].alt[k].rest, strlen(g[i].alt[k].rest)) == 0) {
					at = h;
					best = g[i].alt[k].cmd;
					goto next;
				}
next:
		;
	}
	return best;
}

/* The SMTP command a folded diagnostic says the failure followed, or NULL. */
char *
parser_find_command(const char *t)
{
	static const struct phrase_group tab[] = {
		{ "rcpt", { { " to", "RCPT" }, { "_to", "RCPT" }, { " command", "RCPT" } } },
		{ "end of data", { { "", "DATA" } } },
		{ "data command", { { "", "DATA" } } },
		{ "after data", { { "", "DATA" } } },
		{ "final data", { { "", "DATA" } } },
		{ "message data", { { "", "DATA" } } },
		{ "mail", { { " from", "MAIL" }, { "_from", "MAIL" }, { " command", "MAIL" } } },
		{ "ehlo", { { "", "EHLO" } } },
		{ "helo", { { "", "HELO" } } },
		{ "initial connection", { { "", "CONN" } } },
		{ "connect to", { { "", "CONN" } } },
		{ "but ", { { "sender was rejected", "MAIL" }, { "my name was rejected", "HELO" } } },
		{ "failed after i sent the message", { { "", "DATA" } } },
		{ ">>> data", { { "", "DATA" } } },
		{ "(state 1", { { "4)", "RCPT" }, { "3)", "MAIL" }, { "5)", "DATA" }, { "7)", "DATA" },
		    { "8)", "DATA" } } },
		{ "during result wait", { { "", "DATA" } } },
		{ "does not like recipient", { { "", "RCPT" } } },
		{ "smtp:", { { "rcpt", "RCPT" }, { "data", "DATA" }, { "mail", "MAIL" } } },
	};
	const char *best;

	/* The first one mentioned is where the session ended in most reports. */
	if (t == NULL || (best = first_phrase(t, tab, G_N_ELEMENTS(tab))) == NULL)
		return NULL;
	return g_strdup(best);
}

/*
 * The command named by a transcript or a reply in the report's text
 * (context, folded), looked for from the recipient's first mention on,
 * then anywhere.  Only phrases that introduce a command count here: the
 * text may also carry headers where "helo" or "mail from" mean nothing.
 */
static char *
find_command_context(const char *ctx, const char *rcpt)
{
	static const struct phrase_group tab[] = {
		{ ">>> ", { { "rcpt", "RCPT" }, { "data", "DATA" }, { "mail from", "MAIL" },
		    { "ehlo", "EHLO" }, { "helo", "HELO" } } },
		{ "in reply to ", { { "rcpt", "RCPT" }, { "end of data", "DATA" }, { "data", "DATA" },
		    { "mail from", "MAIL" } } },
		{ "after ", { { "rcpt to", "RCPT" }, { "end of data", "DATA" }, { "data", "DATA" },
		    { "mail from", "MAIL" } } },
		{ "did not like our ", { { "rcpt", "RCPT" }, { "data", "DATA" } } },
		{ "smtp command ", { { "data", "DATA" }, { "rcpt", "RCPT" }, { "mail", "MAIL" } } },
		{ "does not like recipient", { { "", "RCPT" } } },
		{ "smtp:", { { "rcpt", "RCPT" }, { "data", "DATA" } } },
		{ "but sender was rejected", { { "", "MAIL" } } },
		{ "failed after i sent the message", { { "", "DATA" } } },
	};
	const char *from = NULL, *best = NULL;

	if (ctx == NULL)
		return NULL;
	if (rcpt != NULL)
		from = strstr(ctx, rcpt);
	if (from != NULL)
		best = first_phrase(from, tab, G_N_ELEMENTS(tab));
	if (best == NULL)
		best = first_phrase(ctx, tab, G_N_ELEMENTS(tab));
	return best != NULL ? g_strdup(best) : NULL;
}

/* ---- classification of one record ---- */

static gboolean
is_permanent(const struct report_record *rec)
{
	if (rec->status != NULL)
		return rec->status[0] == '5';
	if (rec->replycode != NULL)
		return rec->replycode[0] == '5';
	return rec->action == NULL || g_ascii_strcasecmp(rec->action, "failed") == 0;
}

/*
 * The report's producer ("detect" lines in the rules), looked for once per
 * report, when its header, Reporting-MTA and text are known.  Not a copy.
 */
static const char *
report_mta(struct parser *p, const char *ctx)
{
	struct report *r = p->cur_report;
	const char *name;

	if (r == NULL)
		return NULL;
	if (!p->cur_mta_done) {
		p->cur_mta_done = TRUE;
		name = rules_detect(p->rules, p->cur_top, r->reporting_mta, ctx);
		if (name != NULL && r->mta == NULL)
			r->mta = g_strdup(name);
	}
	return r->mta;
}

/*
 * The report's text folded for the rules: only when a record needs it
 * (its own diagnostic often decides), and once for all its records.
 */
static const char *
folded_context(struct parser *p, const char *context)
{
	if (p->fold_src != context) {
		g_free(p->fold_out);
		p->fold_out = rules_fold_n(context, MAX_CONTEXT_FOLD);
		p->fold_src = context;
	}
	return p->fold_out;
}

/*
 * Decide reason, rule and class.  The record's own diagnostic is tried
 * first; context (the human-readable text of the report) only when it
 * says nothing a rule knows.  Before all of that, the rules scoped to the
 * report's producer or the recipient's provider ("mta" in the rules) are
 * tried on the same texts and codes (the report's text only for the
 * producer: the recipient's provider wrote the diagnostic, not the
 * notice): their table is how that producer uses its words, and a reason
 * it gives needs no corroboration unless a specific status (one with a
 * detail: 5.7.1, not 5.7.0) says otherwise.
 */
void
parser_classify(struct parser *p, struct report_record *rec, const char *context)
{
	struct rules_match m;
	char *diag = rules_fold_n(rec->diagnostic, MAX_DIAG_FOLD);
	const char *ctx = NULL, *lhost, *rhost;
	gboolean ok, scoped = FALSE;

	if (rec->replycode == NULL && rec->diagnostic != NULL)
		rec->replycode = parser_find_replycode(rec->diagnostic);
	if (rec->status == NULL && rec->diagnostic != NULL)
		rec->status = parser_find_status(rec->diagnostic);
	if (rec->smtp_command == NULL)
		rec->smtp_command = parser_find_command(diag);
	if (rec->smtp_command == NULL && context != NULL) {
		char *lr = rec->recipient != NULL ? g_ascii_strdown(rec->recipient, -1) : NULL;

		rec->smtp_command = find_command_context(folded_context(p, context), lr);
		g_free(lr);
	}
	if (rec->action != NULL && g_ascii_strcasecmp(rec->action, "delayed") == 0 &&
	    diag != NULL && g_regex_match(p->re_given_up, diag, 0, NULL)) {
		/*
		 * "Delivery failed 20 attempts", "permanent fatal errors" for
		 * this recipient: the sender's MTA has given up, whatever its
		 * Action field says.  (The notice's text may speak of other
		 * recipients: only the record's own diagnostic counts.)
		 */
		g_free(rec->action);
		rec->action = g_strdup("failed");
	}
	ok = FALSE;
	if (p->cur_hint != NULL) {
		/* e.g. "x-powermta-bouncecategory: bad-mailbox": the sender's MTA has classified it */
		char *h = rules_fold(p->cur_hint);

		ok = rules_classify(p->rules, h, NULL, NULL, NULL, &m);
		if (ok)
			m.by_text = FALSE;
		g_free(h);
	}
	/* The folded text only where it is read: detection (once a report)
	 * and the producer's scoped rules. */
	if (!p->cur_mta_done && context != NULL)
		ctx = folded_context(p, context);
	lhost = report_mta(p, ctx);
	rhost = rules_detect_remote(p->rules, rec->remote_mta);
	if (!ok && (lhost != NULL || rhost != NULL)) {
		if (lhost != NULL && context != NULL)
			ctx = folded_context(p, context);
		scoped = (diag != NULL && rules_classify_scoped(p->rules, lhost, rhost, diag,
		    rec->status, NULL, NULL, &m)) ||
		    (ctx != NULL && lhost != NULL && rules_classify_scoped(p->rules, lhost, NULL, ctx,
		    rec->status, NULL, NULL, &m)) ||
		    rules_classify_scoped(p->rules, lhost, rhost, NULL, rec->status, rec->replycode,
		    rec->smtp_command, &m);
		ok = scoped;
	}
	if (!ok)
		ok = diag != NULL && rules_classify(p->rules, diag, rec->status, NULL, NULL, &m);
	if (!ok && context != NULL && !(p->cur_own_only && rec->diagnostic != NULL)) {
		ok = rules_classify(p->rules, folded_context(p, context), rec->status, NULL, NULL, &m);
		if (!ok && rec->status == NULL) {
			rec->status = parser_find_status(context);
		}
	}
	if (ok && m.by_text && (!scoped || (rec->status != NULL &&
	    !g_str_has_suffix(rec->status, ".0")))) {
		const char *alt = rules_require(p->rules, m.reason, m.id, rec->smtp_command, rec->status);

		if (alt != m.reason) {
			m.reason = alt;
			m.id = "require";
		}
	}
	if (ok) {
		const char *alt = rules_after_scoped(p->rules, lhost, rhost, m.reason, rec->smtp_command);

		if (alt == m.reason)
			alt = rules_after(p->rules, m.reason, rec->smtp_command);

		if (alt != m.reason) {
			m.reason = alt;
			m.id = "after";
		}
	}
	if (!ok)
		ok = rules_classify(p->rules, NULL, rec->status, rec->replycode,
		    rec->smtp_command, &m);
	if (ok) {
		g_free(rec->reason);
		rec->reason = g_strdup(m.reason);
		g_free(rec->rule);
		rec->rule = g_strdup(m.id);
	} else if (rec->reason == NULL)
		rec->reason = g_strdup(rec->action != NULL &&
		    g_ascii_strcasecmp(rec->action, "delayed") == 0 ? "expired" :
		    rec->diagnostic != NULL ? "onhold" : "undefined");
	if (rec->action != NULL && g_ascii_strcasecmp(rec->action, "delayed") == 0) {
		const char *d = rules_delayed(p->rules, rec->reason);

		if (d != rec->reason && g_strcmp0(d, rec->reason) != 0) {
			g_free(rec->reason);
			rec->reason = g_strdup(d);
			g_free(rec->rule);
			rec->rule = g_strdup("delayed");
		}
	}
	if (rec->status != NULL && rec->status[0] == '2') {
		/* A success code is a delivery whatever the words around it. */
		g_free(rec->reason);
		rec->reason = g_strdup("delivered");
		g_free(rec->rule);
		rec->rule = g_strdup("status-2");
	}
	rec->class_ = rules_class(p->rules, rec->reason, is_permanent(rec));
	if (rec->action != NULL && g_ascii_strcasecmp(rec->action, "delayed") == 0)
		/* Not a failure (still being retried) and not a delivery either:
		 * as class delivered it would reset the address's soft count. */
		rec->class_ = REPORT_CLASS_UNKNOWN;
	else if (rec->action != NULL && (g_ascii_strcasecmp(rec->action, "delivered") == 0 ||
	    g_ascii_strcasecmp(rec->action, "relayed") == 0 ||
	    g_ascii_strcasecmp(rec->action, "expanded") == 0)) {
		rec->class_ = REPORT_CLASS_DELIVERED;
		g_free(rec->reason);
		rec->reason = g_strdup("delivered");
	}
	g_free(diag);
}

/* ---- DSN ---- */

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

static void
parse_dsn(struct parser *p, struct report *r, const char *txt, gsize n, const char *context)
{
	struct fields *f;
	guint b, n_rcpts = 0;
	const char *first_dc = NULL;
	gboolean differ = FALSE;

	/* The per-message block, the records kept, and one more to notice the cap. */
	f = fields_parse(txt, n, p->max_records + 2);
	r->kind = REPORT_KIND_DSN;
	for (b = 0; b < f->blocks->len; b++) {
		const char *d = fields_get(f, b, "Diagnostic-Code");

		if (fields_get(f, b, "Final-Recipient") == NULL)
			continue;
		if (n_rcpts++ == 0)
			first_dc = d;
		else if (d == NULL || g_strcmp0(d, first_dc) != 0)
			differ = TRUE;
	}
	for (b = 0; b < f->blocks->len; b++) {
		const char *fr = fields_get(f, b, "Final-Recipient");
		const char *orr = fields_get(f, b, "Original-Recipient");
		const char *st, *dc, *v;
		char *hint;
		struct report_record *rec;

		if (fields_get(f, b, "Reporting-MTA") != NULL && r->reporting_mta == NULL)
			r->reporting_mta = strip_type(fields_get(f, b, "Reporting-MTA"));
		if (fields_get(f, b, "Arrival-Date") != NULL && r->arrival_date == NULL)
			r->arrival_date = parser_utf8(fields_get(f, b, "Arrival-Date"), -1);
		if (fr == NULL && orr == NULL) {
			if (fields_get(f, b, "Action") != NULL || fields_get(f, b, "Status") != NULL)
				r->anomalies |= REPORT_ANOMALY_NO_RECIPIENT;
			continue;
		}
		if (r->records->len >= p->max_records) {
			r->anomalies |= REPORT_ANOMALY_TOO_MANY_RCPTS;
			break;
		}
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
			rec->action = g_ascii_strdown(fields_get(f, b, "Action"), -1);
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
		text_enrich_record(p, rec, context);
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
		p->cur_hint = hint;
		/*
		 * Recipients that failed differently (or whose failure only
		 * the notice's text tells) share that text: a record whose own
		 * diagnostic decides nothing takes no reason from another
		 * recipient's failure.
		 */
		p->cur_own_only = differ;
		parser_classify(p, rec, context);
		p->cur_own_only = FALSE;
		p->cur_hint = NULL;
		g_free(hint);
	}
	fields_free(f);
}

/* A block found in the raw bytes: made valid UTF-8 first, like a decoded part. */
static void
parse_raw_dsn(struct parser *p, struct report *r, const char *raw, gsize n, const char *context)
{
	char *t = parser_utf8(raw, n);

	parse_dsn(p, r, t, strlen(t), context);
	g_free(t);
}

/*
 * A multipart whose boundary does not match its parts (it happens: some
 * MTAs rewrite one and not the other), or a report sent without any MIME
 * header, leaves GMime with no delivery-status part.  The block is still
 * there in the raw body: find it and read up to the next boundary line.
 * skip: how many such parts to pass over first; -1 also looks for fields
 * written inline without any part (raw_dsn_fields).
 */
static const char *raw_body(const char *buf, gsize len);

/*
 * memmem() for the literals searched in whole messages: memchr finds
 * their byte lit[piv], chosen rare in mail ('v', 'k', '8'), and the rest
 * is compared there.  glibc's memmem reads about a byte a cycle; memchr
 * skips ahead many times faster.  The first occurrence, or NULL.
 */
static const char *
find_lit(const char *hay, gsize n, const char *lit, gsize k, gsize piv)
{
	const char *end = hay + n, *q;

	if (n < k)
		return NULL;
	for (q = hay + piv; q < end && (q = memchr(q, lit[piv], end - q)) != NULL; q++)
		if (q + (k - piv) <= end && memcmp(q - piv, lit, k) == 0)
			return q - piv;
	return NULL;
}

/* Offset just past the next empty line at or after from, or len. */
static gsize
after_blank_line(const char *buf, gsize len, gsize from)
{
	/* the same test as raw_body(), which steps by line with memchr */
	return from >= len ? len : (gsize)(raw_body(buf + from, len - from) - buf);
}

/*
 * Where GMime can stop short of the message/rfc822 part whose header has
 * the line at t: before the line end ahead of the boundary line that
 * opens the part (GMime drops that line end from the part before a
 * boundary; at the end of its input it drops nothing, so that part reads
 * the same).  GMime then builds no object for a part nothing is read from
 * (the original's header is read raw).  *tok: that boundary.  part (just
 * past the part's header) when that boundary line is not found: a blank
 * line or the start of the message first, a closing boundary, or a "--"
 * line whose token no boundary parameter declares.  Whether GMime takes
 * the line for a boundary of the top-level multipart is checked once it
 * has parsed (parser_parse).
 */
static gsize
before_part(const char *buf, const char *t, gsize part, const char **tok, gsize *toklen)
{
	const char *ls = t, *s, *e, *b, *be, *q;
	int lines;

	for (lines = 0; lines < 64 && ls > buf; lines++) {
		e = ls - 1;		/* the previous line's end */
		if (*e == '\n' && e > buf && e[-1] == '\r')
			e--;
		for (s = e; s > buf && s[-1] != '\n' && s[-1] != '\r'; s--)
			;
		if (s == e)
			return part;	/* a blank line: this was no part header */
		if (e - s < 3 || s[0] != '-' || s[1] != '-') {
			ls = s;		/* another line of the part's header */
			continue;
		}
		for (be = e; be > s + 2 && (be[-1] == ' ' || be[-1] == '\t'); be--)
			;
		b = s + 2;
		if (be - b < 1 || s == buf || (be - b >= 2 && be[-1] == '-' && be[-2] == '-'))
			return part;
		for (q = buf; (q = memmem(q, s - q, b, be - b)) != NULL; q++)
			if (q > buf && (q[-1] == '"' || q[-1] == '=') && q + (be - b) < s &&
			    (q[be - b] == '"' || q[be - b] == ';' || q[be - b] == '\r' ||
			    q[be - b] == '\n' || q[be - b] == ' ' || q[be - b] == '\t'))
				break;
		if (q == NULL)
			return part;
		*tok = b;
		*toklen = be - b;
		e = s - 1;		/* the line end before the boundary line */
		if (*e == '\n' && e > buf && e[-1] == '\r')
			e--;
		return e - buf;
	}
	return part;
}

/*
 * How much of the message GMime needs to see.  Everything the parser reads
 * comes before the enclosed original's body: the notice, the
 * delivery-status or feedback-report part, the original's header block.
 * The original (often the larger part, with attachments, nested parts and
 * a long header) is not handed to GMime at all: its header block is read
 * here with fields_parse_header() (*hdr, *hdrlen), its body never.  The
 * cut is made only when the enclosed message is not transfer-encoded and
 * nothing a report is made of follows it (a notice placed after the
 * original would be lost: MTAs put it first); GMime takes the missing
 * closing boundary in its stride.  *early: where GMime may stop sooner,
 * before that part's boundary (before_part()), or 0.  body: where the
 * message's own header ends (raw_body()).
 */
static gsize
gmime_extent(const char *buf, gsize len, gsize body, const char **hdr, gsize *hdrlen,
    gsize *early, const char **tok, gsize *toklen)
{
	static const char tag[] = "content-type: message/rfc822";
	const char *p = buf, *end = buf + len, *h;
	gsize part, cut, stop;

	*hdr = NULL;
	*hdrlen = 0;
	*early = 0;
	while ((h = find_lit(p, end - p, "rfc822", 6, 3)) != NULL) {
		const char *t = h - 22;	/* where "content-type: message/" would start */

		p = h + 6;
		if (t < buf || g_ascii_strncasecmp(t, tag, sizeof(tag) - 1) != 0 ||
		    (t != buf && t[-1] != '\n' && t[-1] != '\r'))
			continue;
		part = after_blank_line(buf, len, p - buf);	/* the part's own header */
		cut = after_blank_line(buf, len, part);		/* the original's header */
		if (cut >= len)
			return len;
		if (memmem(t, part - (t - buf), "ransfer-", 8) != NULL ||
		    memmem(t, part - (t - buf), "RANSFER-", 8) != NULL) {
			/* "Content-Transfer-Encoding" on the part: only 7bit/8bit/binary are plain */
			const char *te = memmem(t, part - (t - buf), "ncoding:", 8);

			if (te == NULL)
				te = memmem(t, part - (t - buf), "NCODING:", 8);
			if (te != NULL) {
				te += 8;
				while (te < buf + part && (*te == ' ' || *te == '\t'))
					te++;
				if (buf + part - te < 4 || (g_ascii_strncasecmp(te, "7bit", 4) != 0 &&
				    g_ascii_strncasecmp(te, "8bit", 4) != 0 &&
				    g_ascii_strncasecmp(te, "binary", 4) != 0))
					return len;
			}
		}
		if (find_lit(buf + cut, len - cut, "elivery-", 8, 3) != NULL ||
		    find_lit(buf + cut, len - cut, "eedback-", 8, 6) != NULL)
			return len;
		*hdr = buf + part;
		*hdrlen = cut - part;
		stop = before_part(buf, t, part, tok, toklen);
		/* never inside the message's own header */
		if (stop != part && stop > body)
			*early = stop;
		return part;
	}
	return len;
}

/* Offset just past the line-start "--BOUNDARY--" that closes the top-level
 * multipart, or len when there is none (GMime then saw all of it). */
static gsize
after_outer_close(const char *buf, gsize len, const char *b, gsize bn)
{
	const char *p, *end = buf + len, *h;
	char *delim;
	gsize dn, off = len;

	if (b == NULL)
		return len;
	delim = g_strdup_printf("--%.*s--", (int)bn, b);
	dn = strlen(delim);
	for (p = buf; (h = memmem(p, end - p, delim, dn)) != NULL; p = h + 1)
		if (h == buf || h[-1] == '\n' || h[-1] == '\r') {
			off = h + dn - buf;
			break;
		}
	g_free(delim);
	return off;
}

/*
 * The body of a raw message: after the first empty line ("\n\n",
 * "\n\r\n" or "\r\r"), or the end.  Line by line with memchr: the
 * LF-led ones first, then any "\r\r" (bare CRs, rare) ahead of them.
 */
static const char *
raw_body(const char *buf, gsize len)
{
	const char *end = buf + len, *p, *nl, *cr;

	/* inline, not memchr: a header's lines are short, the call would cost more than the scan */
	for (p = buf; (nl = scan_byte(p, end, '\n')) < end; p = nl + 1)
		if (nl + 1 < end && (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < end && nl[2] == '\n')))
			break;
	if (nl == end)
		nl = NULL;
	for (p = buf; (cr = memchr(p, '\r', (nl != NULL ? nl : end) - p)) != NULL; p = cr + 1)
		if (cr + 1 < end && cr[1] == '\r')
			return cr + 2;
	if (nl == NULL)
		return end;
	return nl[1] == '\n' ? nl + 2 : nl + 3;
}

/*
 * No MIME part at all: DSN fields written inline in the text.  The
 * paragraph holding the first line-start Reporting-MTA or Final-Recipient
 * field begins the report; it runs to the end (bounded).
 */
static gboolean
raw_dsn_fields(const char *buf, gsize len, const char **out, gsize *outlen)
{
	const char *end = buf + len, *best = NULL, *s, *p;

	/* line starts only: the start, and after every LF or CR (those with an R or F: scanned for) */
	for (p = buf; p < end; p = scan_line_start4(p, end, 'R', 'r', 'F', 'f')) {
		if ((*p == 'R' || *p == 'r' || *p == 'F' || *p == 'f') &&
		    ((end - p >= 14 && g_ascii_strncasecmp(p, "reporting-mta:", 14) == 0) ||
		    (end - p >= 16 && g_ascii_strncasecmp(p, "final-recipient:", 16) == 0))) {
			best = p;
			break;
		}
	}
	if (best == NULL)
		return FALSE;
	/* back to the paragraph's start */
	for (s = best; s > buf && !(s[-1] == '\n' && s - 1 > buf && (s[-2] == '\n' ||
	    (s[-2] == '\r' && s - 2 > buf && s[-3] == '\n'))) && !(s[-1] == '\r' && s - 1 > buf &&
	    s[-2] == '\r'); s--)
		;
	*out = s;
	*outlen = MIN((gsize)(end - s), 64 * 1024);
	return TRUE;
}

static gboolean
raw_dsn_block(const char *buf, gsize len, int skip, const char **out, gsize *outlen)
{
	static const char tag[] = "content-type: message/delivery-status";
	const char *p = buf, *end = buf + len, *s, *e;

	/* memmem is fast; the rare all-capitals spelling is not looked for */
	for (;;) {
		const char *h = find_lit(p, end - p, "elivery-", 8, 3), *t;

		if (h == NULL)
			return skip < 0 ? raw_dsn_fields(buf, len, out, outlen) : FALSE;
		p = h + 8;
		t = h - 23;	/* where "content-type: message/d" would start */
		if (t >= buf && (gsize)(end - t) >= sizeof(tag) - 1 &&
		    g_ascii_strncasecmp(t, tag, sizeof(tag) - 1) == 0 &&
		    (t == buf || t[-1] == '\n' || t[-1] == '\r') && skip-- <= 0) {
			p = t + 1;
			break;
		}
	}
	/* the part's header ends at the first empty line */
	for (s = p; s < end; s++)
		if (*s == '\n' && s + 1 < end && (s[1] == '\n' || (s[1] == '\r' && s + 2 < end &&
		    s[2] == '\n')))
			break;
		else if (*s == '\r' && s + 1 < end && s[1] == '\r')
			break;
	if (s >= end)
		return FALSE;
	for (e = s + 1; e < end; e++)
		if ((e[-1] == '\n' || e[-1] == '\r') && e[0] == '-' && e + 1 < end && e[1] == '-')
			break;
	*out = s;
	*outlen = e - s;
	return TRUE;
}

/* ---- ARF ---- */

static struct report_record *
arf_record(struct parser *p, struct report *r, const char *type)
{
	struct report_record *rec = report_add_record(r);

	if (type != NULL) {
		rec->feedback_type = g_ascii_strdown(type, -1);
		g_strstrip(rec->feedback_type);
	} else
		rec->feedback_type = g_strdup("other");
	rec->reason = g_strdup("feedback");
	rec->rule = g_strdup("arf");
	rec->class_ = rules_class(p->rules, "feedback", TRUE);
	if (rec->class_ == REPORT_CLASS_UNKNOWN)
		rec->class_ = REPORT_CLASS_COMPLAINT;
	return rec;
}

/*
 * Complaints that are not ARF: Microsoft's JMRP/SNDS-style reports are a
 * plain message from the provider with the complained-about message
 * attached; its recipient is in X-HmXmrOriginalRecipient or its To.
 */
static gboolean
parse_complaint_nonarf(struct parser *p, struct report *r, const struct fields *top,
    GMimeMessage *orig, const struct fields *of)
{
	GMimeObject *io = orig != NULL ? GMIME_OBJECT(orig) : NULL;
	const char *subj = fields_get(top, 0, "Subject");
	const char *hm = of != NULL ? fields_get(of, 0, "X-HmXmrOriginalRecipient") :
	    g_mime_object_get_header(io, "X-HmXmrOriginalRecipient");
	const char *to = of != NULL ? fields_get(of, 0, "To") : g_mime_object_get_header(io, "To");
	struct report_record *rec;

	if (hm == NULL && (subj == NULL || strcasestr(subj, "complaint about message from") == NULL))
		return FALSE;
	r->kind = REPORT_KIND_ARF;
	rec = arf_record(p, r, "abuse");
	rec->rule = (g_free(rec->rule), g_strdup("complaint-nonarf"));
	rec->recipient = parser_address(hm != NULL ? hm : to);
	parser_rcpt_from(rec, hm != NULL ? "complainer-header" : "original-to");
	return TRUE;
}

static void
parse_arf(struct parser *p, struct report *r, struct walk *w)
{
	struct fields *f;
	struct report_record *rec;
	const char *v;
	char *txt;
	gsize n;

	txt = part_text(p, &w->arf, &n);
	if (txt == NULL)
		return;
	f = fields_parse(txt, n, 4);
	r->kind = REPORT_KIND_ARF;
#define ARF_COPY(dst, name) \
	if ((v = fields_get(f, 0, name)) != NULL && (dst) == NULL) (dst) = parser_utf8(v, -1)
	ARF_COPY(r->user_agent, "User-Agent");
	ARF_COPY(r->source_ip, "Source-IP");
	ARF_COPY(r->reported_domain, "Reported-Domain");
	ARF_COPY(r->auth_results, "Authentication-Results");
	ARF_COPY(r->arrival_date, "Arrival-Date");
	ARF_COPY(r->arrival_date, "Received-Date");
	ARF_COPY(r->reporting_mta, "Reporting-MTA");
	if ((v = fields_get(f, 0, "Original-Mail-From")) != NULL)
		r->original_mail_from = parser_address(v);
	/* One record per Original-Rcpt-To (RFC 5965 allows several). */
	if (f->blocks->len > 0) {
		GPtrArray *blk = g_ptr_array_index(f->blocks, 0);
		guint i;

		for (i = 0; i < blk->len && r->records->len < p->max_records; i++) {
			const struct field *x = g_ptr_array_index(blk, i);
			char *a;

			if (g_ascii_strcasecmp(x->name, "Original-Rcpt-To") != 0 ||
			    (a = parser_address(x->value)) == NULL)
				continue;
			rec = arf_record(p, r, fields_get(f, 0, "Feedback-Type"));
			rec->recipient = a;
			parser_rcpt_from(rec, "original-rcpt-to");
		}
	}
	if (r->records->len == 0)
		arf_record(p, r, fields_get(f, 0, "Feedback-Type"));
	fields_free(f);
	g_free(txt);
}

/* ---- top level ---- */

static void
apply_verp(struct parser *p, struct report *r, const char *envelope_rcpt, const char *context)
{
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
		parser_classify(p, rec, context);
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

/* Does a Content-Type value name a multipart with boundary tok?  A cheap first look. */
static gboolean
ct_boundary_is(const char *ct, const char *tok, gsize n)
{
	const char *b;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (g_ascii_strncasecmp(ct, "multipart/", 10) != 0 ||
	    (b = strcasestr(ct, "boundary=")) == NULL)
		return FALSE;
	b += 9;
	if (*b == '"')
		return strncmp(b + 1, tok, n) == 0 && b[1 + n] == '"';
	return strncmp(b, tok, n) == 0 && (b[n] == '\0' || b[n] == ';' || b[n] == ' ' ||
	    b[n] == '\t');
}

/* Is GMime's top-level object a multipart with boundary tok? */
static gboolean
top_boundary_is(GMimeObject *body, const char *tok, gsize n)
{
	const char *b;

	return body != NULL && GMIME_IS_MULTIPART(body) &&
	    (b = g_mime_object_get_content_type_parameter(body, "boundary")) != NULL &&
	    strlen(b) == n && memcmp(b, tok, n) == 0;
}

/*
 * GMime parses pre (a header) and the n bytes at body, from one buffer
 * kept from message to message (no allocation, and no heap consolidation
 * when a large one is freed, per message).  *st: the stream it reads.
 */
static GMimeObject *
gmime_body(struct parser *p, const GString *pre, const char *body, gsize n, GMimeStream **st)
{
	if (p->gbuf == NULL)
		p->gbuf = g_byte_array_new();
	g_byte_array_set_size(p->gbuf, 0);
	g_byte_array_append(p->gbuf, (const guint8 *)pre->str, pre->len);
	g_byte_array_append(p->gbuf, (const guint8 *)body, n);
	*st = g_mime_stream_mem_new_with_byte_array(p->gbuf);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(*st), FALSE);
	g_mime_parser_init_with_stream(parser_gmime(p), *st);
	return g_mime_parser_construct_part(p->gparser, p->gopts);
}

/*
 * GMime parses the body (n bytes at body) alone, as a part behind a
 * two-line header that carries its Content-Type and
 * Content-Transfer-Encoding, and the walk reads its tree.  Header and body
 * go in one buffer (the body's bytes are copied once, a few microseconds at
 * most): over one memory stream, each part's content is one plain
 * substream, where a concatenation of the header and the caller's bytes
 * cost GMime a new concatenation of substreams, three objects, for every
 * part.  early: where GMime may stop sooner (gmime_extent()), or 0.
 * Returns the tree (caller unrefs; NULL when GMime made none) and *st,
 * the stream it reads (caller releases, see parser_parse).
 */
static GMimeObject *
walk_gmime(struct parser *p, struct walk *w, const char *ct, const char *cte,
    const char *body, gsize n, gsize early, const char *tok, gsize toklen, GMimeStream **st)
{
	GString *pre = g_string_sized_new(128);
	GMimeObject *top;
	gboolean cut_early;

	if (ct != NULL)
		g_string_append_printf(pre, "Content-Type: %s\n", ct);
	if (cte != NULL)
		g_string_append_printf(pre, "Content-Transfer-Encoding: %s\n", cte);
	g_string_append_c(pre, '\n');
	cut_early = early != 0 && ct != NULL && ct_boundary_is(ct, tok, toklen);
	top = gmime_body(p, pre, body, cut_early ? early : n, st);
	if (cut_early && !top_boundary_is(top, tok, toklen)) {
		/* that line is no top-level boundary to GMime: it reads up to n after all */
		if (top != NULL)
			g_object_unref(top);
		g_mime_parser_init_with_stream(p->gparser, p->empty);
		g_object_unref(*st);
		cut_early = FALSE;
		top = gmime_body(p, pre, body, n, st);
	}
	g_string_free(pre, TRUE);
	if (top == NULL)
		return NULL;
	walk(w, top, 0);
	/* The message/rfc822 part GMime was spared came last, right under the top (before_part). */
	if (cut_early && ++w->nparts > p->lim.max_parts)
		w->r->anomalies |= REPORT_ANOMALY_TOO_MANY_PARTS;
	if ((w->multipart = GMIME_IS_MULTIPART(top))) {
		w->boundary = g_mime_object_get_content_type_parameter(top, "boundary");
		w->boundary_len = w->boundary != NULL ? strlen(w->boundary) : 0;
	}
	return top;
}

void
parser_set_gmime_only(struct parser *p, gboolean on)
{
	p->gmime_only = on;
}

struct report *
parser_parse(struct parser *p, const char *data, gsize len, const char *envelope_rcpt)
{
	struct report *r = report_new(REPORT_KIND_NONE);
	const char *buf, *why = NULL;
	char *copy = NULL, *context = NULL;
	gsize blen, hlen, glen, early, toklen = 0, clen = 0;
	const char *tok = NULL, *ct, *cte;
	GMimeStream *st = NULL;
	GMimeObject *body = NULL;
	GMimeMessage *split_orig = NULL;
	struct fields *top = NULL;
	struct walk w;
	guint i;
	const char *orig_hdr;
	gsize orig_hdrlen;
	struct fields *orig_fields = NULL;

	p->cur_anomalies = 0;
	g_hash_table_remove_all(p->cur_orig_rcpts);
	g_string_truncate(p->cur_orig_hdrs, 0);
	p->cur_report = r;
	p->cur_top = NULL;
	p->cur_mta_done = FALSE;
	buf = sanitize_prepare(&p->lim, data, len, &blen, &copy, &r->anomalies, &why);
	if (buf == NULL) {
		/* The copy may have been made before a limit was found exceeded. */
		g_free(copy);
		r->outcome = g_strdup(why);
		return r;
	}
	/* The message's own header ends before anything gmime_extent() may cut: found once. */
	hlen = raw_body(buf, blen) - buf;
	glen = gmime_extent(buf, blen, hlen, &orig_hdr, &orig_hdrlen, &early, &tok, &toklen);
	/* The message's own header is read here (fields.c): GMime would build
	 * an object for every Received line. */
	top = fields_parse_header(buf, hlen);
	p->cur_top = top;
	ct = fields_get(top, 0, "Content-Type");
	cte = fields_get(top, 0, "Content-Transfer-Encoding");
	memset(&w, 0, sizeof(w));
	w.p = p;
	w.r = r;
	/*
	 * A plainly structured body is split here (mime.c) without building
	 * GMime's objects; anything else goes to GMime.
	 */
	if (!p->gmime_only && mime_split(ct, cte, buf + hlen, glen - hlen, p->lim.max_parts,
	    p->lim.max_depth, p->mparts)) {
		walk_split(&w, p->mparts, orig_hdr != NULL);
		split_orig = w.orig;
	} else if ((body = walk_gmime(p, &w, ct, cte, buf + hlen, glen - hlen,
	    early != 0 ? early - hlen : 0, tok, toklen, &st)) == NULL) {
		r->outcome = g_strdup("not a MIME message");
		goto done;
	}

	/* The human-readable text: context for reasons, body of non-standard bounces. */
	if (LEAF_SET(w.text))
		context = part_text(p, &w.text, &clen);
	if (context != NULL && LEAF_SET(w.html) && memchr(context, '@', clen) == NULL) {
		/*
		 * A notice sent as text and HTML whose text names no address
		 * (Office 365 shortens it): the HTML, as text, follows it.
		 */
		gsize hn;
		char *h = part_text(p, &w.html, &hn), *t = text_from_html(h);

		if (t != NULL) {
			char *both = g_strconcat(context, "\n", t, NULL);

			g_free(context);
			context = both;
			clen = strlen(context);
		}
		g_free(t);
		g_free(h);
	} else if (context == NULL && LEAF_SET(w.html)) {
		char *h = part_text(p, &w.html, &clen);

		context = text_from_html(h);
		clen = context != NULL ? strlen(context) : 0;
		g_free(h);
	}
	if ((context == NULL || clen == 0) && w.multipart) {
		/* A multipart GMime could not split: its raw text is all there is. */
		const char *raw = buf + hlen;

		g_free(context);
		clen = MIN((gsize)(buf + blen - raw), MAX_TEXT);
		context = parser_utf8(raw, clen);
		clen = strlen(context);
	}

	for (i = 0; i < (guint)w.ndsn; i++) {
		gsize n;
		char *txt = part_text(p, &w.dsn[i], &n);

		if (txt != NULL)
			parse_dsn(p, r, txt, n, context);
		g_free(txt);
	}
	if (w.ndsn == 0 && !LEAF_SET(w.arf) && !w.mdn &&
	    !(ct != NULL && strcasestr(ct, "disposition-notification") != NULL)) {
		/*
		 * (A message disposition notification, RFC 8098, says a message
		 * was displayed or deleted: its Final-Recipient is no failure.)
		 */
		const char *raw;
		gsize rn;

		if (raw_dsn_block(buf, blen, -1, &raw, &rn))
			parse_raw_dsn(p, r, raw, rn, context);
	} else if (w.ndsn > 0 && w.ndsn < MAX_DSN_PARTS) {
		/*
		 * Reports run together in one file: the parts GMime did not see.
		 * Only after the top-level multipart has closed: before that,
		 * GMime saw every report part, and a delivery-status further in
		 * belongs to an enclosed original (a bounce of a bounce), whose
		 * recipients are not ours.
		 */
		gsize off = after_outer_close(buf, blen, w.boundary, w.boundary_len);
		const char *raw;
		gsize rn;
		int k;

		for (k = 0; w.ndsn + k < MAX_DSN_PARTS &&
		    raw_dsn_block(buf + off, blen - off, k, &raw, &rn); k++)
			parse_raw_dsn(p, r, raw, rn, context);
	}
	if (r->records->len == 0 && LEAF_SET(w.arf))
		parse_arf(p, r, &w);

	if (orig_hdr != NULL) {
		orig_fields = fields_parse_header(orig_hdr, orig_hdrlen);
		parser_original_from_fields(p, r, orig_fields);
	} else if (w.orig != NULL)
		original_from_message(p, r, GMIME_OBJECT(w.orig));
	if (LEAF_SET(w.headers)) {
		gsize hn;
		char *h = part_text(p, &w.headers, &hn);

		if (h != NULL) {
			struct fields *f = fields_parse_header(h, hn);

			parser_original_from_fields(p, r, f);
			fields_free(f);
			g_free(h);
		}
	}

	if (r->records->len == 0 && (orig_fields != NULL || w.orig != NULL))
		parse_complaint_nonarf(p, r, top, w.orig, orig_fields);
	if (r->records->len == 0 && w.ndsn == 0 && !LEAF_SET(w.arf))
		sesjson_parse(p, r, context, clen);
	if (r->records->len == 0 && fields_get(top, 0, "X-Apple-Unsubscribe") != NULL &&
	    strcasestr(fields_get(top, 0, "X-Apple-Unsubscribe"), "true") != NULL) {
		/* A mail client's one-click unsubscribe, sent by the recipient itself. */
		struct report_record *rec;

		r->kind = REPORT_KIND_ARF;
		rec = arf_record(p, r, "opt-out");
		rec->rule = (g_free(rec->rule), g_strdup("unsubscribe"));
		rec->recipient = parser_address(fields_get(top, 0, "From"));
		parser_rcpt_from(rec, "from");
	}
	if (r->records->len == 0 && r->kind == REPORT_KIND_NONE &&
	    fields_get(top, 0, "X-HmXmrOriginalRecipient") != NULL) {
		/*
		 * Hotmail's complaint can be the complained-about message itself,
		 * sent back with the complainer named in a header of its own.
		 */
		struct report_record *rec;

		r->kind = REPORT_KIND_ARF;
		rec = arf_record(p, r, "abuse");
		rec->rule = (g_free(rec->rule), g_strdup("complaint-bare"));
		rec->recipient = parser_address(fields_get(top, 0, "X-HmXmrOriginalRecipient"));
		parser_rcpt_from(rec, "complainer-header");
	}
	/* An auto-reply is told by its header before a daemon-like sender makes it a bounce. */
	if (r->records->len == 0 && r->kind == REPORT_KIND_NONE && w.ndsn == 0 &&
	    !LEAF_SET(w.arf) && text_is_autoreply(p, top, context, clen))
		text_autoreply(p, r, top);
	if (r->records->len == 0 && r->kind != REPORT_KIND_AUTOREPLY && r->kind != REPORT_KIND_ARF)
		text_parse(p, r, top, context, clen, w.orig != NULL || LEAF_SET(w.headers) ||
		    orig_fields != NULL);

	if (r->kind == REPORT_KIND_ARF && r->records->len > 0) {
		/*
		 * The complained-about recipient, when the report leaves it out;
		 * when the original is redacted too, a placeholder in the
		 * reserved .invalid domain (the one Sisimai uses, so that results
		 * compare): the complaint still counts, it suppresses nobody.
		 */
		struct report_record *rec = g_ptr_array_index(r->records, 0);

		if (rec->recipient == NULL && r->orig_to != NULL) {
			rec->recipient = parser_address(r->orig_to);
			parser_rcpt_from(rec, "original-to");
		}
		if (rec->recipient == NULL) {
			rec->recipient = g_strdup(ARF_PLACEHOLDER);
			parser_rcpt_from(rec, "placeholder");
		}
	}
	if (r->records->len == 0 && r->kind == REPORT_KIND_NONE)
		text_autoreply(p, r, top);

	apply_verp(p, r, envelope_rcpt, context);
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
	r->anomalies |= p->cur_anomalies;
	if (r->kind != REPORT_KIND_NONE && !p->cur_mta_done) {
		/* a report no record was classified for (a complaint): still say who made it */
		report_mta(p, context != NULL ? folded_context(p, context) : NULL);
	}
	if (r->kind != REPORT_KIND_NONE && r->records->len == 0 && r->outcome == NULL)
		r->outcome = g_strdup("no recipient found");
	if ((r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS) && r->outcome == NULL)
		r->outcome = g_strdup("too_many_recipients");
done:
	p->cur_report = NULL;
	p->cur_top = NULL;
	if (body != NULL)
		g_object_unref(body);
	if (split_orig != NULL)
		g_object_unref(split_orig);
	fields_free(top);
	fields_free(orig_fields);
	g_free(p->fold_out);
	p->fold_out = NULL;
	p->fold_src = NULL;
	if (r->outcome == NULL)
		r->outcome = g_strdup("ok");
	g_free(context);
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
	g_free(copy);
	return r;
}
