/*
 * parser_dsn.h - the readers of RFC 3464/6533 delivery status
 * notifications (parser_dsn.c).  A check says whether its reader is to
 * run on the message in c; the reader fills c->r (kind DSN).
 */
#ifndef REBOUND_PARSER_DSN_H
#define REBOUND_PARSER_DSN_H

#include <glib.h>

struct parse_ctx;

/* The walk found message/delivery-status parts. */
gboolean dsn_check(struct parse_ctx *c);
/* A record per recipient block of each part. */
void dsn_read(struct parse_ctx *c);

/*
 * No report part at all (nor a disposition notification), or fewer
 * delivery-status parts than may be run together in one file: the raw
 * bytes may hold blocks GMime did not see.
 */
gboolean dsn_raw_check(struct parse_ctx *c);
/* A record per recipient block of those found in the raw bytes. */
void dsn_raw_read(struct parse_ctx *c);

#endif
