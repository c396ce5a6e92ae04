/*
 * rx_lits.c - what every match of a rule's regex must contain, read from the
 * pattern text (see rx_lits.h): the rules prefilter's half that knows regex
 * syntax.  rules_load.c indexes what this finds.
 */
#include <string.h>
#include <glib.h>

#include "parsers/rx_lits.h"

/*
 * Walks a regex from p[from], stepping over escapes and [classes], to the
 * ')' that closes the group opening at p[from] (close) or to the first '|'
 * outside any group (!close): its offset, or n when there is none.
 */
static gsize
regex_walk(const char *p, gsize n, gsize from, gboolean close)
{
	gsize i;
	int depth = 0;
	gboolean cls = FALSE;

	for (i = from; i < n; i++) {
		if (p[i] == '\\') {
			i++;
			continue;
		}
		if (cls) {
			if (p[i] == ']')
				cls = FALSE;
			continue;
		}
		if (p[i] == '[')
			cls = TRUE;
		else if (p[i] == '(')
			depth++;
		else if (p[i] == ')') {
			if (--depth == 0 && close)
				return i;
		} else if (p[i] == '|' && depth == 0 && !close)
			return i;
	}
	return n;
}

/* Offset of the ')' closing the group that opens at p[0] == '(', or -1. */
static gssize
group_end(const char *p, gsize n)
{
	gsize e = regex_walk(p, n, 0, TRUE);

	return e < n ? (gssize)e : -1;
}

static gboolean anchors_of(const char *p, gsize n, GPtrArray *out);

/*
 * The literal every match of one alternative starts with, or the anchors
 * of the alternatives of a leading group.  FALSE when there is none of at
 * least 3 bytes (the rule then always runs).
 */
/*
 * Length of the zero-width assertions (^, \b, \B; with behind, also
 * lookbehinds) p[0..n) starts with: a match starts where they end.
 */
static gsize
zero_width_prefix(const char *p, gsize n, gboolean behind)
{
	gsize i = 0;
	gssize e;

	for (;;) {
		if (i < n && p[i] == '^')
			i++;
		else if (i + 1 < n && p[i] == '\\' && (p[i + 1] == 'b' || p[i + 1] == 'B'))
			i += 2;
		else if (behind && i + 3 < n && p[i] == '(' && p[i + 1] == '?' && p[i + 2] == '<' &&
		    (p[i + 3] == '!' || p[i + 3] == '=') && (e = group_end(p + i, n - i)) >= 0 &&
		    (i + (gsize)e + 1 >= n || strchr("?*+{", p[i + e + 1]) == NULL))
			i += (gsize)e + 1;
		else
			return i;
	}
}

static gboolean
branch_anchors(const char *p, gsize n, GPtrArray *out)
{
	GString *lit;
	/* zero-width at the start: ^ and \b */
	gsize i = zero_width_prefix(p, n, FALSE);
	if (i < n && p[i] == '(') {
		gssize e = group_end(p + i, n - i);
		gsize in = i + 1;

		if (e < 0)
			return FALSE;
		/* an optional group does not have to be there */
		if ((gsize)e + i + 1 < n && strchr("?*{", p[i + e + 1]) != NULL)
			return FALSE;
		if (in + 1 < n && p[in] == '?') {
			if (p[in + 1] != ':')
				return FALSE;	/* lookaround, named group: give up */
			in += 2;
		}
		return anchors_of(p + in, i + e - in, out);
	}
	lit = g_string_new(NULL);
	while (i < n) {
		char c = p[i];
		gsize step = 1;

		if (c == '\\') {
			if (i + 1 >= n || g_ascii_isalnum(p[i + 1]))
				break;		/* \d, \s, \w ... */
			c = p[i + 1];
			step = 2;
		} else if (strchr(".[(|)$*+?{", c) != NULL)
			break;
		if (i + step < n && strchr("?*{", p[i + step]) != NULL)
			break;		/* this one may be absent */
		g_string_append_c(lit, g_ascii_tolower(c));
		i += step;
		if (i < n && p[i] == '+')
			break;
	}
	if (lit->len < 3) {
		g_string_free(lit, TRUE);
		return FALSE;
	}
	g_ptr_array_add(out, g_string_free(lit, FALSE));
	return TRUE;
}

/* End of the top-level alternative of p[0..n) that starts at from. */
gsize
rx_alt_end(const char *p, gsize n, gsize from)
{
	return regex_walk(p, n, from, FALSE);
}

void
rx_lit_free(gpointer x)
{
	struct rx_lit *l = x;

	g_free(l->s);
	g_free(l);
}

/* What follows a group, to be read once one of its alternatives is. */
struct rest {
	const char *p;
	gsize n;
	const struct rest *next;
	gboolean stop;		/* the group repeats ("+"): what follows may be more of it */
};

#define MAX_LITS	16	/* literal prefixes of one top-level alternative */

static gboolean
emit(GPtrArray *out, const GString *lit, gboolean whole)
{
	struct rx_lit *l;

	if (lit->len < 3 || out->len >= MAX_LITS)
		return FALSE;
	l = g_new(struct rx_lit, 1);
	l->s = g_strdup(lit->str);
	l->whole = whole;
	g_ptr_array_add(out, l);
	return TRUE;
}

static gboolean expand(const char *p, gsize n, const struct rest *rest, GString *lit,
    gboolean whole, GPtrArray *out);

/*
 * The group opening at p[i] == '(' of p[0..n): every one of its
 * alternatives, then what follows it, each after lit.
 */
static gboolean
expand_group(const char *p, gsize n, gsize i, const struct rest *rest, GString *lit,
    gboolean whole, GPtrArray *out)
{
	gssize e = group_end(p + i, n - i);
	gsize in = i + 1, after, a, b;
	struct rest next;
	char q;

	if (e < 0)
		return emit(out, lit, FALSE);
	if (in < n && p[in] == '?') {
		if (in + 1 >= n || p[in + 1] != ':')
			return emit(out, lit, FALSE);	/* lookaround, named group, flags */
		in += 2;
	}
	after = i + e + 1;
	q = after < n ? p[after] : '\0';
	/* repeated any number of times, or lazy or possessive: the prefix so far is all */
	if (q == '*' || q == '{' || ((q == '?' || q == '+') && after + 1 < n &&
	    (p[after + 1] == '?' || p[after + 1] == '+')))
		return emit(out, lit, FALSE);
	if (q == '?' || q == '+')
		after++;
	next.p = p + after;
	next.n = n - after;
	next.next = rest;
	next.stop = q == '+';
	for (a = in; ; a = b + 1) {
		b = rx_alt_end(p, i + e, a);
		if (!expand(p + a, b - a, &next, lit, whole && q != '+', out))
			return FALSE;
		if (b >= (gsize)(i + e))
			break;
	}
	/* "(...)?": it may also be absent */
	return q != '?' || expand(next.p, next.n, rest, lit, whole, out);
}

/* A byte that ends a literal where it stands unescaped. */
static gboolean
rx_special(char c)
{
	switch (c) {
	case '.': case '[': case '|': case ')': case '$': case '*': case '+': case '?':
	case '{': case '^':
		return TRUE;
	default:
		return FALSE;
	}
}

/*
 * The literal prefixes of every match of p[0..n) followed by rest, each
 * after what lit holds, into out: through groups (one prefix per
 * alternative) and optional parts (with and without), up to the first
 * thing that is not a literal.  lit is one buffer for the whole walk:
 * each call appends to it and cuts it back to what it held before
 * returning.  whole: what was read so far is all literal, so that a prefix
 * reaching the end of the pattern is a whole match.  FALSE when some
 * prefix is shorter than 3 bytes or there would be more than MAX_LITS.
 */
static gboolean
expand(const char *p, gsize n, const struct rest *rest, GString *lit, gboolean whole,
    GPtrArray *out)
{
	gsize base = lit->len;
	gboolean ok;
	gsize i = 0;

	for (;;) {
		char c;
		gsize step = 1;

		if (i == n) {
			if (rest != NULL && !rest->stop)
				ok = expand(rest->p, rest->n, rest->next, lit, whole, out);
			else
				ok = emit(out, lit, whole && rest == NULL);
			break;
		}
		c = p[i];
		if (c == '(') {
			ok = expand_group(p, n, i, rest, lit, whole, out);
			break;
		}
		if (c == '\\') {
			if (i + 1 >= n || g_ascii_isalnum(p[i + 1])) {
				ok = emit(out, lit, FALSE);	/* \d, \s, \b ... */
				break;
			}
			c = p[i + 1];
			step = 2;
		} else if (rx_special(c)) {
			ok = emit(out, lit, FALSE);
			break;
		}
		if (i + step < n && (p[i + step] == '*' || p[i + step] == '{' ||
		    (p[i + step] == '?' && i + step + 1 < n &&
		    (p[i + step + 1] == '?' || p[i + step + 1] == '+')))) {
			ok = emit(out, lit, FALSE);
			break;
		}
		if (i + step < n && p[i + step] == '?') {
			/* an optional character: the prefixes without it, then with it */
			if (!expand(p + i + step + 1, n - i - step - 1, rest, lit, whole, out)) {
				ok = FALSE;
				break;
			}
			g_string_append_c(lit, c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
			i += step + 1;
			continue;
		}
		g_string_append_c(lit, c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
		i += step;
		if (i < n && p[i] == '+') {
			ok = emit(out, lit, FALSE);
			break;
		}
	}
	g_string_truncate(lit, base);
	return ok;
}

/*
 * The prefixes of one top-level alternative: expanded through groups
 * (expand()) when that gives at most MAX_LITS of at least 3 bytes, else
 * the plain one (branch_anchors()).
 */
gboolean
rx_alt_anchors(const char *p, gsize n, gboolean behind, GPtrArray *out)
{
	GPtrArray *tmp = g_ptr_array_new_with_free_func(rx_lit_free);
	GPtrArray *plain;
	GString *empty = g_string_new(NULL);
	/* zero-width at the start (^, \b): the literal is no whole match then */
	gsize i = zero_width_prefix(p, n, behind);
	/* what branch_anchors() reads: past lookbehinds, which it does not know */
	gsize b = behind ? i : 0;
	guint j;
	gboolean ok;

	if (expand(p + i, n - i, NULL, empty, i == 0, tmp)) {
		for (j = 0; j < tmp->len; j++)
			g_ptr_array_add(out, g_ptr_array_index(tmp, j));
		g_ptr_array_set_free_func(tmp, NULL);
		ok = TRUE;
	} else {
		plain = g_ptr_array_new_with_free_func(g_free);
		ok = branch_anchors(p + b, n - b, plain);
		for (j = 0; ok && j < plain->len; j++) {
			struct rx_lit *l = g_new(struct rx_lit, 1);

			l->s = g_strdup(g_ptr_array_index(plain, j));
			l->whole = FALSE;
			g_ptr_array_add(out, l);
		}
		g_ptr_array_free(plain, TRUE);
	}
	g_ptr_array_free(tmp, TRUE);
	g_string_free(empty, TRUE);
	return ok;
}

/* Anchors of every top-level alternative of p[0..n). */
static gboolean
anchors_of(const char *p, gsize n, GPtrArray *out)
{
	gsize i, start = 0;
	int depth = 0;
	gboolean cls = FALSE;

	for (i = 0; i <= n; i++) {
		if (i < n && p[i] == '\\') {
			i++;
			continue;
		}
		if (i < n && cls) {
			if (p[i] == ']')
				cls = FALSE;
			continue;
		}
		if (i < n && p[i] == '[')
			cls = TRUE;
		else if (i < n && p[i] == '(')
			depth++;
		else if (i < n && p[i] == ')')
			depth--;
		else if (i == n || (p[i] == '|' && depth == 0)) {
			if (!branch_anchors(p + start, i - start, out))
				return FALSE;
			start = i + 1;
		}
	}
	return TRUE;
}

/*
 * Offset just past the [class] opening at p[i] == '[' of p[0..n), or n.
 * A ']' first (after an optional '^') is a member, not the end.
 */
static gsize
class_end(const char *p, gsize n, gsize i)
{
	i++;
	if (i < n && p[i] == '^')
		i++;
	if (i < n && p[i] == ']')
		i++;
	for (; i < n && p[i] != ']'; i++)
		if (p[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

/* Offset just past the quantifier (with its lazy or possessive mark) at p[i], if any. */
static gsize
skip_quantifier(const char *p, gsize n, gsize i)
{
	if (i < n && p[i] == '{') {
		while (i < n && p[i] != '}')
			i++;
		i = i < n ? i + 1 : n;
	} else if (i < n && (p[i] == '*' || p[i] == '+' || p[i] == '?'))
		i++;
	else
		return i;
	if (i < n && (p[i] == '?' || p[i] == '+'))
		i++;
	return i;
}

/*
 * The longest literal run (lower case) every match of the alternative
 * p[0..n) contains, read at its top level only (groups, classes and
 * anything quantified end a run; groups are not looked into).  NULL when
 * there is none, or the pattern uses something this reading does not
 * know (an escape with an argument, \Q, options).  ASCII only: a
 * non-ASCII character may match an ASCII one caselessly (KELVIN SIGN and
 * "k"), so it ends a run too.
 */
static char *
required_lit(const char *p, gsize n)
{
	GString *cur = g_string_new(NULL), *best = g_string_new(NULL);
	gsize i = 0;
	gboolean ok = TRUE;

	while (i < n && ok) {
		char c = p[i];
		gsize next = i + 1;
		gboolean lit = FALSE;

		if (c == '\\') {
			if (i + 1 >= n)
				ok = FALSE;
			else if (g_ascii_isalnum(p[i + 1])) {
				/* zero-width or a class: a run ends; any other escape: give up */
				if (strchr("bBdDsSwWhHvVRAzZ", p[i + 1]) == NULL)
					ok = FALSE;
				next = i + 2;
			} else {
				c = p[i + 1];
				next = i + 2;
				lit = (guchar)c < 0x80;
			}
		} else if (c == '(') {
			gssize e;

			if (i + 1 < n && (p[i + 1] == '*' || (p[i + 1] == '?' && (i + 2 >= n ||
			    strchr(":!=<", p[i + 2]) == NULL)))) {
				ok = FALSE;	/* a verb, options, a named group... */
				break;
			}
			if ((e = group_end(p + i, n - i)) < 0) {
				ok = FALSE;
				break;
			}
			next = i + e + 1;
		} else if (c == '[')
			next = class_end(p, n, i);
		else if (c == ')' || c == '|')
			ok = FALSE;
		else if (strchr(".^${*+?", c) == NULL && (guchar)c < 0x80)
			lit = TRUE;
		if (!ok)
			break;
		if (lit && next < n && (p[next] == '?' || p[next] == '*' || p[next] == '{'))
			lit = FALSE;	/* may be absent */
		if (lit) {
			g_string_append_c(cur, g_ascii_tolower(c));
			if (next < n && p[next] == '+') {
				/* repeated: what follows is not next to it */
				if (cur->len > best->len)
					g_string_assign(best, cur->str);
				g_string_truncate(cur, 0);
			}
		} else {
			if (cur->len > best->len)
				g_string_assign(best, cur->str);
			g_string_truncate(cur, 0);
		}
		i = skip_quantifier(p, n, next);
	}
	if (cur->len > best->len)
		g_string_assign(best, cur->str);
	g_string_free(cur, TRUE);
	if (!ok || best->len == 0) {
		g_string_free(best, TRUE);
		return NULL;
	}
	return g_string_free(best, FALSE);
}

/*
 * One literal per top-level alternative of pat, one of which every match
 * contains (required_lit()): a text holding none of them cannot match.
 * NULL when some alternative has none.
 */
char **
rx_required_lits(const char *pat)
{
	GPtrArray *out = g_ptr_array_new();
	gsize n = strlen(pat), from, to;

	/* \Q...\E quotes, and "[]" or "[^]" start a class that rx_alt_end() misreads */
	if (strstr(pat, "\\Q") != NULL || strstr(pat, "\\E") != NULL || strstr(pat, "[]") != NULL ||
	    strstr(pat, "[^]") != NULL) {
		g_ptr_array_free(out, TRUE);
		return NULL;
	}
	for (from = 0; ; from = to + 1) {
		char *l;

		to = rx_alt_end(pat, n, from);
		if ((l = required_lit(pat + from, to - from)) == NULL) {
			g_ptr_array_set_free_func(out, g_free);
			g_ptr_array_free(out, TRUE);
			return NULL;
		}
		g_ptr_array_add(out, l);
		if (to >= n)
			break;
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}
