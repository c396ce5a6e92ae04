/*
 * parser_ses.h - the reader of Amazon SES event notifications delivered
 * by mail (parser_ses.c).
 */
#ifndef REBOUND_PARSER_SES_H
#define REBOUND_PARSER_SES_H

#include <glib.h>

struct parse_ctx;

/* Nothing read yet, and no report part: the text may be an SES notification. */
gboolean ses_check(struct parse_ctx *c);
/* Its records (bounce, complaint or delivery), when the text is one that names someone. */
void ses_read(struct parse_ctx *c);

#endif
