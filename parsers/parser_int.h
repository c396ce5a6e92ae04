/*
 * parser_int.h - what the parser's modules share: the parser (rules,
 * options and buffers reused from call to call) and the context of one
 * parser_parse() call.  Not an API.
 *
 * The modules, lowest first; none calls up into one above it:
 *   parser_util.c	addresses, codes and text helpers (no state)
 *   parser_raw.c	searches of the raw message bytes (no state)
 *   parser_walk.c	the MIME walk and the decoding of a part's text
 *   parser_orig.c	the enclosed original's header
 *   parser_classify.c	reason, rule and class of one record
 *   parser_text_line.c	line tests of a notice's text
 *   parser_dsn.c, parser_arf.c, parser_ses.c, parser_text.c,
 *   parser_text_block.c, parser_text_auto.c	the readers
 *   parser.c		the driver: the table of readers, tried in order
 */
#ifndef REBOUND_PARSER_INT_H
#define REBOUND_PARSER_INT_H

#include <gmime/gmime.h>
#include "parsers/fields.h"
#include "parsers/report.h"
#include "parsers/rules.h"
#include "parsers/sanitize.h"
#include "parsers/parser_walk.h"

struct parser {
	struct rules *rules;
	GRegex *verp;
	GPtrArray *corr;		/* correlation header names */
	struct sanitize_limits lim;
	GMimeParserOptions *gopts;
	guint max_records;		/* recipient records per report */
	GMimeParser *gparser;		/* reused for every message (parser_parse) */
	GMimeStream *empty;		/* what gparser holds between messages */
	GByteArray *gbuf;		/* what gparser reads, reused (parser_parse) */
	GArray *mparts;			/* mime_split()'s parts, reused (parser_parse) */
	gboolean gmime_only;		/* parser_set_gmime_only() */
	GHashTable *iconv;		/* charset -> GIConv to UTF-8 (or -1), walk_convert() */
	GRegex *re_marker;		/* start of the enclosed original in text */
	GRegex *re_bounce_subject;
	GRegex *re_reply_subject;	/* a person's reply: "Re:", "AW:" ... */
	GRegex *re_bounce_body;
	GRegex *re_greeting;		/* a personal letter's first words */
	GRegex *re_delivered;		/* a notice says the message was delivered */
	GRegex *re_signoff;		/* and its last */
	GRegex *re_rcpt_list;		/* where a notice starts listing failed recipients */
	GRegex *re_failure_words;	/* a recipient's paragraph speaks of a failure */
	GRegex *re_fail_notice;		/* a notice's text speaks of a failed delivery */
	GRegex *re_autoreply_subject;
	GRegex *re_given_up;		/* a notice says delivery was abandoned, not delayed */
	GRegex *re_delay_subject;	/* a notice's Subject says it only warns of a delay */
};

/*
 * One parser_parse() call: the message as the driver has read it, and
 * what the readers and the classification keep while they fill its
 * report.  Lives on the driver's stack; ctx_fini() frees what it holds.
 */
struct parse_ctx {
	struct parser *p;
	struct report *r;		/* the report being filled */
	const char *buf;		/* the message, after sanitize_prepare() */
	gsize blen;
	gsize hlen;			/* of its own header */
	struct fields *top;		/* that header */
	const char *ct;			/* its Content-Type, or NULL */
	struct walk w;			/* the parts that matter */
	char *context;			/* the human-readable text, or NULL */
	gsize clen;
	const char *orig_hdr;		/* the original's header read raw (raw_gmime_extent) */
	gsize orig_hdrlen;
	struct fields *orig_fields;	/* that header, parsed */
	guint32 anomalies;		/* found decoding parts; added to the report at the end */
	const char *hint;		/* per record: a vendor's own category line, tried first */
	gboolean own_only;		/* per record: the report's text speaks of other recipients too */
	gboolean others_only;		/* per record: ... and only of them (it gives this one no paragraph) */
	gboolean mta_done;		/* r->mta looked for */
	/*
	 * The enclosed original's To, Cc and Received "for <x>" values, one
	 * a line; their addresses, lower case, are what a notice's candidates
	 * are checked against (made only when needed: orig_rcpts()).
	 */
	GString *orig_hdrs;
	GHashTable *orig_rcpts;
	char *orig_sender;		/* the original's Return-Path: its envelope sender */
	/* the report's text folded once for every record (classify_folded) */
	const char *fold_src;
	char *fold_out;
};

#endif
