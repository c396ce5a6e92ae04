/*
 * parser.h - classify one received message: bounce, complaint, auto-reply.
 *
 * GMime 3 and GLib only.  A struct parser holds the loaded rules and options
 * (fixed after parser_new()) and buffers reused from call to call (a GMime
 * parser, the bytes it reads, converters): it serves many calls, one at a
 * time; threads that parse at once use one parser each.  What one call
 * keeps while it reads a message lives on that call's stack.
 * parser_parse() never returns NULL and never aborts on input: malformed
 * messages yield kind NONE (or records of class UNKNOWN) with anomaly flags.
 * The returned report belongs to the caller (report_free).
 */
#ifndef REBOUND_PARSER_H
#define REBOUND_PARSER_H

#include <glib.h>
#include "parsers/report.h"

struct parser_options {
	const char *rules_path;		/* classification rules; NULL = built-in only */
	const char *verp_pattern;	/* GRegex, named groups "local" and "domain"; NULL = off */
	char **correlation_headers;	/* NULL-terminated; may be NULL */
	char **charset_allow;		/* RFC 2047 charsets decoded; NULL = built-in list */
	int max_depth;			/* 0 = default */
	int max_parts;
	gsize max_header_size;
	/*
	 * Recipient records kept per message; 0 = default (1000).  Past it the
	 * rest is dropped, the report says REPORT_ANOMALY_TOO_MANY_RCPTS and its
	 * outcome is "too_many_recipients".
	 */
	int max_recipients;
};

struct parser;

/* NULL on error with *err = "FILE:LINE: message" (caller frees). */
struct parser *parser_new(const struct parser_options *opts, char **err);
void parser_free(struct parser *p);

/* envelope_rcpt: the address the report was delivered to (for VERP), or NULL. */
struct report *parser_parse(struct parser *p, const char *data, gsize len,
    const char *envelope_rcpt);

/*
 * Every message through GMime's object tree, never mime_split() (for
 * tests and benchmarks that compare the two; the results are meant to be
 * the same).
 */
void parser_set_gmime_only(struct parser *p, gboolean on);

#endif
