/*
 * parser_text_line.h - tests of one line (p, n bytes) of a notice's text
 * (parser_text_line.c).  No state.
 */
#ifndef REBOUND_PARSER_TEXT_LINE_H
#define REBOUND_PARSER_TEXT_LINE_H

#include <glib.h>

/* How many bytes of quoting (blanks and '>') the line starts with. */
gsize line_quoting(const char *p, gsize n);
/* Empty, or only quoting: "> >". */
gboolean line_blank(const char *p, gsize n);
/*
 * "From: x", "MAIL FROM: x", an mbox "From x  Thu ..." separator and the
 * like: the line names the sender.
 */
gboolean line_sender(const char *p, gsize n);
/* A rule or an inline delivery-status field: another section of the notice starts. */
gboolean line_section(const char *p, gsize n);
/* A line of a provider's contact boilerplate that says nothing of a failure. */
gboolean line_boiler(const char *p, gsize n);
/* Is the address at [start, end) of the line named aside: a contact, a forward-path offered? */
gboolean line_contact_clause(const char *p, gsize n, gsize start, gsize end);
/* Exim's "(generated from x)" and the like: the line belongs to the redirected entry above. */
gboolean line_generated(const char *p, gsize n);
/* Does the line start (after blanks, "<" or a quote) with an address? */
gboolean line_starts_with_address(const char *p, gsize n);
/* Is addr's local part a mail system's own (mailer-daemon, postmaster, ...)? */
gboolean line_daemon_local(const char *addr);
/* min(len, max), backed off to the start of a UTF-8 sequence: a regex's subject end. */
gsize line_utf8_cut(const char *s, gsize len, gsize max);
/* Where marker (struct parser's re_marker) first matches in body: the enclosed original; or len. */
gsize line_original_start(const GRegex *marker, const char *body, gsize len);

#endif
