/*
 * parser_text.h - the readers of a notice's text: non-standard bounces
 * (parser_text.c) and auto-replies (parser_text_auto.c).  A check says
 * whether its reader is to run on the message in c; the reader fills c->r.
 */
#ifndef REBOUND_PARSER_TEXT_H
#define REBOUND_PARSER_TEXT_H

#include <glib.h>

struct parse_ctx;

/* Nothing read yet but a DSN or nothing: the text may be a bounce. */
gboolean text_check(struct parse_ctx *c);
/* A non-standard bounce: kind BOUNCE and a record per failed recipient, when the text is one. */
void text_read(struct parse_ctx *c);

/* No report found, and the header says auto-reply with no word of a failed delivery. */
gboolean auto_check(struct parse_ctx *c);
/* Nothing found at all: an auto-reply's marks are the last thing to look for. */
gboolean auto_late_check(struct parse_ctx *c);
/* An auto-reply (kind AUTOREPLY, a record for its sender) when its header says so. */
void auto_read(struct parse_ctx *c);

#endif
