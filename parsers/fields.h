/*
 * fields.h - "Name: value" blocks as in message/delivery-status,
 * message/feedback-report and text/rfc822-headers.
 *
 * fields_parse() splits text into blocks at blank lines and each block into
 * fields, unfolding continuation lines; LF, CRLF and bare CR all end lines.
 * The result owns its strings (fields_free).  Values are trimmed.
 */
#ifndef REBOUND_FIELDS_H
#define REBOUND_FIELDS_H

#include <glib.h>

struct field {
	char *name;
	char *value;
	gsize namelen;
};

struct fields {
	GPtrArray *blocks;	/* GPtrArray of struct field * */
	/* where the fields are kept: a few large allocations, not one per field */
	GSList *chunks;
	char *at, *end;		/* free space in the newest chunk */
};

struct fields *fields_parse(const char *text, gsize len, guint max_blocks);
/*
 * Only the first block (a header section), stopping at its blank line.
 * Trace and signature fields (Received, DKIM-Signature, ARC-*, ...) are
 * not kept: nothing reads them and they are most of a header.
 */
struct fields *fields_parse_header(const char *text, gsize len);
void fields_free(struct fields *f);
/* First value of name (case-insensitive) in block i, or NULL.  Not a copy. */
const char *fields_get(const struct fields *f, guint block, const char *name);

#endif
