/*
 * rules.h - data-driven classification: diagnostic text and status codes
 * to a reason (Sisimai's vocabulary) and a reason to a class.
 *
 * The rules file (conf/rules.conf, format in its header comment) is read
 * once by rules_load(); a struct rules is read-only afterwards (but for
 * the JIT-compiled copies of its regexes, made on use and set atomically:
 * rules_re.c) and may be shared.  Errors are reported as "FILE:LINE:
 * message" in *err (g_free).
 * Rules are tried in file order and the first that matches decides, so an
 * operator puts a more specific rule above a general one.
 */
#ifndef REBOUND_RULES_H
#define REBOUND_RULES_H

#include <glib.h>
#include "parsers/fields.h"
#include "parsers/report.h"

struct rules;

struct rules_match {
	const char *reason;	/* points into the rules; never NULL on a match */
	const char *id;		/* rule id, points into the rules */
	gboolean by_text;	/* decided by a text or regex rule (not a code) */
};

/* path NULL: the built-in status-code table only. */
struct rules *rules_load(const char *path, char **err);
/* Load from a string; name is used in error messages. */
struct rules *rules_load_data(const char *name, const char *data, gsize len, char **err);
void rules_free(struct rules *r);

/*
 * Classify.  text: the diagnostic text already folded by rules_fold()
 * (may be NULL); status "5.1.1" or NULL; replycode "550" or NULL.
 * With text, the text and regex rules and the "status-first" rules are
 * tried in file order (a status-first rule is a code so specific that it
 * outranks the wording below it); without text, the status and code
 * rules.  Returns FALSE when no rule matched.
 */
gboolean rules_classify(const struct rules *r, const char *text, const char *status,
    const char *replycode, const char *command, struct rules_match *out);

/*
 * Producers and providers ("detect" and "mta" lines).  rules_detect()
 * names the producer of a report from its own header (top), its
 * Reporting-MTA and its folded text (each may be NULL);
 * rules_detect_remote() names the recipient's provider from the host that
 * answered for it (remote_mta: the record's Remote-MTA, or the host its
 * diagnostic names) or, when no remote-mta line knows that host, from the
 * recipient's domain (domain lines: a provider's own domains).  NULL when
 * no line matches; otherwise points into the rules.
 */
const char *rules_detect(const struct rules *r, const struct fields *top,
    const char *reporting_mta, const char *text);
const char *rules_detect_remote(const struct rules *r, const char *remote_mta, const char *domain);

/*
 * rules_classify() over the rules scoped to the producer lhost or the
 * provider rhost (either may be NULL) only; rules_classify() itself never
 * tries a scoped rule.  rules_after_scoped() likewise for "after" lines.
 */
gboolean rules_classify_scoped(const struct rules *r, const char *lhost, const char *rhost,
    const char *text, const char *status, const char *replycode, const char *command,
    struct rules_match *out);
const char *rules_after_scoped(const struct rules *r, const char *lhost, const char *rhost,
    const char *reason, const char *command);

/*
 * A reason decided by text may need corroboration ("require" lines): a
 * "user unknown" said after DATA is a content filter, not a dead address.
 * Returns reason itself, or the configured alternative.  Not a copy.
 */
const char *rules_require(const struct rules *r, const char *reason, const char *id,
    const char *command, const char *status);

/*
 * "after" lines: a reason said in reply to COMMAND means something else
 * ("no such domain" after MAIL FROM is about the sender's domain: the
 * sender was rejected).  Returns reason itself or the replacement.
 */
const char *rules_after(const struct rules *r, const char *reason, const char *command);

/*
 * "delayed" line: the reason of a record whose Action is delayed (still
 * queued: the question is only why it is late), unless the reason found,
 * or the rule id that found it (rule, may be NULL), is one the line keeps
 * and the rule is not one it names "!RULE-ID"; a reason only a status code
 * gave (by_text FALSE) is kept when the line's "codes" list names it (no
 * such list: as the others).  Returns reason itself or the replacement.
 */
const char *rules_delayed(const struct rules *r, const char *reason, const char *rule,
    gboolean by_text);

/* Class of a reason; permanent says whether the failure was a 5xx one. */
enum report_class rules_class(const struct rules *r, const char *reason, gboolean permanent);

/* Lower-case ASCII and collapse white space runs: the form text rules see. New string. */
char *rules_fold(const char *text);
/* The same over at most max bytes of text. */
char *rules_fold_n(const char *text, gsize max);

#endif
