/*
 * parser_orig.c - the enclosed original's header: its Message-ID, From,
 * To, Subject, List-Id, Date and correlation headers go into the report,
 * and the addresses it was sent to are kept for the readers to check a
 * notice's candidates against.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_int.h"
#include "parsers/parser_orig.h"
#include "parsers/parser_util.h"
#include "parsers/scan.h"

/* The start of the line after the one that ends at e (scan_eol()). */
static const char *
line_after(const char *e, const char *end)
{
	if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
		e++;
	return e < end ? e + 1 : end;
}

/* Is the line a header field ("Name: value")?  *known: one a message has of its own. */
static gboolean
line_field(const char *p, gsize l, gboolean *known)
{
	static const char *const names[] = { "from", "to", "cc", "subject", "date", "message-id",
	    "received", "return-path", "mime-version", "reply-to", "delivered-to", "content-type" };
	gsize k, i;

	for (k = 0; k < l && k < 77 && (g_ascii_isalnum(p[k]) || p[k] == '-' || p[k] == '_'); k++)
		;
	if (k == 0 || k >= l || p[k] != ':')
		return FALSE;
	*known = FALSE;
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (k == strlen(names[i]) && g_ascii_strncasecmp(p, names[i], k) == 0)
			*known = TRUE;
	return TRUE;
}

gssize
orig_text_header(const GRegex *marker, const char *t, gsize n)
{
	const char *p = t, *end = t + n, *e, *start;
	guint known = 0, lines = 0, marks = 0;
	gboolean k;

	for (;;) {
		while (p < end && (e = scan_eol(p, end)) == p)
			p = line_after(e, end);
		if (p >= end)
			return -1;
		if (line_field(p, e - p, &k))
			break;
		/* a marker line, matched on that line alone */
		if (marks++ > 0 || !g_regex_match_full(marker, p, e - p, 0, 0, NULL, NULL))
			return -1;
		p = line_after(e, end);
	}
	/* every line up to the blank one a field or its continuation, and two a message's own */
	for (start = p; p < end && lines < 200; p = line_after(e, end), lines++) {
		if ((e = scan_eol(p, end)) == p)
			break;
		if (*p == ' ' || *p == '\t') {
			if (p == start)
				return -1;
			continue;
		}
		if (!line_field(p, e - p, &k))
			return -1;
		known += k;
	}
	return known >= 2 ? start - t : -1;
}

void
orig_add_rcpts(struct parse_ctx *c, const char *v)
{
	if (v == NULL)
		return;
	if (c->orig_hdrs == NULL)
		c->orig_hdrs = g_string_new(NULL);
	if (c->orig_hdrs->len < 65536) {
		g_string_append(c->orig_hdrs, v);
		g_string_append_c(c->orig_hdrs, '\n');
	}
}

GHashTable *
orig_rcpts(struct parse_ctx *c)
{
	const char *v = c->orig_hdrs != NULL ? c->orig_hdrs->str : "";
	gsize pos = 0, n = c->orig_hdrs != NULL ? c->orig_hdrs->len : 0;
	char *a;

	if (c->orig_rcpts == NULL)
		c->orig_rcpts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (n > 0 && g_hash_table_size(c->orig_rcpts) == 0)
		while ((a = parser_next_address(v, n, &pos)) != NULL) {
			g_hash_table_add(c->orig_rcpts, scan_ascii_down(a, -1));
			g_free(a);
		}
	return c->orig_rcpts;
}

static char *
header_dup(GMimeObject *o, const char *name)
{
	const char *v = o != NULL ? g_mime_object_get_header(o, name) : NULL;

	return v != NULL ? parser_utf8(v, -1) : NULL;
}

/* The original's fields the report keeps, where it keeps them. */
static const struct {
	const char *name;
	gsize off;
} orig_map[] = {
	{ "Message-ID", G_STRUCT_OFFSET(struct report, orig_message_id) },
	{ "From", G_STRUCT_OFFSET(struct report, orig_from) },
	{ "To", G_STRUCT_OFFSET(struct report, orig_to) },
	{ "Subject", G_STRUCT_OFFSET(struct report, orig_subject) },
	{ "List-Id", G_STRUCT_OFFSET(struct report, orig_list_id) },
	{ "Date", G_STRUCT_OFFSET(struct report, orig_date) },
};

char *
orig_header_text(struct parser *p, const char *v, guint32 *anomalies)
{
	char *w, *d, *out;

	if (v == NULL || strstr(v, "=?") == NULL)
		return parser_utf8(v, -1);
	/*
	 * Checked again after the field was joined from its lines: "=?IS" +
	 * "O-2022-CN-EXT?B?..." on two lines is one word here that the raw
	 * scan never saw (a fuzz_parser find).
	 */
	w = g_strdup(v);
	sanitize_words(&p->lim, w, anomalies);
	d = g_mime_utils_header_decode_text(p->gopts, w);
	out = parser_utf8(d, -1);
	g_free(d);
	g_free(w);
	return out;
}

void
orig_from_message(struct parse_ctx *c, GMimeObject *o)
{
	struct parser *p = c->p;
	struct report *r = c->r;
	guint i;

	orig_add_rcpts(c, g_mime_object_get_header(o, "To"));
	orig_add_rcpts(c, g_mime_object_get_header(o, "Cc"));
	if (c->orig_sender == NULL)
		c->orig_sender = header_dup(o, "Return-Path");
	for (i = 0; i < G_N_ELEMENTS(orig_map); i++) {
		char **dst = G_STRUCT_MEMBER_P(r, orig_map[i].off);

		if (*dst == NULL)
			*dst = header_dup(o, orig_map[i].name);
	}
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
orig_from_fields(struct parse_ctx *c, const struct fields *f)
{
	struct parser *p = c->p;
	struct report *r = c->r;
	guint i;

	if (f->blocks->len > 0) {
		GPtrArray *blk = g_ptr_array_index(f->blocks, 0);

		for (i = 0; i < blk->len; i++) {
			const struct field *x = g_ptr_array_index(blk, i);
			const char *v = x->value, *fo;
			char first = g_ascii_tolower(x->name[0]);

			if (first != 't' && first != 'c' && first != 'r')
				continue;
			if (g_ascii_strcasecmp(x->name, "To") == 0 || g_ascii_strcasecmp(x->name, "Cc") == 0)
				orig_add_rcpts(c, v);
			else if (g_ascii_strcasecmp(x->name, "Received") == 0 &&
			    (fo = strstr(v, " for ")) != NULL)
				/* the envelope recipient a relay recorded */
				orig_add_rcpts(c, fo + 5);
			else if (g_ascii_strcasecmp(x->name, "Return-Path") == 0 && c->orig_sender == NULL)
				c->orig_sender = parser_utf8(v, -1);
		}
	}
	for (i = 0; i < G_N_ELEMENTS(orig_map); i++) {
		char **dst = G_STRUCT_MEMBER_P(r, orig_map[i].off);
		const char *v = fields_get(f, 0, orig_map[i].name);

		if (*dst == NULL && v != NULL)
			*dst = orig_header_text(p, v, &r->anomalies);
	}
	for (i = 0; i < p->corr->len; i++) {
		const char *h = g_ptr_array_index(p->corr, i);
		const char *v = fields_get(f, 0, h);

		if (v != NULL && !g_hash_table_contains(r->correlation, h))
			g_hash_table_insert(r->correlation, g_strdup(h), parser_utf8(v, -1));
	}
}
