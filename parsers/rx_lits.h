/*
 * rx_lits.h - literals a regex's matches must contain, for the rules
 * prefilter: a rule whose literals are absent from a text cannot match it,
 * so its GRegex never runs there.  Patterns are read at their top level as
 * PCRE reads them; anything this reading does not know gives "none" (the
 * rule then always runs), never a wrong literal.  Literals are lower case.
 */
#ifndef REBOUND_RX_LITS_H
#define REBOUND_RX_LITS_H

#include <glib.h>

/* A literal every match of one alternative starts with; whole: the literal
 * is the whole match. */
struct rx_lit {
	char *s;
	gboolean whole;
};

void rx_lit_free(gpointer lit);

/* End of the top-level alternative of p[0..n) that starts at from (n when
 * it is the last). */
gsize rx_alt_end(const char *p, gsize n, gsize from);

/*
 * Append to out (of struct rx_lit, freed with rx_lit_free) the prefixes one
 * of which every match of the alternative p[0..n) starts with.  FALSE when
 * there are none of at least 3 bytes.  behind: read past lookbehinds at
 * its start, (?<!x) and (?<=x), as past \b (a match starts after them).
 */
gboolean rx_alt_anchors(const char *p, gsize n, gboolean behind, GPtrArray *out);

/*
 * One literal per top-level alternative of pat, one of which every match
 * contains: NULL-terminated (g_strfreev), or NULL when some alternative has
 * none.
 */
char **rx_required_lits(const char *pat);

#endif
