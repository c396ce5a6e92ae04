/*
 * parser_text_block.h - a notice's text cut into one block per address
 * (parser_text_block.c).
 */
#ifndef REBOUND_PARSER_TEXT_BLOCK_H
#define REBOUND_PARSER_TEXT_BLOCK_H

#include <glib.h>

struct block {
	char *addr;
	GString *text;
	int lines;
	gboolean whole;		/* text is the recipient's whole story (block_sendmail_regroup) */
	gboolean boiler;	/* named on a line of contact boilerplate */
};

/*
 * Split region into per-address blocks, at most max, leaving out the
 * addresses in exclude (lower case); the lines before the first block go
 * to preamble.  known (lower case; NULL or empty: not known) are the
 * recipients the enclosed original names: another address that words of a
 * recipient's paragraph lead up to is then part of that paragraph, not a
 * recipient of its own.  Returns a GPtrArray of struct block (it frees
 * them); addresses past max set REPORT_ANOMALY_TOO_MANY_RCPTS in *anomalies.
 */
GPtrArray *block_scan(const char *region, gsize len, GHashTable *exclude, GHashTable *known,
    GString *preamble, guint max, guint32 *anomalies);

/*
 * A Sendmail transcript's blocks rebuilt from its per-recipient summary
 * lines.  region ends in a NUL.
 */
void block_sendmail_regroup(const char *region, gsize len, GPtrArray *blocks);

#endif
