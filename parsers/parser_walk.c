/*
 * parser_walk.c - one walk over a message's MIME tree (GMime's objects,
 * or mime_split()'s parts) finds the parts that matter, and the text of a
 * part is decoded and made UTF-8 only when it is read.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_int.h"
#include "parsers/parser_util.h"
#include "parsers/parser_walk.h"

#define MAX_TEXT		(256 * 1024)	/* decoded text part read */

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
			else if (!LEAF_SET(w->text2))
				w->text2 = l;
		} else if (IS(sub, sn, "html")) {
			if (!LEAF_SET(w->html)) {
				w->html = l;
				w->html_first = !LEAF_SET(w->text);
			}
		} else
			return FALSE;
	} else
		return FALSE;
	return TRUE;
#undef IS
}

/* One GMime parser per struct parser, reset for each use: its buffers are reused. */
static GMimeParser *
walk_gparser(struct parser *p)
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
	g_mime_parser_init_with_stream(walk_gparser(p), st);
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
 * caller unrefs) only when have_orig is FALSE: raw_gmime_extent() has the
 * original's header read raw wherever it comes last and plain.
 */
void
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
walk_tree(struct walk *w, GMimeObject *o, int depth)
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
			walk_tree(w, g_mime_multipart_get_part(mp, i), depth + 1);
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
walk_convert(struct parser *p, const char *data, gsize n, const char *cs, gsize *outlen)
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

void
walk_iconv_close(gpointer v)
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

gboolean
walk_leaf_encoded(const struct leaf *l)
{
	int e;

	if (l->m != NULL)
		e = l->m->encoding;
	else if (l->g != NULL)
		e = g_mime_part_get_content_encoding(l->g);
	else
		return FALSE;
	return e == GMIME_CONTENT_ENCODING_BASE64 || e == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    e == GMIME_CONTENT_ENCODING_UUENCODE;
}

/* Decoded content of a leaf part, converted to UTF-8 when its charset is allowed. */
char *
walk_part_text(struct parser *p, const struct leaf *l, gsize *outlen, guint32 *anomalies)
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
	    !parser_utf8_valid(data, n))) {
		if (sanitize_charset_ok(&p->lim, cs))
			out = walk_convert(p, data, n, cs, outlen);
		else
			*anomalies |= REPORT_ANOMALY_BAD_CHARSET;
	}
	if (out == NULL && n > 0 && has_jis_escape(data, n) &&
	    sanitize_charset_ok(&p->lim, "iso-2022-jp")) {
		/* unlabelled ISO-2022-JP (Japanese MTAs, delivery-status parts): its escapes say so */
		out = walk_convert(p, data, n, "ISO-2022-JP", outlen);
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
	g_mime_parser_init_with_stream(walk_gparser(p), *st);
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
 * part.  early: where GMime may stop sooner (raw_gmime_extent()), or 0.
 * Returns the tree (caller unrefs; NULL when GMime made none) and *st,
 * the stream it reads (caller releases, see parser_parse).
 */
GMimeObject *
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
	walk_tree(w, top, 0);
	/* The message/rfc822 part GMime was spared came last, right under the top (before_part). */
	if (cut_early && ++w->nparts > p->lim.max_parts)
		w->r->anomalies |= REPORT_ANOMALY_TOO_MANY_PARTS;
	if ((w->multipart = GMIME_IS_MULTIPART(top))) {
		w->boundary = g_mime_object_get_content_type_parameter(top, "boundary");
		w->boundary_len = w->boundary != NULL ? strlen(w->boundary) : 0;
	}
	return top;
}
