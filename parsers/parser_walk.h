/*
 * parser_walk.h - the walk over a message's MIME tree and the text of
 * the parts it found (parser_walk.c).
 */
#ifndef REBOUND_PARSER_WALK_H
#define REBOUND_PARSER_WALK_H

#include <gmime/gmime.h>
#include "parsers/mime.h"
#include "parsers/report.h"

#define MAX_DSN_PARTS		8

struct parser;

/* A leaf part: GMime's, or one mime_split() found (then g is NULL). */
struct leaf {
	GMimePart *g;
	const struct mime_part *m;
};

#define LEAF_SET(l)	((l).g != NULL || (l).m != NULL)

/* What one walk found; p and r are set by the caller, the rest zero. */
struct walk {
	struct parser *p;
	struct report *r;		/* gets the walk's anomalies */
	int nparts;
	struct leaf dsn[MAX_DSN_PARTS];	/* some MTAs send one part per recipient */
	int ndsn;
	struct leaf arf;
	struct leaf headers;		/* text/rfc822-headers */
	struct leaf text;		/* first text/plain */
	struct leaf text2;		/* second text/plain: may be the original, sent as text */
	struct leaf html;		/* first text/html */
	gboolean html_first;		/* it came before any text/plain: the notice, the text an attachment */
	GMimeMessage *orig;		/* message/rfc822 (owned by the tree, or see walk_split) */
	gboolean multipart;		/* the body is a multipart */
	gboolean mdn;			/* a message/disposition-notification part (RFC 8098) */
	const char *boundary;		/* its boundary (NUL-terminated), or NULL */
	gsize boundary_len;
};

/*
 * The walk over mime_split()'s parts.  The first enclosed message is
 * read (w->orig, which the caller unrefs) only when have_orig is FALSE.
 */
void walk_split(struct walk *w, const GArray *parts, gboolean have_orig);

/*
 * GMime parses the body (n bytes at body, behind a header made of ct and
 * cte) and the walk reads its tree.  early: where GMime may stop sooner
 * when tok (toklen bytes) is the top-level boundary (raw_gmime_extent()),
 * or 0.  Returns the tree (caller unrefs; NULL when GMime made none) and
 * *st, the stream p->gparser reads (caller resets p->gparser to p->empty
 * and unrefs it).
 */
GMimeObject *walk_gmime(struct parser *p, struct walk *w, const char *ct, const char *cte,
    const char *body, gsize n, gsize early, const char *tok, gsize toklen, GMimeStream **st);

/*
 * Decoded content of a leaf part (at most 256 KiB), converted to UTF-8
 * when its charset is allowed (else *anomalies gets BAD_CHARSET).  New
 * string, or NULL; *outlen its length.
 */
char *walk_part_text(struct parser *p, const struct leaf *l, gsize *outlen,
    guint32 *anomalies);

/* Whether a leaf's content is transfer-encoded (base64, quoted-printable, uuencode). */
gboolean walk_leaf_encoded(const struct leaf *l);

/* Value destructor of struct parser's iconv table. */
void walk_iconv_close(gpointer v);

#endif
