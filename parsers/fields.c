/* fields.c - see fields.h. */
#include <string.h>
#include <glib.h>

#include "parsers/fields.h"
#include "parsers/scan.h"

/*
 * Header fields no parser reads that make up most of a header block: trace
 * and signature lines.  fields_parse_header() does not keep them.
 */
static gboolean
bulky(const char *name, gsize n)
{
#define NAME(s)	{ s, sizeof(s) - 1 }
	static const struct { const char *s; gsize n; } names[] = { NAME("Received"),
		NAME("DKIM-Signature"), NAME("X-Received"), NAME("ARC-Seal"),
		NAME("ARC-Message-Signature"), NAME("ARC-Authentication-Results"),
		NAME("X-Google-DKIM-Signature"), NAME("X-Gm-Message-State"),
		NAME("X-Google-Smtp-Source"), NAME("Received-SPF"),
		NAME("X-MS-Exchange-Organization-Network-Message-Id") };
#undef NAME
	gsize i;

	/* each starts with A, D, R or X: most other names are turned away by that */
	if (n == 0)
		return FALSE;
	switch (name[0] | 0x20) {
	case 'a': case 'd': case 'r': case 'x':
		break;
	default:
		return FALSE;
	}
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (names[i].n == n && ascii_eq_ci(name, names[i].s, n))
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

	if (!((n == 15 && ascii_eq_ci(name, "Final-Recipient", 15)) ||
	    (n == 18 && ascii_eq_ci(name, "Original-Recipient", 18))))
		return FALSE;
	for (i = 0; i < cur->len; i++) {
		const struct field *x = g_ptr_array_index(cur, i);

		if (x->namelen == n && ascii_eq_ci(x->name, name, n))
			return TRUE;
	}
	return FALSE;
}

/* Length of the line at p; *next: the start of the line after it. */
static gsize
line_at(const char *p, const char *end, const char **next)
{
	/* a bare CR ends a line too: the first CR or LF decides */
	const char *e = scan_eol(p, end);

	if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
		*next = e + 2;
	else
		*next = e < end ? e + 1 : e;
	return e - p;
}

/* "Name:" with no space in the name: a line that starts a field. */
static const char *
field_colon(const char *p, gsize n)
{
	/* the first colon or space, sixteen bytes at a time: a space first is no name */
	const char *e = scan_either(p, p + n, ':', ' ');

	return e > p && e < p + n && *e == ':' ? e : NULL;
}

/* The last line measured past a field, so that it is not measured twice. */
struct line_memo {
	const char *p, *next;
	gsize n;
};

/*
 * The lines that belong to the field starting at p (the line *next
 * follows it): indented ones, and broken folds (a line that starts no
 * field).  A blank line ends it.  *next moves past them; returns how many
 * bytes their text adds to the value, a space before each.  memo: the
 * line that ended them.
 */
static gsize
field_continuation(const char *end, const char **next, struct line_memo *memo)
{
	const char *q = *next, *e;
	gsize add = 0, n;

	while (q < end) {
		n = line_at(q, end, &e);
		if (blank(q, n) || (*q != ' ' && *q != '\t' && field_colon(q, n) != NULL)) {
			memo->p = q;
			memo->n = n;
			memo->next = e;
			break;
		}
		add += 1 + n;
		q = e;
	}
	*next = q;
	return add;
}

/*
 * Under glibc's largest cached size: a larger request would first
 * consolidate the fast bins, which costs more than the mallocs saved.
 */
#define CHUNK	1000

/* n bytes (pointer-aligned) kept by f until fields_free(). */
static void *
fields_alloc(struct fields *f, gsize n)
{
	void *x;

	n = (n + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	if ((gsize)(f->end - f->at) < n) {
		gsize size = MAX(n, CHUNK);

		f->at = g_malloc(size);
		f->end = f->at + size;
		f->chunks = g_slist_prepend(f->chunks, f->at);
	}
	x = f->at;
	f->at += n;
	return x;
}

/*
 * The struct, its name and its value (the field's lines joined by
 * spaces, trimmed as g_strstrip() would) side by side in f's chunks.
 */
static struct field *
field_new(struct fields *f, const char *p, gsize n, const char *colon, const char *cont,
    const char *cont_end, gsize add)
{
	gsize nl = colon - p, vl = n - (colon + 1 - p);
	struct field *x = fields_alloc(f, sizeof(*x) + nl + 1 + vl + add + 1);
	char *w, *v;

	x->name = (char *)(x + 1);
	memcpy(x->name, p, nl);
	x->name[nl] = '\0';
	x->namelen = strnlen(x->name, nl);	/* a NUL in the name ends it, as for strcasecmp */
	v = w = x->name + nl + 1;
	memcpy(w, colon + 1, vl);
	w += vl;
	while (cont < cont_end) {
		const char *e;
		gsize k = line_at(cont, cont_end, &e);

		*w++ = ' ';
		memcpy(w, cont, k);
		w += k;
		cont = e;
	}
	while (v < w && g_ascii_isspace(*v))
		v++;
	while (w > v && g_ascii_isspace(w[-1]))
		w--;
	*w = '\0';
	x->value = v;
	return x;
}

static struct fields *
fields_parse_n(const char *text, gsize len, guint max_blocks, gboolean header)
{
	struct fields *f = g_new0(struct fields, 1);
	const char *p = text, *end = text + len;
	GPtrArray *cur = NULL;
	struct line_memo memo = { NULL, NULL, 0 };

	f->blocks = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	while (p < end) {
		const char *e, *colon, *cont;
		gsize n, add;

		if (p == memo.p) {
			n = memo.n;
			e = memo.next;
		} else
			n = line_at(p, end, &e);
		if (blank(p, n)) {
			if (cur != NULL) {
				cur = NULL;
				if (f->blocks->len >= max_blocks)
					break;
			}
			p = e;
			continue;
		}
		/* Not a field's first line, and not one of a field's lines: dropped. */
		if ((colon = field_colon(p, n)) == NULL) {
			p = e;
			continue;
		}
		if (cur != NULL && repeats_recipient(cur, p, colon - p)) {
			/* per-recipient blocks run together without a blank line */
			cur = NULL;
			if (f->blocks->len >= max_blocks)
				break;
		}
		if (cur == NULL) {
			cur = g_ptr_array_new_full(16, NULL);
			g_ptr_array_add(f->blocks, cur);
		}
		cont = e;
		add = field_continuation(end, &e, &memo);
		if (!header || !bulky(p, colon - p))
			g_ptr_array_add(cur, field_new(f, p, n, colon, cont, e, add));
		p = e;
	}
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
	g_slist_free_full(f->chunks, g_free);
	g_free(f);
}

const char *
fields_get(const struct fields *f, guint block, const char *name)
{
	GPtrArray *b;
	guint i;
	gsize n;

	if (f == NULL || block >= f->blocks->len)
		return NULL;
	b = g_ptr_array_index(f->blocks, block);
	/* most names differ in length or first letters: compared inline */
	n = strlen(name);
	for (i = 0; i < b->len; i++) {
		const struct field *x = g_ptr_array_index(b, i);

		if (x->namelen == n && ascii_eq_ci(x->name, name, n))
			return x->value;
	}
	return NULL;
}
