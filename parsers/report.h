/*
 * report.h - what the parsers say about one received message.
 *
 * A struct report is plain data: one per message, with one struct
 * report_record per recipient.  Every string is a NUL-terminated, valid
 * UTF-8 copy owned by the report (or NULL when absent); report_free()
 * frees everything.  Producers: parser.h.  Consumers: store/, the parse
 * CLI and the worker pipe (report_serialize / report_deserialize, which
 * use GVariant so that a report crosses a pipe without any JSON library).
 */
#ifndef REBOUND_REPORT_H
#define REBOUND_REPORT_H

#include <glib.h>

enum report_kind {
	REPORT_KIND_NONE = 0,		/* not a bounce, report or auto-reply; or unparseable */
	REPORT_KIND_DSN,		/* RFC 3464 / RFC 6533 delivery-status */
	REPORT_KIND_ARF,		/* RFC 5965 feedback report, or a non-ARF complaint */
	REPORT_KIND_AUTOREPLY,		/* RFC 3834 / vacation */
	REPORT_KIND_BOUNCE,		/* non-standard bounce */
};

enum report_class {
	REPORT_CLASS_UNKNOWN = 0,
	REPORT_CLASS_HARD,		/* address is dead: suppress */
	REPORT_CLASS_SOFT,		/* transient: suppress after N in a window */
	REPORT_CLASS_BLOCK,		/* sender's reputation/content/auth: never suppress */
	REPORT_CLASS_COMPLAINT,		/* feedback loop */
	REPORT_CLASS_AUTOREPLY,
	REPORT_CLASS_DELIVERED,		/* delivered/relayed/expanded/delayed: never a failure */
};

/* Anomaly flags: malformed input is data, not failure. */
#define REPORT_ANOMALY_NO_BOUNDARY	(1u << 0)
#define REPORT_ANOMALY_TRUNCATED	(1u << 1)
#define REPORT_ANOMALY_TOO_DEEP		(1u << 2)
#define REPORT_ANOMALY_TOO_MANY_PARTS	(1u << 3)
#define REPORT_ANOMALY_HEADER_TOO_BIG	(1u << 4)
#define REPORT_ANOMALY_BAD_STATUS	(1u << 5)
#define REPORT_ANOMALY_BAD_CHARSET	(1u << 6)
#define REPORT_ANOMALY_NEUTRALISED	(1u << 7)	/* hostile encoded words defused */
#define REPORT_ANOMALY_NO_RECIPIENT	(1u << 8)
#define REPORT_ANOMALY_TOO_MANY_RCPTS	(1u << 9)

struct report_record {
	char *recipient;		/* final recipient, normalised per parser.h */
	char *original_recipient;
	enum report_class class_;
	char *reason;			/* Sisimai vocabulary: userunknown, mailboxfull, ... */
	char *status;			/* RFC 3463 "5.1.1" */
	char *replycode;		/* "550" */
	char *action;			/* failed, delayed, delivered, relayed, expanded */
	char *diagnostic;
	char *remote_mta;
	char *last_attempt;		/* as written in the report */
	char *smtp_command;		/* RCPT, DATA, ... when known */
	char *feedback_type;		/* ARF: abuse, fraud, ... */
	char *rule;			/* id of the rule that decided the reason */
	/*
	 * Where recipient came from: "final-recipient", "original-recipient",
	 * "x-failed-recipients", "failure-line" (a notice's text), "original-to"
	 * (the enclosed original's header), "verp", "signed-path",
	 * "original-rcpt-to", "removal-recipient" (an opt-out report),
	 * "complainer-header", "from" (an auto-reply),
	 * "ses-json", "placeholder", "subject" (a notice's Subject, when
	 * nothing else names the failed address); NULL when there is no
	 * recipient.
	 */
	char *recipient_from;
};

struct report {
	enum report_kind kind;
	char *outcome;			/* "ok", or why parsing gave up */
	guint32 anomalies;		/* REPORT_ANOMALY_* */
	char *mta;			/* detected producer: "postfix", "exim", "gmail", ... */
	char *reporting_mta;
	char *arrival_date;
	/* ARF fields */
	char *user_agent;
	char *source_ip;
	char *original_mail_from;
	char *reported_domain;
	char *auth_results;
	/* the enclosed original message */
	char *orig_message_id;
	char *orig_from;
	char *orig_to;
	char *orig_subject;
	char *orig_list_id;
	char *orig_date;
	GHashTable *correlation;	/* header name -> value, for configured headers */
	GPtrArray *records;		/* struct report_record *, owned */
};

struct report *report_new(enum report_kind kind);
struct report_record *report_add_record(struct report *r);
/* Drop every record (the report turned out to be no bounce). */
void report_clear_records(struct report *r);	/* owned by r */
/* Drop record i, keeping the others' order. */
void report_remove_record(struct report *r, guint i);
void report_free(struct report *r);

const char *report_kind_name(enum report_kind k);
const char *report_class_name(enum report_class c);
int report_kind_from_name(const char *name);	/* -1 if unknown */
int report_class_from_name(const char *name);	/* -1 if unknown */

/* Serialise for the worker pipe; returns a new GBytes (caller unrefs). */
GBytes *report_serialize(const struct report *r);
/* NULL if the bytes are not a valid serialised report (caller frees result). */
struct report *report_deserialize(GBytes *b);

#endif
