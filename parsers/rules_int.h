/*
 * rules_int.h - the loaded rules, as rules_load.c builds them and
 * rules_match.c reads them; not an API.
 */
#ifndef REBOUND_RULES_INT_H
#define REBOUND_RULES_INT_H

#include <glib.h>
#include "parsers/report.h"

/*
 * A regex of the rules (rules_re.c): compiled for PCRE's interpreter when
 * loaded, and for its JIT once it has run often enough to pay for that.
 */
struct rules_re {
	GRegex *re;		/* interpreted, compiled when loaded */
	GRegex *jit;		/* atomic: the same with G_REGEX_OPTIMIZE, or NULL */
	char *pat;
	GRegexCompileFlags flags;
	gint uses;		/* atomic */
	gint jit_after;		/* the use that JIT-compiles it */
};

/*
 * Uses after which a regex is JIT-compiled: RULES_RE_JIT_AFTER by
 * default; RULES_RE_JIT_RARE for one that runs whole only on what is
 * rare (a rule tried anchored on ASCII texts, whole on the others) or
 * on little (a detect line).
 */
#define RULES_RE_JIT_AFTER	2
#define RULES_RE_JIT_RARE	64

/* NULL with *gerr set when pat is no good regex. */
struct rules_re *rules_re_new(const char *pat, GRegexCompileFlags flags, GError **gerr);
void rules_re_free(struct rules_re *x);
/* The compiled regex to match with now (counts a use). */
GRegex *rules_re_get(struct rules_re *x);
/*
 * Does x match text (n bytes) at offset at exactly (what precedes at
 * still counts for \b and lookbehinds)?  Interpreted; counts no use.
 */
gboolean rules_re_anchored(const struct rules_re *x, const char *text, gsize n, gsize at);

enum rule_type { RULE_TEXT, RULE_REGEX, RULE_STATUS, RULE_CODE, RULE_COMMAND };

struct rule {
	enum rule_type type;
	char *id;
	char *reason;
	char *pattern;		/* folded text, status or code */
	struct rules_re *re;
	gboolean filtered;	/* regex: runs only when one of its anchors is in the text */
	gboolean ascii;		/* regex: pattern all ASCII, so its anchors are all its starts */
	gboolean behind;	/* filtered thanks to anchors past lookbehinds: on ASCII texts only */
	gboolean at;		/* regex: every match starts at one of its anchors (ASCII ones) */
	gboolean at_ascii;	/* regex: so on all-ASCII texts, though some anchors are not ASCII */
	gboolean first;		/* status-first: decides in file order, before later text rules */
	char **mtas;		/* "mta" scope: producers or providers it is for; NULL = all */
	guint scope;		/* mtas: its "mta" line (1, 2, ...): rules from one share the names */
	char **need;		/* regex without anchors (or behind): rx_required_lits(), or NULL */
	gboolean need_ascii;	/* need: its literals all ASCII */
};

struct class_entry {
	enum report_class perm;
	enum report_class temp;
};

struct require {
	char *command;		/* e.g. "RCPT", or NULL */
	char *status;		/* status pattern, or NULL */
	char *otherwise;	/* reason used when neither holds */
	char **except;		/* rule ids whose wording is enough when no command says otherwise */
	char **keep;		/* rule ids (a provider's own codes) that stand whatever the command */
};

struct after {
	char *command;		/* "MAIL" */
	char **reasons;		/* reasons that change meaning after it */
	char *becomes;
	char **mtas;		/* "mta" scope, as for a rule */
};

enum detect_where { DETECT_HEADER, DETECT_REPORTING_MTA, DETECT_REMOTE_MTA, DETECT_DOMAIN, DETECT_TEXT };

/* "detect NAME WHERE [FIELD] REGEX": what names the producer of a report. */
struct detect {
	char *name;
	enum detect_where where;
	char *field;		/* DETECT_HEADER: the header field */
	struct rules_re *re;
	char **need;		/* rx_required_lits() of the regex, or NULL */
	guint same;		/* DETECT_HEADER: the first detect line reading the same field */
};

struct rules {
	GPtrArray *rules;	/* struct rule * */
	GPtrArray *afters;	/* struct after * */
	char *delayed;		/* reason of an Action: delayed record, or NULL */
	char **delayed_keep;	/* reasons and rule ids it does not replace */
	char **delayed_never;	/* rule ids whose reason it replaces all the same ("!id") */
	char **delayed_codes;	/* of those, the ones a status code alone keeps; NULL: all */
	GHashTable *requires;	/* reason -> struct require * */
	GHashTable *classes;	/* reason -> struct class_entry * */
	GPtrArray *detects;	/* struct detect *, file order */
	/*
	 * Rules and "after" lines under an "mta" scope live in a second set
	 * of their own (with its own prefilter), tried before this one and
	 * only for the producers and providers they name.
	 */
	struct rules *scoped;
	/*
	 * Prefilter for regex rules: every match of such a rule starts with one
	 * of its anchors (literal prefixes of its top-level alternatives, read
	 * through groups and optional parts, at least 3 bytes).  One pass over
	 * the text finds the anchors present, so the few rules worth trying
	 * and where; rules whose pattern gives no anchors always run.
	 * anchors: trigram -> GArray of struct anchor.
	 */
	GHashTable *anchors;
	guint8 trigram_bits[8192];	/* 65536-bit filter over hashed trigrams */
	/*
	 * The same arrays for the lookups of a match, once loaded: open
	 * addressing from trigram_hash(), a power of two slots at most half
	 * full (a GHashTable lookup costs more than the rest of a hit).
	 */
	struct anchor_slot *slots;
	guint slot_mask;
};

struct anchor_slot {
	guint32 key;		/* trigram() */
	GArray *arr;		/* struct anchor; NULL: a free slot */
};

struct anchor {
	char *lit;		/* lower case */
	gsize len;
	guint rule;		/* index in rules */
	gboolean whole;		/* the literal is a whole match: where it is, the rule matches */
	/*
	 * Its first eight bytes (fewer when shorter: masked) as a word in
	 * memory order: one compare turns away most of the anchors sharing
	 * a trigram with the text, without a memcmp call.
	 */
	guint64 pre, premask;
};

/* A text's three bytes at t as one key (of struct rules' anchors). */
static inline guint32
trigram(const char *t)
{
	return (guint8)t[0] | (guint8)t[1] << 8 | (guint8)t[2] << 16;
}

/* The bit of struct rules' trigram_bits for trigram k. */
static inline guint
trigram_hash(guint32 k)
{
	return (k * 2654435761u) >> 16;
}

#endif
