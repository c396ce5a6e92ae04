/*
 * parser_orig.h - the enclosed original's header (parser_orig.c).
 */
#ifndef REBOUND_PARSER_ORIG_H
#define REBOUND_PARSER_ORIG_H

#include <gmime/gmime.h>
#include "parsers/fields.h"

struct parse_ctx;
struct parser;

/* Fill the report's orig_* and correlation from a GMime message, where not yet set. */
void orig_from_message(struct parse_ctx *c, GMimeObject *o);
/* The same from a header block (fields_parse_header). */
void orig_from_fields(struct parse_ctx *c, const struct fields *f);
/*
 * A header value of the original as a person reads it: valid UTF-8, RFC
 * 2047 words decoded once hostile ones are defused (sanitize_words, which
 * may set *anomalies).  New string, or NULL when v is.
 */
char *orig_header_text(struct parser *p, const char *v, guint32 *anomalies);
/*
 * Where a text part holding the original begins: its header, after blank
 * lines and at most one marker line ("----- Original message -----").
 * The offset of the header's first line, or -1 when the text does not
 * open with a header (two fields of a message's own among its lines).
 */
gssize orig_text_header(const GRegex *marker, const char *t, gsize n);
/* Keeps a header value of the original that names its recipients. */
void orig_add_rcpts(struct parse_ctx *c, const char *value);
/* The addresses, lower case, of what orig_add_rcpts() kept (made once, when first asked). */
GHashTable *orig_rcpts(struct parse_ctx *c);

#endif
