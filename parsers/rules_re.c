/*
 * rules_re.c - the rules' regexes, compiled for PCRE's JIT only once used.
 *
 * A rules file holds a few hundred regexes, and JIT-compiling them all
 * costs more than most of them ever run: the prefilter (rules_int.h)
 * keeps most rules from running on most messages.  So each is compiled
 * for PCRE's interpreter when the rules are loaded (which checks it), and
 * again with its JIT when it runs a second time (RULES_RE_JIT_AFTER; a
 * rule that runs whole only on rare texts waits for RULES_RE_JIT_RARE): a
 * process that parses many messages gets the JIT for the regexes it uses,
 * which match the same strings several times faster (on the corpus a
 * later mark cost more in interpreted matches than it saved in compiles),
 * and one that parses a single message compiles nothing twice.  A match
 * anchored at an anchor of the prefilter (rules_re_anchored) runs the
 * interpreted copy with PCRE2_ANCHORED at match time, which PCRE's JIT
 * does not take: PCRE then reads a few bytes, and neither a JIT compile
 * nor a second compile anchored at compile time pays for those matches.
 * A struct rules may be shared between threads: the counter and the JIT
 * copy are set atomically, and the interpreted copy stays until freed.
 */
#include "parsers/rules_int.h"

struct rules_re *
rules_re_new(const char *pat, GRegexCompileFlags flags, GError **gerr)
{
	GRegex *re = g_regex_new(pat, flags, 0, gerr);
	struct rules_re *x;

	if (re == NULL)
		return NULL;
	x = g_new0(struct rules_re, 1);
	x->re = re;
	x->pat = g_strdup(pat);
	x->flags = flags;
	x->jit_after = RULES_RE_JIT_AFTER;
	return x;
}

void
rules_re_free(struct rules_re *x)
{
	GRegex *jit;

	if (x == NULL)
		return;
	if ((jit = g_atomic_pointer_get(&x->jit)) != NULL)
		g_regex_unref(jit);
	g_regex_unref(x->re);
	g_free(x->pat);
	g_free(x);
}

GRegex *
rules_re_get(struct rules_re *x)
{
	GRegex *jit = g_atomic_pointer_get(&x->jit);

	if (jit != NULL)
		return jit;
	/* Exactly one caller sees the count reach the mark and compiles. */
	if (g_atomic_int_add(&x->uses, 1) == x->jit_after - 1 &&
	    (jit = g_regex_new(x->pat, x->flags | G_REGEX_OPTIMIZE, 0, NULL)) != NULL) {
		g_atomic_pointer_set(&x->jit, jit);
		return jit;
	}
	return x->re;
}

gboolean
rules_re_anchored(const struct rules_re *x, const char *text, gsize n, gsize at)
{
	return g_regex_match_full(x->re, text, n, at, G_REGEX_MATCH_ANCHORED, NULL, NULL);
}
