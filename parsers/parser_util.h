/*
 * parser_util.h - helpers of every reader that hold no state
 * (parser_util.c).  Strings returned are new (g_free) or NULL.
 */
#ifndef REBOUND_PARSER_UTIL_H
#define REBOUND_PARSER_UTIL_H

#include <glib.h>
#include "parsers/report.h"

/* The address in a field value ("rfc822; <x@y>", "Name <x@y>"), domain lower case. */
char *parser_address(const char *s);
/* The first status code "5.1.1" in t. */
char *parser_find_status(const char *t);
/* The first SMTP reply code in t ("550 ", "550-", "550:"). */
char *parser_find_replycode(const char *t);
/* The SMTP command a folded diagnostic says the failure followed. */
char *parser_find_command(const char *folded);
/* The command a transcript or reply in a folded report's text names, from rcpt's mention on. */
char *parser_find_command_context(const char *folded, const char *rcpt);
/* g_utf8_validate_len(), faster on plain ASCII. */
gboolean parser_utf8_valid(const char *s, gsize len);
/* s (len bytes, or up to its NUL when len < 0) as valid UTF-8. */
char *parser_utf8(const char *s, gssize len);
/* A character an address's local part may hold. */
gboolean parser_local_char(unsigned char c);
/*
 * The next address in line[*pos, n), normalised (parser_address), with
 * *pos moved past it; NULL (and *pos = n) when there is none.
 */
char *parser_next_address(const char *line, gsize n, gsize *pos);
/* The text a browser shows of an HTML notice, with line breaks where blocks end. */
char *parser_from_html(const char *html);

/* Says where rec->recipient came from (report.h); nothing when it is NULL. */
static inline void
parser_rcpt_from(struct report_record *rec, const char *how)
{
	g_free(rec->recipient_from);
	rec->recipient_from = rec->recipient != NULL ? g_strdup(how) : NULL;
}

#endif
