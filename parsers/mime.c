/*
 * mime.c - split a well-formed report's body into its parts (see mime.h).
 *
 * Boundary lines are recognised as GMime 3 recognises them: a line that
 * starts with "--" and the boundary of one of the open multiparts, the
 * innermost first, then only linear white space; "--B--" closes.  A part's
 * content ends before the line end that precedes its closing boundary line.
 * What GMime would resolve in ways that depend on its internals is not
 * guessed at: mime_split() says FALSE and the caller lets GMime parse.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/mime.h"

#define MAX_STACK	64	/* open multiparts; the caller's max_depth is lower */
#define MAX_CTE		32	/* a longer Content-Transfer-Encoding value is not plain */

enum { B_ERROR = -1, B_NONE, B_OPEN, B_CLOSE };

struct hit {
	int kind;		/* B_NONE: the end of the body */
	int level;		/* index into the boundary stack */
	const char *ls;		/* the boundary line */
	const char *next;	/* just past its line end */
	int eol;		/* its line end: 1 (LF) or 2 (CRLF) */
};

struct split {
	const char *end;
	const char *bnd[MAX_STACK];
	gsize blen[MAX_STACK];
	int nb;
	GArray *out;
	int nparts, max_parts, max_depth;
};

/* RFC 2045 token characters: printable ASCII but space and tspecials. */
static gboolean
is_tok(guchar c)
{
	/* the tspecials, all between '!' and '_', one bit each: a parameter's every byte is tested */
#define BIT(c)	(1ull << ((c) - 32))
	static const guint64 tspecials = BIT('(') | BIT(')') | BIT('<') | BIT('>') | BIT('@') |
	    BIT(',') | BIT(';') | BIT(':') | BIT('\\') | BIT('"') | BIT('/') | BIT('[') | BIT(']') |
	    BIT('?') | BIT('=');
#undef BIT

	return c > 32 && c < 127 && (c >= 96 || !(tspecials >> (c - 32) & 1));
}

static const char *
skip_ws(const char *s, const char *e)
{
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	return s;
}

static gboolean
tok_is(const char *s, gsize n, const char *lit)
{
	return strlen(lit) == n && g_ascii_strncasecmp(s, lit, n) == 0;
}

/*
 * A parameter's value after its '=' at s: a quoted string or a token.
 * Returns where it ends, or NULL when it is empty or not plain (escapes,
 * 8-bit bytes, controls, an encoded word, no closing quote).
 */
static const char *
param_value(const char *s, const char *e, const char **v, gsize *vl)
{
	s = skip_ws(s, e);
	if (s < e && *s == '"') {
		for (*v = ++s; s < e && *s != '"'; s++)
			if (*s == '\\' || (guchar)*s < 32 || (guchar)*s > 126 ||
			    (*s == '=' && s + 1 < e && s[1] == '?'))
				return NULL;
		if (s == e)
			return NULL;
		*vl = s++ - *v;
	} else {
		for (*v = s; s < e && is_tok(*s); s++)
			;
		*vl = s - *v;
	}
	return *vl > 0 ? s : NULL;
}

/*
 * "type/subtype" and "; name=value" parameters, of which charset and
 * boundary are kept.  FALSE for anything GMime would have to interpret:
 * comments, RFC 2231 names, encoded words, escapes, 8-bit bytes, repeated
 * or empty values.  Two broken shapes seen in real bounces are read as
 * GMime reads them: what follows the subtype before the first ';'
 * ("text/plain charset=x") is skipped, and a parameter without '=' ("; Content-
 * Transfer-Encoding: 8bit") ends the list, the ones before it kept.
 */
static gboolean
ct_parse(const char *s, const char *e, struct mime_part *m)
{
	const char *t;

	s = skip_ws(s, e);
	for (t = s; s < e && is_tok(*s); s++)
		;
	if (s == t || s == e || *s != '/')
		return FALSE;
	m->type = t;
	m->type_len = s - t;
	for (t = ++s; s < e && is_tok(*s); s++)
		;
	if (s == t)
		return FALSE;
	m->sub = t;
	m->sub_len = s - t;
	s = skip_ws(s, e);
	if (s < e && *s != ';') {
		/* GMime skips what follows the subtype up to a ';' (one in quotes: not plain) */
		gboolean quote = FALSE;

		for (; s < e && *s != ';'; s++)
			if (*s == '"' || *s == '(' || *s == '\\')
				quote = TRUE;
			else if ((guchar)*s >= 127 ||
			    ((guchar)*s < 32 && *s != '\t' && *s != '\r' && *s != '\n'))
				return FALSE;
		if (s == e)
			return TRUE;
		if (quote)
			return FALSE;
	}
	for (;;) {
		const char *name, *v;
		gsize nl, vl;

		s = skip_ws(s, e);
		if (s == e)
			return TRUE;
		if (*s != ';')
			return FALSE;
		if ((s = skip_ws(s + 1, e)) == e)
			return TRUE;
		for (name = s; s < e && is_tok(*s) && *s != '*'; s++)
			;
		if ((nl = s - name) == 0)
			return FALSE;
		/* a name GMime would read on (8-bit bytes, controls, RFC 2231's '*') */
		if (s < e && ((guchar)*s >= 127 || (guchar)*s < 32 || *s == '*') &&
		    *s != '\t' && *s != '\r' && *s != '\n')
			return FALSE;
		s = skip_ws(s, e);
		if (s == e || *s != '=')
			return s == e || ((guchar)*s < 127 && (guchar)*s >= 32);
		if ((s = param_value(s + 1, e, &v, &vl)) == NULL)
			return FALSE;
		if (tok_is(name, nl, "charset")) {
			if (m->charset != NULL)
				return FALSE;
			m->charset = v;
			m->charset_len = vl;
		} else if (tok_is(name, nl, "boundary")) {
			if (m->boundary != NULL)
				return FALSE;
			m->boundary = v;
			m->boundary_len = vl;
		}
	}
}

/* A Content-Transfer-Encoding value as GMime reads it; -1 when it is not plain. */
static int
cte_parse(const char *s, const char *e)
{
	char v[MAX_CTE];

	s = skip_ws(s, e);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (e - s >= MAX_CTE)
		return -1;
	for (const char *q = s; q < e; q++)
		if (!is_tok(*q))
			return -1;
	memcpy(v, s, e - s);
	v[e - s] = '\0';
	return g_mime_content_encoding_from_string(v);
}

/*
 * Which open boundary the line [ls, le) is (le before any '\r' and the
 * '\n'), the innermost first: *level and B_OPEN or B_CLOSE, or B_NONE.
 */
static int
line_boundary(const struct split *s, const char *ls, const char *le, int *level)
{
	int i;

	for (i = s->nb - 1; i >= 0; i--) {
		gsize n = s->blen[i];
		const char *q;
		int kind;

		if ((gsize)(le - ls) < 2 + n || memcmp(ls + 2, s->bnd[i], n) != 0)
			continue;
		q = ls + 2 + n;
		kind = B_OPEN;
		if (le - q >= 2 && q[0] == '-' && q[1] == '-') {
			q += 2;
			kind = B_CLOSE;
		}
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q == le) {
			*level = i;
			return kind;
		}
		/* "--B--x" is no close; GMime then tries "--B" + "--x": not blank either */
	}
	return B_NONE;
}

/* The first boundary line of any open level at or after p. */
static struct hit
next_boundary(const struct split *s, const char *p)
{
	struct hit h = { B_NONE, 0, s->end, s->end, 0 };
	const char *nl, *le;

	for (; p < s->end; p = nl + 1) {
		nl = memchr(p, '\n', s->end - p);
		le = nl != NULL ? nl : s->end;
		if (le - p >= 2 && p[0] == '-' && p[1] == '-') {
			const char *e = le > p && le[-1] == '\r' ? le - 1 : le;
			int lv, k = line_boundary(s, p, e, &lv);

			if (k != B_NONE) {
				if (nl == NULL) {
					/* a boundary line without a line end: not the plain kind */
					h.kind = B_ERROR;
					return h;
				}
				h.kind = k;
				h.level = lv;
				h.ls = p;
				h.next = nl + 1;
				h.eol = e < le ? 2 : 1;
				return h;
			}
		}
		if (nl == NULL)
			break;
	}
	return h;
}

/*
 * A part's header at p: its Content-Type and Content-Transfer-Encoding
 * value extents and where its content starts (past the empty line).
 * FALSE unless every line is a "Name: value" field or a continuation and
 * an empty line ends it.
 */
static gboolean
part_header(const struct split *s, const char *p, const char **ct, const char **cte_s,
    const char **cte_e, const char **ct_e, const char **content)
{
	const char *nl, *le, **cur_e = NULL;
	const char *dummy;

	*ct = *ct_e = *cte_s = *cte_e = NULL;
	for (; p < s->end; p = nl + 1) {
		const char *q;

		if ((nl = memchr(p, '\n', s->end - p)) == NULL)
			return FALSE;
		le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (le == p) {
			*content = nl + 1;
			return TRUE;
		}
		if (*p == '-' && le - p >= 2 && p[1] == '-')
			return FALSE;
		if (*p == ' ' || *p == '\t') {
			/* a line of white space: GMime's reading of it is not pinned here */
			for (q = p; q < le && (*q == ' ' || *q == '\t'); q++)
				;
			if (cur_e == NULL || q == le)
				return FALSE;
			*cur_e = le;
			continue;
		}
		/*
		 * A field name is printable ASCII up to the colon.  GMime drops a
		 * line without a colon that could be a name (what folds under it
		 * is not plain); a space, a control or an 8-bit byte may end its
		 * header instead: not plain.
		 */
		for (q = p; q < le && *q != ':'; q++)
			if ((guchar)*q <= 32 || (guchar)*q >= 127)
				return FALSE;
		if (q == le) {
			cur_e = NULL;
			continue;
		}
		if (q == p)
			return FALSE;
		cur_e = &dummy;
		if (tok_is(p, q - p, "Content-Type")) {
			if (*ct != NULL)
				return FALSE;
			*ct = q + 1;
			cur_e = ct_e;
		} else if (tok_is(p, q - p, "Content-Transfer-Encoding")) {
			if (*cte_s != NULL)
				return FALSE;
			*cte_s = q + 1;
			cur_e = cte_e;
		}
		*cur_e = le;
	}
	return FALSE;
}

/* Would a line ever match two open boundaries?  Then GMime's order decides: not plain. */
static gboolean
boundary_clash(const struct split *s, const char *b, gsize n)
{
	int i;

	for (i = 0; i < s->nb; i++) {
		gsize k = MIN(n, s->blen[i]);

		if (memcmp(b, s->bnd[i], k) == 0)
			return TRUE;
	}
	return FALSE;
}

static struct mime_part *
add_part(struct split *s, const struct mime_part *m)
{
	g_array_append_vals(s->out, m, 1);
	return &g_array_index(s->out, struct mime_part, s->out->len - 1);
}

/* The node a part's media type makes in GMime's tree. */
static enum mime_node
node_of(const struct mime_part *m)
{
	if (tok_is(m->type, m->type_len, "multipart"))
		return MIME_MULTIPART;
	if (tok_is(m->type, m->type_len, "message") &&
	    (tok_is(m->sub, m->sub_len, "rfc822") || tok_is(m->sub, m->sub_len, "global") ||
	    tok_is(m->sub, m->sub_len, "news") || tok_is(m->sub, m->sub_len, "rfc2822")))
		return MIME_MESSAGE;
	return MIME_LEAF;
}

static struct hit split_multipart(struct split *s, const char *p, int depth);

/*
 * GMime parses an enclosed message's own parts, nested as deep as they go,
 * while it looks for our boundaries: a boundary declared anywhere in it
 * that one of ours is a prefix of (or it of one of ours) would make GMime
 * read a line as the inner one where this splitter reads it as ours.  So
 * every "boundary" parameter in [h, h + n) is checked (a memchr walk over
 * 'b' and 'B', once per enclosed message that raw_gmime_extent() did not cut
 * off).  FALSE on a clash, or on one not read here (RFC 2231, escapes).
 */
static gboolean
enclosed_plain(const struct split *s, const char *h, gsize n)
{
	const char *e = h + n, *p, *v;
	gsize vl;
	char c;

	for (c = 'b'; c >= 'B'; c -= 'b' - 'B')
		for (p = h; p < e && (p = memchr(p, c, e - p)) != NULL; p++) {
			const char *q = p + 8;

			if (e - p < 8 || g_ascii_strncasecmp(p, "boundary", 8) != 0)
				continue;
			while (q < e && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
				q++;
			if (q < e && *q == '*')
				return FALSE;
			if (q == e || *q != '=')
				continue;
			if (param_value(q + 1, e, &v, &vl) == NULL || boundary_clash(s, v, vl))
				return FALSE;
		}
	return TRUE;
}

/*
 * The content of a leaf or enclosed message starting at cs, up to the next
 * boundary line h (or the end).  FALSE when the line end before the
 * boundary line is not the boundary line's own kind: GMime drops as many
 * bytes as the boundary line's end has.
 */
static gboolean
leaf_content(const struct split *s, struct mime_part *m, const char *cs, const struct hit *h)
{
	const char *ce = h->kind == B_NONE ? s->end : h->ls;

	if (h->kind != B_NONE && ce > cs) {
		int prev = ce - 1 > cs && ce[-2] == '\r' ? 2 : 1;

		if (ce[-1] != '\n' || prev != h->eol)
			return FALSE;
		ce -= prev;
		m->content_eol = prev;
	}
	m->content = cs;
	m->content_len = ce - cs;
	if (m->node == MIME_MESSAGE) {
		const char *nl, *p;

		/* GMime makes no message when the content starts with the boundary line or ends */
		m->has_message = h->kind == B_NONE ? cs < s->end : h->ls != cs;
		m->header_len = m->content_len;
		for (p = cs; p < ce && (nl = memchr(p, '\n', ce - p)) != NULL; p = nl + 1)
			if (nl == p || (nl == p + 1 && *p == '\r')) {
				m->header_len = nl + 1 - cs;
				break;
			}
		if (m->has_message)
			return enclosed_plain(s, cs, m->content_len);
	}
	return TRUE;
}

/*
 * One part at p (just past a boundary line of the innermost multipart);
 * the boundary line after it, as split_multipart() returns it.
 */
static struct hit
split_part(struct split *s, const char *p, int depth)
{
	struct hit err = { B_ERROR, 0, NULL, NULL, 0 }, h;
	const char *ct, *ct_e, *cte_s, *cte_e, *cs;
	struct mime_part m = { 0 };

	if (++s->nparts > s->max_parts || depth > s->max_depth)
		return err;
	if (!part_header(s, p, &ct, &cte_s, &cte_e, &ct_e, &cs))
		return err;
	if (ct == NULL) {
		/* GMime's default; a digest's parts default to message/rfc822 */
		m.type = "text";
		m.type_len = 4;
		m.sub = "plain";
		m.sub_len = 5;
	} else if (!ct_parse(ct, ct_e, &m))
		return err;
	m.encoding = GMIME_CONTENT_ENCODING_DEFAULT;
	if (cte_s != NULL && (m.encoding = cte_parse(cte_s, cte_e)) < 0)
		return err;
	m.node = node_of(&m);
	m.depth = depth;
	if (m.node == MIME_MULTIPART && m.boundary == NULL) {
		/* GMime reads it all as preamble, up to a boundary of an outer level */
		add_part(s, &m);
		return next_boundary(s, cs);
	}
	if (m.node == MIME_MULTIPART) {
		if (boundary_clash(s, m.boundary, m.boundary_len) ||
		    s->nb >= MAX_STACK || tok_is(m.sub, m.sub_len, "digest"))
			return err;
		add_part(s, &m);
		s->bnd[s->nb] = m.boundary;
		s->blen[s->nb] = m.boundary_len;
		s->nb++;
		h = split_multipart(s, cs, depth);
		s->nb--;
		return h;
	}
	if (m.node == MIME_MESSAGE && m.encoding != GMIME_CONTENT_ENCODING_DEFAULT &&
	    m.encoding != GMIME_CONTENT_ENCODING_7BIT && m.encoding != GMIME_CONTENT_ENCODING_8BIT &&
	    m.encoding != GMIME_CONTENT_ENCODING_BINARY)
		return err;
	h = next_boundary(s, cs);
	if (h.kind == B_ERROR || !leaf_content(s, &m, cs, &h))
		return err;
	add_part(s, &m);
	return h;
}

/*
 * The parts of the multipart whose boundary is the innermost open one,
 * from its content at p.  Returns what ended it for its parent: a
 * boundary line of an outer level, B_NONE at the end, or B_ERROR when it
 * is not plain (no part before its closing line, parts cut short by an
 * outer boundary).
 */
static struct hit
split_multipart(struct split *s, const char *p, int depth)
{
	struct hit err = { B_ERROR, 0, NULL, NULL, 0 }, h;
	int me = s->nb - 1;

	h = next_boundary(s, p);		/* the preamble ends at the first */
	if (h.kind == B_NONE || h.kind == B_ERROR)
		return h;
	if (h.level != me || h.kind != B_OPEN)
		return err;
	while (h.kind == B_OPEN && h.level == me) {
		h = split_part(s, h.next, depth + 1);
		if (h.kind == B_NONE || h.kind == B_ERROR)
			return h;
	}
	/* a boundary of an outer level ends this multipart unclosed, as in GMime */
	if (h.level != me)
		return h;
	/* closed: the epilogue runs to a boundary of an outer level, ours no longer one */
	s->nb--;
	h = next_boundary(s, h.next);
	s->nb++;
	return h;
}

gboolean
mime_split(const char *ct, const char *cte, const char *body, gsize len,
    int max_parts, int max_depth, GArray *out)
{
	struct split s;
	struct mime_part m = { 0 };
	struct hit h;

	g_array_set_size(out, 0);
	memset(&s, 0, sizeof(s));
	s.end = body + len;
	s.out = out;
	s.max_parts = max_parts;
	s.max_depth = max_depth;
	s.nparts = 1;
	if (ct == NULL) {
		m.type = "text";
		m.type_len = 4;
		m.sub = "plain";
		m.sub_len = 5;
	} else if (!ct_parse(ct, ct + strlen(ct), &m))
		return FALSE;
	m.encoding = GMIME_CONTENT_ENCODING_DEFAULT;
	if (cte != NULL && (m.encoding = cte_parse(cte, cte + strlen(cte))) < 0)
		return FALSE;
	m.node = node_of(&m);
	if (m.node == MIME_MESSAGE)
		return FALSE;
	if (m.node == MIME_LEAF) {
		m.content = body;
		m.content_len = len;
		add_part(&s, &m);
		return TRUE;
	}
	if (m.boundary == NULL) {
		/* GMime reads it all as preamble */
		add_part(&s, &m);
		return TRUE;
	}
	if (tok_is(m.sub, m.sub_len, "digest") ||
	    (m.encoding != GMIME_CONTENT_ENCODING_DEFAULT &&
	    m.encoding != GMIME_CONTENT_ENCODING_7BIT &&
	    m.encoding != GMIME_CONTENT_ENCODING_8BIT &&
	    m.encoding != GMIME_CONTENT_ENCODING_BINARY))
		return FALSE;
	add_part(&s, &m);
	s.bnd[0] = m.boundary;
	s.blen[0] = m.boundary_len;
	s.nb = 1;
	h = split_multipart(&s, body, 0);
	if (h.kind != B_NONE) {
		g_array_set_size(out, 0);
		return FALSE;
	}
	return TRUE;
}
