/*
 * parser_arf.h - the readers of complaints (parser_arf.c).  A check says
 * whether its reader is to run on the message in c; the reader fills
 * c->r (kind ARF).
 */
#ifndef REBOUND_PARSER_ARF_H
#define REBOUND_PARSER_ARF_H

#include <glib.h>

struct parse_ctx;

/* Nothing read yet, and the walk found a message/feedback-report part. */
gboolean arf_check(struct parse_ctx *c);
/* The report's fields, and a record per Original-Rcpt-To (or one without a recipient). */
void arf_read(struct parse_ctx *c);

/* Nothing read yet, and an enclosed original. */
gboolean complaint_check(struct parse_ctx *c);
/* A provider's complaint that is no ARF report (JMRP), when its header or Subject says so. */
void complaint_read(struct parse_ctx *c);

/* Nothing read yet, and X-Apple-Unsubscribe: true. */
gboolean unsubscribe_check(struct parse_ctx *c);
/* An opt-out from its sender. */
void unsubscribe_read(struct parse_ctx *c);

/* Nothing found, and X-HmXmrOriginalRecipient on the message itself. */
gboolean bare_check(struct parse_ctx *c);
/* A complaint from the recipient that header names. */
void bare_read(struct parse_ctx *c);

/* A complaint was read. */
gboolean arf_rcpt_check(struct parse_ctx *c);
/* Its first record's recipient when the report left it out: the original's To, or a placeholder. */
void arf_rcpt_read(struct parse_ctx *c);

#endif
