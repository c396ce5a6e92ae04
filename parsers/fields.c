/* fields.c - see fields.h. */
#include <string.h>
#include <glib.h>

#include "parsers/fields.h"

static void
field_free(gpointer p)
{
	struct field *f = p;

	g_free(f->name);
	g_free(f->value);
	g_free(f);
}

/*
 * Header fields no parser reads that make up most of a header block: trace
 * and signature lines.  fields_parse_header() does not keep them.
 */
static gboolean
bulky(const char *name, gsize n)
{
	static const char *const names[] = { "Received", "DKIM-Signature", "X-Received",
		"ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results",
		"X-Google-DKIM-Signature", "X-Gm-Message-State", "X-Google-Smtp-Source",
		"Received-SPF", "X-MS-Exchange-Organization-Network-Message-Id" };
	gsize i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (strlen(names[i]) == n && g_ascii_strncasecmp(name, names[i], n) == 0)
			return TRUE;
	return FALSE;
}

/* Only spaces and tabs (the text need not be NUL-terminated). */
static gboolean
blank(const char *p, gsize n)
{
	gsize i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return FALSE;
	return TRUE;
}

/* A second Final-/Original-Recipient in one block starts the next recipient's. */
static gboolean
repeats_recipient(GPtrArray *cur, const char *name, gsize n)
{
	guint i;

	if (!((n == 15 && g_ascii_strncasecmp(name, "Final-Recipient", 15) == 0) ||
	    (n == 18 && g_ascii_strncasecmp(name, "Original-Recipient", 18) == 0)))
		return FALSE;
	for (i = 0; i < cur->len; i++) {
		const struct field *x = g_ptr_array_index(cur, i);

		if (strlen(x->name) == n && g_ascii_strncasecmp(x->name, name, n) == 0)
			return TRUE;
	}
	return FALSE;
}

/* The field being read gets its value: its lines joined, trimmed. */
static void
field_finish(struct field **last, GString **val)
{
	if (*last != NULL && *val != NULL)
		(*last)->value = g_strstrip(g_string_free(*val, FALSE));
	*last = NULL;
	*val = NULL;
}

static struct fields *
fields_parse_n(const char *text, gsize len, guint max_blocks, gboolean header)
{
	gboolean skipping = FALSE;
	struct fields *f = g_new0(struct fields, 1);
	const char *p = text, *end = text + len;
	GPtrArray *cur = NULL;
	struct field *last = NULL;
	GString *val = NULL;

	f->blocks = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	while (p < end) {
		const char *e = p, *colon;
		gsize n;

		while (e < end && *e != '\n' && *e != '\r')
			e++;
		n = e - p;
		/* next line start */
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e += 2;
		else if (e < end)
			e++;
		if (blank(p, n)) {
			if (cur != NULL) {
				field_finish(&last, &val);
				cur = NULL;
				if (f->blocks->len >= max_blocks)
					break;
			}
			p = e;
			continue;
		}
		if ((*p == ' ' || *p == '\t') && skipping) {
			p = e;
			continue;
		}
		if ((*p == ' ' || *p == '\t') && last != NULL) {
			g_string_append_c(val, ' ');
			g_string_append_len(val, p, n);
			p = e;
			continue;
		}
		colon = memchr(p, ':', n);
		if (colon != NULL && colon > p && memchr(p, ' ', colon - p) == NULL) {
			if (cur != NULL && repeats_recipient(cur, p, colon - p)) {
				/* per-recipient blocks run together without a blank line */
				field_finish(&last, &val);
				cur = NULL;
				if (f->blocks->len >= max_blocks)
					break;
			}
			if (cur == NULL) {
				cur = g_ptr_array_new_with_free_func(field_free);
				g_ptr_array_add(f->blocks, cur);
			}
			field_finish(&last, &val);
			skipping = header && bulky(p, colon - p);
			if (skipping) {
				p = e;
				continue;
			}
			last = g_new0(struct field, 1);
			last->name = g_strndup(p, colon - p);
			val = g_string_new_len(colon + 1, n - (colon + 1 - p));
			g_ptr_array_add(cur, last);
		} else if (last != NULL && !skipping) {
			/* a broken fold: keep the text with the field it follows */
			g_string_append_c(val, ' ');
			g_string_append_len(val, p, n);
		}
		p = e;
	}
	field_finish(&last, &val);
	return f;
}

struct fields *
fields_parse(const char *text, gsize len, guint max_blocks)
{
	return fields_parse_n(text, len, max_blocks, FALSE);
}

struct fields *
fields_parse_header(const char *text, gsize len)
{
	return fields_parse_n(text, len, 1, TRUE);
}

void
fields_free(struct fields *f)
{
	if (f == NULL)
		return;
	g_ptr_array_free(f->blocks, TRUE);
	g_free(f);
}

const char *
fields_get(const struct fields *f, guint block, const char *name)
{
	GPtrArray *b;
	guint i;

	if (f == NULL || block >= f->blocks->len)
		return NULL;
	b = g_ptr_array_index(f->blocks, block);
	for (i = 0; i < b->len; i++) {
		const struct field *x = g_ptr_array_index(b, i);

		if (g_ascii_strcasecmp(x->name, name) == 0)
			return x->value;
	}
	return NULL;
}
