/*
 * parser_int.h - internals shared by parser.c and text.c; not an API.
 */
#ifndef REBOUND_PARSER_INT_H
#define REBOUND_PARSER_INT_H

#include <gmime/gmime.h>
#include "parsers/fields.h"
#include "parsers/report.h"
#include "parsers/rules.h"
#include "parsers/sanitize.h"

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
	GHashTable *iconv;		/* charset -> GIConv to UTF-8 (or -1), parser_convert() */
	guint32 cur_anomalies;		/* per call; a parser serves one call at a time */
	const char *cur_hint;		/* per record: a vendor's own category line, tried first */
	gboolean cur_own_only;		/* per record: the report's text speaks of other recipients too */
	GRegex *re_marker;		/* start of the enclosed original in text */
	GRegex *re_bounce_subject;
	GRegex *re_bounce_body;
	GRegex *re_rcpt_list;		/* where a notice starts listing failed recipients */
	GRegex *re_failure_words;	/* a recipient's paragraph speaks of a failure */
	GRegex *re_fail_notice;		/* a notice's text speaks of a failed delivery */
	GRegex *re_autoreply_subject;
	GRegex *re_given_up;		/* a notice says delivery was abandoned, not delayed */
	GRegex *re_delay_subject;	/* a notice's Subject says it only warns of a delay */
	/* per call: the report being read, for its producer (parser_classify) */
	struct report *cur_report;
	const struct fields *cur_top;	/* its own header */
	gboolean cur_mta_done;		/* cur_report->mta looked for */
	/*
	 * per call: the enclosed original's To, Cc and Received "for <x>"
	 * values, one a line, when the original is there; their addresses,
	 * lower case, are what a notice's candidates are checked against
	 * (text_parse, which makes the set only when it needs it)
	 */
	GString *cur_orig_hdrs;
	GHashTable *cur_orig_rcpts;
	/* per call: the report's text folded once for every record (parser_classify) */
	const char *fold_src;
	char *fold_out;
};

/* Says where rec->recipient came from (report.h); nothing when it is NULL. */
static inline void
parser_rcpt_from(struct report_record *rec, const char *how)
{
	g_free(rec->recipient_from);
	rec->recipient_from = rec->recipient != NULL ? g_strdup(how) : NULL;
}

/* New strings (g_free) or NULL. */
char *parser_address(const char *s);
char *parser_find_status(const char *t);
char *parser_find_replycode(const char *t);
char *parser_find_command(const char *folded);
char *parser_utf8(const char *s, gssize len);
void parser_classify(struct parser *p, struct report_record *rec, const char *context);
void parser_original_from_fields(struct parser *p, struct report *r, const struct fields *f);

/* Keeps a header value of the original that names its recipients (text.c). */
void text_add_orig_rcpts(struct parser *p, const char *value);

void text_init(struct parser *p);
void text_fini(struct parser *p);
/* Non-standard bounce: fills r (kind BOUNCE) when msg looks like one. */
/* top: the message's own header block (fields_parse_header). */
void text_parse(struct parser *p, struct report *r, const struct fields *top, const char *body,
    gsize len, gboolean have_original);
void text_autoreply(struct parser *p, struct report *r, const struct fields *top);
/* An auto-reply by its header, with no word of a failed delivery (text.c). */
gboolean text_is_autoreply(struct parser *p, const struct fields *top, const char *body,
    gsize len);

/* DSN record without a Diagnostic-Code: take its lines from the text part. */
void text_enrich_record(struct parser *p, struct report_record *rec, const char *context);
char *text_from_html(const char *html);

/* Amazon SES notification (JSON) in body: fills r and returns TRUE. */
gboolean sesjson_parse(struct parser *p, struct report *r, const char *body, gsize len);

#endif
