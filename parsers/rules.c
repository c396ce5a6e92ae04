/*
 * rules.c - load and apply the classification rules (see rules.h).
 *
 * Text rules are literal substrings of the folded diagnostic (cheap, and
 * what most MTA messages need); regex rules are caseless GRegex for the
 * rest; status rules match an RFC 3463 code, where "x" in the first digit
 * stands for 4 or 5 and a trailing ".*" for any detail.
 */
#include <string.h>
#include <glib.h>

#include "parsers/fields.h"
#include "parsers/rules.h"
#include "parsers/rx_lits.h"
#include "parsers/scan.h"

enum rule_type { RULE_TEXT, RULE_REGEX, RULE_STATUS, RULE_CODE, RULE_COMMAND };

struct rule {
	enum rule_type type;
	char *id;
	char *reason;
	char *pattern;		/* folded text, status or code */
	GRegex *re;
	gboolean filtered;	/* regex: runs only when one of its anchors is in the text */
	gboolean ascii;		/* regex: pattern all ASCII, so its anchors are all its starts */
	GRegex *re_at;		/* the same, anchored at the offset given (ASCII filtered rules) */
	gboolean first;		/* status-first: decides in file order, before later text rules */
	char **mtas;		/* "mta" scope: producers or providers it is for; NULL = all */
	char **need;		/* regex without anchors: rx_required_lits(), or NULL */
};

struct class_entry {
	enum report_class perm;
	enum report_class temp;
};

struct require {
	char *command;		/* e.g. "RCPT", or NULL */
	char *status;		/* status pattern, or NULL */
	char *otherwise;	/* reason used when neither holds */
	char **except;		/* rule ids whose wording is enough without either */
};

struct after {
	char *command;		/* "MAIL" */
	char **reasons;		/* reasons that change meaning after it */
	char *becomes;
	char **mtas;		/* "mta" scope, as for a rule */
};

enum detect_where { DETECT_HEADER, DETECT_REPORTING_MTA, DETECT_REMOTE_MTA, DETECT_TEXT };

/* "detect NAME WHERE [FIELD] REGEX": what names the producer of a report. */
struct detect {
	char *name;
	enum detect_where where;
	char *field;		/* DETECT_HEADER: the header field */
	GRegex *re;
	char **need;		/* rx_required_lits() of the regex, or NULL */
	guint same;		/* DETECT_HEADER: the first detect line reading the same field */
};

struct rules {
	GPtrArray *rules;	/* struct rule * */
	GPtrArray *afters;	/* struct after * */
	char *delayed;		/* reason of an Action: delayed record, or NULL */
	char **delayed_keep;	/* reasons it does not replace */
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

static void
rule_free(gpointer p)
{
	struct rule *r = p;

	g_free(r->id);
	g_free(r->reason);
	g_free(r->pattern);
	g_strfreev(r->mtas);
	g_strfreev(r->need);
	if (r->re != NULL)
		g_regex_unref(r->re);
	if (r->re_at != NULL)
		g_regex_unref(r->re_at);
	g_free(r);
}

static void
detect_free(gpointer x)
{
	struct detect *d = x;

	g_free(d->name);
	g_free(d->field);
	g_strfreev(d->need);
	if (d->re != NULL)
		g_regex_unref(d->re);
	g_free(d);
}

static void
after_free(gpointer x)
{
	struct after *a = x;

	g_free(a->command);
	g_strfreev(a->reasons);
	g_free(a->becomes);
	g_strfreev(a->mtas);
	g_free(a);
}

static void
anchor_array_free(gpointer x)
{
	GArray *a = x;
	guint i;

	for (i = 0; i < a->len; i++)
		g_free(g_array_index(a, struct anchor, i).lit);
	g_array_free(a, TRUE);
}

void
rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	if (r->anchors != NULL)
		g_hash_table_destroy(r->anchors);
	g_ptr_array_free(r->rules, TRUE);
	g_ptr_array_free(r->afters, TRUE);
	g_free(r->delayed);
	g_strfreev(r->delayed_keep);
	g_hash_table_destroy(r->classes);
	g_hash_table_destroy(r->requires);
	g_ptr_array_free(r->detects, TRUE);
	rules_free(r->scoped);
	g_free(r);
}

static void
require_free(gpointer p)
{
	struct require *q = p;

	g_free(q->command);
	g_free(q->status);
	g_free(q->otherwise);
	g_strfreev(q->except);
	g_free(q);
}

char *
rules_fold(const char *text)
{
	return rules_fold_n(text, G_MAXSIZE);
}

char *
rules_fold_n(const char *text, gsize max)
{
	const char *p, *end, *slow;
	char *out, *w;
	gboolean sp = FALSE, cont = FALSE;	/* cont: inside a multi-line reply */

	if (text == NULL)
		return NULL;
	end = text + strnlen(text, max);
	/* Cut short: never inside a UTF-8 sequence, which the regexes (PCRE2
	 * JIT, UTF mode, unchecked) must not see. */
	while (*end != '\0' && end > text && ((guchar)*end & 0xc0) == 0x80)
		end--;
	/* Never longer than the text: each byte written stands for one read. */
	w = out = g_malloc(end - text + 1);
	/* the word-at-a-time path below reads bytes in memory order */
	slow = G_BYTE_ORDER == G_LITTLE_ENDIAN ? text : end;
	for (p = text; p < end; p++) {
		/*
		 * Eight bytes at a time while none is a control or a line end
		 * and no two spaces meet (most of a text: words and single
		 * spaces, which fold to themselves): copied, A-Z made a-z.
		 * After a word that cannot be, the bytes up to what stopped it
		 * go one at a time.
		 */
		while (end - p >= 8 && p >= slow) {
			const guint64 hi = 0x8080808080808080ull, lo7 = ~hi;
			guint64 v, x, sm, up, bad;

			memcpy(&v, p, 8);
			/* any byte below ' ': the first such is exact */
			if ((bad = (v - 0x2020202020202020ull) & ~v & hi) != 0) {
				slow = p + __builtin_ctzll(bad) / 8 + 1;
				break;
			}
			/* 0x80 in each space byte, exactly */
			x = v ^ 0x2020202020202020ull;
			sm = ~(((x & lo7) + lo7) | x | lo7);
			if ((bad = sm & (sm >> 8)) != 0) {
				/* two spaces in a row */
				slow = p + __builtin_ctzll(bad) / 8 + 2;
				break;
			}
			if ((sm & 0x80) != 0 && (sp || w == out)) {
				/* a space first: it joins a pending one, or leads */
				slow = p + 1;
				break;
			}
			/* ASCII bytes at or above 'A' and not above 'Z' */
			up = ((v & lo7) + 0x3f3f3f3f3f3f3f3full) & ~((v & lo7) + 0x2525252525252525ull) &
			    ~v & hi;
			v |= up >> 2;
			if (sp)
				*w++ = ' ';
			memcpy(w, &v, 8);
			/* a space last waits, as one would, for what follows it */
			sp = (sm >> 56) != 0;
			w += sp ? 7 : 8;
			p += 8;
		}
		if (p >= end)
			break;
		if ((guchar)*p > ' ') {
			/* most bytes: neither a space nor a line end */
			if (sp)
				*w++ = ' ';
			sp = FALSE;
			*w++ = *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
			continue;
		}
		if ((*p == '\n' || *p == '\r') && p + 1 < end && scan_noise_field(p + 1, end)) {
			/*
			 * A quoted header field that is no evidence (scan.h), and
			 * its folded lines: left out, as if it were not there.
			 */
			const char *q = p + 1;

			do {
				while (q < end && *q != '\n' && *q != '\r')
					q++;
				if (q + 1 < end && *q == '\r' && q[1] == '\n')
					q++;
			} while (q + 1 < end && (q[1] == ' ' || q[1] == '\t') && ++q);
			sp = w > out;
			p = q - 1;
			continue;
		}
		if ((*p == '\n' || *p == '\r') && p[1] != '\0') {
			/*
			 * A continuation line of a multi-line SMTP reply repeats
			 * "550-5.7.1 ": drop it so that the sentence it splits reads
			 * as one.
			 */
			const char *q = p + 1;

			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == '<')
				q++;
			if ((*q == '4' || *q == '5') && g_ascii_isdigit(q[1]) && g_ascii_isdigit(q[2]) &&
			    (q[3] == '-' || (q[3] == ' ' && cont))) {
				const char *r = q + 4;

				if ((*r == '4' || *r == '5') && r[1] == '.') {
					while (*r != '\0' && !g_ascii_isspace(*r))
						r++;
				}
				if (w > out)
					sp = TRUE;
				cont = q[3] == '-';
				p = r - 1;
				continue;
			}
			cont = FALSE;
		}
		if (g_ascii_isspace(*p)) {
			sp = w > out;
			continue;
		}
		if (sp)
			*w++ = ' ';
		sp = FALSE;
		/* g_ascii_tolower() is a function call, for every byte of an 8 KB text */
		*w++ = *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
	}
	*w = '\0';
	return out;
}

static gboolean
valid_status_pattern(const char *s)
{
	return g_regex_match_simple("^[245x]\\.(\\d{1,3}|\\*)(\\.(\\d{1,3}|\\*))?$", s, 0, 0);
}

static int
class_parse(const char *s)
{
	return report_class_from_name(s);
}

/* Built-in fallbacks so that a parser without a rules file still says something. */
static const char builtin_rules[] =
	"class userunknown hard\nclass hostunknown hard\nclass hasmoved hard\n"
	"class notaccept hard soft\nclass feedback complaint\nclass vacation autoreply\n"
	"class delivered delivered\n"
	"rule st-511 userunknown status x.1.1\nrule st-512 hostunknown status x.1.2\n"
	"rule st-522 mailboxfull status x.2.2\n";


/*
 * Is one of lits in the lower-case text t?  strstr(), not memmem():
 * glibc's strstr is vectorised, its memmem reads a byte at a time.
 */
static gboolean
has_lit(const char *t, char *const *lits)
{
	for (; *lits != NULL; lits++)
		if (strstr(t, *lits) != NULL)
			return TRUE;
	return FALSE;
}

/* All ASCII (so valid UTF-8), eight bytes at a time. */
static gboolean
all_ascii(const char *s, gsize n)
{
	gsize i = 0;

	for (; i + 8 <= n; i += 8) {
		guint64 v;

		memcpy(&v, s + i, 8);
		if (v & 0x8080808080808080ull)
			return FALSE;
	}
	for (; i < n; i++)
		if ((guchar)s[i] >= 0x80)
			return FALSE;
	return TRUE;
}

static guint32
trigram(const char *t)
{
	return (guint8)t[0] | (guint8)t[1] << 8 | (guint8)t[2] << 16;
}

static guint
trigram_hash(guint32 k)
{
	return (k * 2654435761u) >> 16;
}

/* Index lit as an anchor of rule i; whole: where it is, the rule matches. */
static void
anchor_add(struct rules *r, const char *lit, guint i, gboolean whole)
{
	struct anchor a;
	guint32 k;
	GArray *arr;

	a.lit = g_strdup(lit);
	a.len = strlen(a.lit);
	a.rule = i;
	a.whole = whole;
	a.pre = 0;
	memcpy(&a.pre, a.lit, MIN(a.len, 8));
	a.premask = 0;
	memset(&a.premask, 0xff, MIN(a.len, 8));
	k = trigram(a.lit);
	arr = g_hash_table_lookup(r->anchors, GUINT_TO_POINTER(k));
	if (arr == NULL) {
		arr = g_array_new(FALSE, FALSE, sizeof(struct anchor));
		g_hash_table_insert(r->anchors, GUINT_TO_POINTER(k), arr);
	}
	g_array_append_val(arr, a);
	r->trigram_bits[trigram_hash(k) >> 3] |= 1u << (trigram_hash(k) & 7);
}

/*
 * Index the anchors of rule i: a text rule's pattern is its own (a whole
 * match: found in the one pass, no strstr per rule); a regex rule's come
 * from its pattern pat.  Rules without any always run.
 */
static void
rules_index(struct rules *r, struct rule *ru, guint i, const char *pat)
{
	GPtrArray *lits;
	gsize n = strlen(pat), from, to;
	guint j;

	if (ru->type == RULE_TEXT) {
		if (strlen(ru->pattern) >= 3) {
			ru->filtered = TRUE;
			anchor_add(r, ru->pattern, i, TRUE);
		}
		return;
	}
	lits = g_ptr_array_new_with_free_func(rx_lit_free);
	for (from = 0; ; from = to + 1) {
		to = rx_alt_end(pat, n, from);
		if (!rx_alt_anchors(pat + from, to - from, lits)) {
			g_ptr_array_free(lits, TRUE);
			ru->need = rx_required_lits(pat);
			return;
		}
		if (to >= n)
			break;
	}
	ru->filtered = TRUE;
	ru->ascii = TRUE;
	for (const char *c = pat; *c != '\0'; c++)
		if ((guchar)*c >= 0x80)
			ru->ascii = FALSE;
	/*
	 * Anchored when compiled, not when matched: PCRE's JIT does not take
	 * a match-time anchor and would hand every such match to its
	 * interpreter, several times slower on these long alternations.
	 */
	if (ru->ascii)
		ru->re_at = g_regex_new(pat, G_REGEX_CASELESS | G_REGEX_OPTIMIZE | G_REGEX_ANCHORED,
		    0, NULL);
	for (j = 0; j < lits->len; j++) {
		const struct rx_lit *l = g_ptr_array_index(lits, j);

		anchor_add(r, l->s, i, l->whole && ru->ascii);
	}
	g_ptr_array_free(lits, TRUE);
}

static struct rules *
rules_new(void)
{
	struct rules *r = g_new0(struct rules, 1);

	r->rules = g_ptr_array_new_with_free_func(rule_free);
	r->anchors = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, anchor_array_free);
	r->afters = g_ptr_array_new_with_free_func(after_free);
	r->classes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->requires = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, require_free);
	r->detects = g_ptr_array_new_with_free_func(detect_free);
	return r;
}

/* Does any "detect" line so far give the producer or provider name? */
static gboolean
detect_named(const struct rules *r, const char *name)
{
	guint i;

	for (i = 0; i < r->detects->len; i++)
		if (strcmp(((struct detect *)g_ptr_array_index(r->detects, i))->name, name) == 0)
			return TRUE;
	return FALSE;
}

/*
 * "detect NAME header FIELD REGEX", "detect NAME reporting-mta|remote-mta|text
 * REGEX": the regex is the rest of the line.  NULL or a message.
 */
static const char *
detect_parse(struct rules *r, char **f, const char *line, char **gmsg)
{
	struct detect *d;
	const char *pat = line;
	int skip, n;
	GError *gerr = NULL;
	static const char usage[] =
	    "usage: detect NAME header FIELD REGEX | detect NAME reporting-mta|remote-mta|text REGEX";

	if (f[1] == NULL || f[2] == NULL || f[3] == NULL)
		return usage;
	if (!g_regex_match_simple("^[a-z0-9_.-]+$", f[1], 0, 0))
		return "bad name (lower case letters, digits, '.', '_', '-')";
	d = g_new0(struct detect, 1);
	skip = 3;
	if (strcmp(f[2], "header") == 0) {
		d->where = DETECT_HEADER;
		d->field = g_strdup(f[3]);
		skip = 4;
		if (f[4] == NULL) {
			detect_free(d);
			return usage;
		}
	} else if (strcmp(f[2], "reporting-mta") == 0)
		d->where = DETECT_REPORTING_MTA;
	else if (strcmp(f[2], "remote-mta") == 0)
		d->where = DETECT_REMOTE_MTA;
	else if (strcmp(f[2], "text") == 0)
		d->where = DETECT_TEXT;
	else {
		detect_free(d);
		return usage;
	}
	for (n = 0; n < skip; n++) {
		pat += strcspn(pat, " \t");
		pat += strspn(pat, " \t");
	}
	d->re = g_regex_new(pat, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &gerr);
	if (d->re == NULL) {
		*gmsg = g_strdup_printf("bad regex: %s", gerr->message);
		g_error_free(gerr);
		detect_free(d);
		return *gmsg;
	}
	d->name = g_strdup(f[1]);
	d->need = rx_required_lits(pat);
	d->same = r->detects->len;
	for (guint k = 0; d->where == DETECT_HEADER && k < r->detects->len; k++) {
		const struct detect *e = g_ptr_array_index(r->detects, k);

		if (e->where == DETECT_HEADER && g_ascii_strcasecmp(e->field, d->field) == 0) {
			d->same = k;
			break;
		}
	}
	g_ptr_array_add(r->detects, d);
	return NULL;
}

struct rules *
rules_load_data(const char *name, const char *data, gsize len, char **err)
{
	struct rules *r = rules_new();
	struct rules *into = r;		/* where rule and after lines go: r, or r->scoped */
	char **scope = NULL;		/* the current "mta" scope */
	char *gmsg = NULL;		/* a message made for this line */
	char **lines, *buf;
	int i;

	buf = g_strndup(data, len);
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	for (i = 0; lines[i] != NULL; i++) {
		char *line = g_strstrip(lines[i]);
		char **f;
		const char *msg = NULL;

		if (*line == '\0' || *line == '#')
			continue;
		f = g_regex_split_simple("\\s+", line, 0, 0);
		if (strcmp(f[0], "class") == 0) {
			int pc, tc;
			struct class_entry *ce;

			if (f[1] == NULL || f[2] == NULL || (f[3] != NULL && f[4] != NULL))
				msg = "usage: class REASON CLASS [TEMPORARY-CLASS]";
			else if ((pc = class_parse(f[2])) < 0 ||
			    (tc = class_parse(f[3] != NULL ? f[3] : f[2])) < 0)
				msg = "unknown class (hard, soft, block, complaint, autoreply, delivered, unknown)";
			else {
				ce = g_new(struct class_entry, 1);
				ce->perm = pc;
				ce->temp = tc;
				g_hash_table_replace(r->classes, g_strdup(f[1]), ce);
			}
		} else if (strcmp(f[0], "require") == 0) {
			/* require REASON [command CMD] [status PAT] otherwise REASON2 */
			struct require *q = g_new0(struct require, 1);
			int k;

			for (k = 2; f[1] != NULL && f[k] != NULL && f[k + 1] != NULL && msg == NULL; k += 2) {
				if (strcmp(f[k], "command") == 0)
					q->command = g_ascii_strup(f[k + 1], -1);
				else if (strcmp(f[k], "status") == 0) {
					q->status = g_strdup(f[k + 1]);
					if (!valid_status_pattern(q->status))
						msg = "bad status pattern (e.g. 5.1.1, x.2.2, 4.*)";
				} else if (strcmp(f[k], "otherwise") == 0)
					q->otherwise = g_strdup(f[k + 1]);
				else if (strcmp(f[k], "except") == 0 && q->except == NULL)
					q->except = g_strsplit(f[k + 1], ",", -1);
				else
					msg = "usage: require REASON [command CMD] [status PATTERN] [except IDS] otherwise REASON";
			}
			if (msg == NULL && (f[1] == NULL || q->otherwise == NULL || (f[k] != NULL)))
				msg = "usage: require REASON [command CMD] [status PATTERN] [except IDS] otherwise REASON";
			if (msg != NULL)
				require_free(q);
			else
				g_hash_table_replace(r->requires, g_strdup(f[1]), q);
		} else if (strcmp(f[0], "delayed") == 0) {
			/* delayed REASON [except REASON,...] */
			guint nf = g_strv_length(f);

			if ((nf != 2 && nf != 4) || (nf == 4 && strcmp(f[2], "except") != 0))
				msg = "usage: delayed REASON [except REASON[,REASON...]]";
			else {
				g_free(r->delayed);
				g_strfreev(r->delayed_keep);
				r->delayed = g_strdup(f[1]);
				r->delayed_keep = nf == 4 ? g_strsplit(f[3], ",", -1) : NULL;
			}
		} else if (strcmp(f[0], "after") == 0) {
			/* after CMD REASON[,REASON...] becomes REASON2 */
			if (g_strv_length(f) != 5 || strcmp(f[3], "becomes") != 0 ||
			    !g_regex_match_simple("^[A-Za-z]+$", f[1], 0, 0))
				msg = "usage: after COMMAND REASON[,REASON...] becomes REASON";
			else {
				struct after *a = g_new0(struct after, 1);

				a->command = g_ascii_strup(f[1], -1);
				a->reasons = g_strsplit(f[2], ",", -1);
				a->becomes = g_strdup(f[4]);
				a->mtas = g_strdupv(scope);
				g_ptr_array_add(into->afters, a);
			}
		} else if (strcmp(f[0], "rule") == 0) {
			struct rule *ru;
			const char *pat;
			GError *gerr = NULL;

			if (g_strv_length(f) < 5) {
				msg = "usage: rule ID REASON text|regex|status|status-first|code|command PATTERN";
				goto next;
			}
			/* The pattern is the rest of the line after the 4th field, verbatim. */
			pat = line;
			for (int n = 0; n < 4; n++) {
				pat += strcspn(pat, " \t");
				pat += strspn(pat, " \t");
			}
			ru = g_new0(struct rule, 1);
			ru->id = g_strdup(f[1]);
			ru->reason = g_strdup(f[2]);
			if (strcmp(f[3], "text") == 0) {
				ru->type = RULE_TEXT;
				ru->pattern = rules_fold(pat);
			} else if (strcmp(f[3], "regex") == 0) {
				ru->type = RULE_REGEX;
				ru->re = g_regex_new(pat, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, &gerr);
				if (ru->re == NULL) {
					char *m = g_strdup_printf("%s:%d: bad regex: %s", name, i + 1,
					    gerr->message);
					g_error_free(gerr);
					rule_free(ru);
					g_strfreev(f);
					g_strfreev(lines);
					g_strfreev(scope);
					rules_free(r);
					*err = m;
					return NULL;
				}
			} else if (strcmp(f[3], "status") == 0 || strcmp(f[3], "status-first") == 0) {
				ru->type = RULE_STATUS;
				ru->first = f[3][6] == '-';
				ru->pattern = g_strdup(pat);
				if (!valid_status_pattern(pat))
					msg = "bad status pattern (e.g. 5.1.1, x.2.2, 4.*)";
			} else if (strcmp(f[3], "command") == 0) {
				ru->type = RULE_COMMAND;
				ru->pattern = g_ascii_strup(pat, -1);
				if (!g_regex_match_simple("^[A-Z]+(,[A-Z]+)*$", ru->pattern, 0, 0))
					msg = "bad command list (e.g. CONN,EHLO,HELO)";
			} else if (strcmp(f[3], "code") == 0) {
				ru->type = RULE_CODE;
				ru->pattern = g_strdup(pat);
				if (!g_regex_match_simple("^[245][0-9x][0-9x]$", pat, 0, 0))
					msg = "bad reply code pattern (e.g. 550, 55x)";
			} else
				msg = "unknown rule type (text, regex, status, status-first, code, command)";
			if (msg != NULL)
				rule_free(ru);
			else {
				ru->mtas = g_strdupv(scope);
				if (ru->type == RULE_REGEX || ru->type == RULE_TEXT)
					rules_index(into, ru, into->rules->len, pat);
				g_ptr_array_add(into->rules, ru);
			}
		} else if (strcmp(f[0], "detect") == 0)
			msg = detect_parse(r, f, line, &gmsg);
		else if (strcmp(f[0], "mta") == 0) {
			/* mta NAME[,NAME...] | mta * */
			if (f[1] == NULL || f[2] != NULL)
				msg = "usage: mta NAME[,NAME...] | mta *";
			else if (strcmp(f[1], "*") == 0) {
				g_strfreev(scope);
				scope = NULL;
				into = r;
			} else {
				char **names = g_strsplit(f[1], ",", -1);
				guint k;

				for (k = 0; names[k] != NULL && msg == NULL; k++)
					if (!detect_named(r, names[k]))
						msg = gmsg = g_strdup_printf("mta %s: no detect line above names it",
						    names[k]);
				if (msg != NULL)
					g_strfreev(names);
				else {
					g_strfreev(scope);
					scope = names;
					if (r->scoped == NULL)
						r->scoped = rules_new();
					into = r->scoped;
				}
			}
		} else
			msg = "unknown directive (rule, class, require, after, delayed, detect, mta)";
next:
		g_strfreev(f);
		if (msg != NULL) {
			*err = g_strdup_printf("%s:%d: %s", name, i + 1, msg);
			g_free(gmsg);
			g_strfreev(scope);
			g_strfreev(lines);
			rules_free(r);
			return NULL;
		}
	}
	g_strfreev(scope);
	g_strfreev(lines);
	return r;
}

struct rules *
rules_load(const char *path, char **err)
{
	char *data = NULL;
	gsize len = 0;
	GError *gerr = NULL;
	struct rules *r;

	if (path == NULL)
		return rules_load_data("built-in", builtin_rules, sizeof(builtin_rules) - 1, err);
	if (!g_file_get_contents(path, &data, &len, &gerr)) {
		*err = g_strdup_printf("%s:0: %s", path, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	r = rules_load_data(path, data, len, err);
	g_free(data);
	return r;
}

static gboolean
status_matches(const char *pat, const char *status)
{
	const char *p = pat, *s = status;

	if (*p == 'x') {
		if (*s != '4' && *s != '5')
			return FALSE;
	} else if (*p != *s)
		return FALSE;
	p++, s++;
	for (;;) {
		if (*p == '*')
			return TRUE;
		if (*p == '\0')
			return *s == '\0';
		if (*p != *s)
			return FALSE;
		p++, s++;
	}
}

static gboolean
command_matches(const char *list, const char *command)
{
	gsize n = strlen(command);
	const char *p;

	for (p = list; (p = strstr(p, command)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return TRUE;
	return FALSE;
}

/* An offset inside a UTF-8 sequence would not be a character's start: 0 then. */
static gsize
start_offset(const char *text, gsize k)
{
	return ((guchar)text[k] & 0xc0) == 0x80 ? 0 : k;
}

#define MAX_HITS	8

/* Is one of the names (lhost, rhost; either may be NULL) in the scope? */
static gboolean
scope_has(char **mtas, const char *lhost, const char *rhost)
{
	return (lhost != NULL && g_strv_contains((const char *const *)mtas, lhost)) ||
	    (rhost != NULL && g_strv_contains((const char *const *)mtas, rhost));
}

static gboolean
classify(const struct rules *r, const char *lhost, const char *rhost, const char *text,
    const char *status, const char *replycode, const char *command, struct rules_match *out)
{
	/*
	 * Where the anchors of regex rule i are in text: nhit[i] offsets (at
	 * most MAX_HITS, in order) in hit[i]; more than that: nhit[i] is
	 * MAX_HITS + 1 and hit[i][0] is the first.  Every match of the rule
	 * starts with one of its anchors, so the regex is tried anchored at
	 * those offsets only (PCRE then looks at a few bytes, not the whole
	 * text), or, past MAX_HITS, run from the first one.  \b and
	 * lookbehinds still see what precedes the offset.
	 */
	guint32 (*hit)[MAX_HITS] = NULL;
	guint8 *nhit = NULL, *sure = NULL;	/* sure[i]: a whole-match anchor of rule i is there */
	gsize n = 0;
	guint i;
	int ascii = -1;		/* text all ASCII: 1, not: 0, not known yet: -1 */

	if (text != NULL)
		n = strlen(text);
	if (text != NULL && g_hash_table_size(r->anchors) > 0) {
		gsize k;

		hit = g_alloca(r->rules->len * sizeof(*hit));
		nhit = g_alloca(r->rules->len);
		memset(nhit, 0, r->rules->len);
		sure = g_alloca(r->rules->len);
		memset(sure, 0, r->rules->len);
		for (k = 0; k + 3 <= n; k++) {
			guint32 key = trigram(text + k);
			guint h = trigram_hash(key);
			GArray *arr;
			guint j;

			if (!(r->trigram_bits[h >> 3] & (1u << (h & 7))) ||
			    (arr = g_hash_table_lookup(r->anchors, GUINT_TO_POINTER(key))) == NULL)
				continue;
			for (j = 0; j < arr->len; j++) {
				const struct anchor *a = &g_array_index(arr, struct anchor, j);
				guint8 c = nhit[a->rule];

				if (c > MAX_HITS || (c > 0 && hit[a->rule][c - 1] == k) || a->len > n - k)
					continue;
				if (n - k >= 8) {
					guint64 t;

					memcpy(&t, text + k, 8);
					if ((t & a->premask) != a->pre || (a->len > 8 &&
					    memcmp(text + k + 8, a->lit + 8, a->len - 8) != 0))
						continue;
				} else if (memcmp(text + k, a->lit, a->len) != 0)
					continue;
				if (a->whole)
					sure[a->rule] = 1;
				if (c < MAX_HITS)
					hit[a->rule][c] = k;
				nhit[a->rule] = c + 1;
			}
		}
	}
	for (i = 0; i < r->rules->len; i++) {
		const struct rule *ru = g_ptr_array_index(r->rules, i);
		gboolean m = FALSE;

		if (ru->mtas != NULL && !scope_has(ru->mtas, lhost, rhost))
			continue;
		switch (ru->type) {
		case RULE_TEXT:
			if (text != NULL)
				m = ru->filtered && sure != NULL ? sure[i] :
				    strstr(text, ru->pattern) != NULL;
			break;
		case RULE_REGEX:
			if (text == NULL)
				break;
			if (!ru->filtered || nhit == NULL) {
				/* what every match contains is not there: no match (exact on ASCII) */
				if (ru->need != NULL && ascii < 0)
					ascii = all_ascii(text, n);
				if (ru->need == NULL || ascii == 0 || has_lit(text, ru->need))
					m = g_regex_match(ru->re, text, 0, NULL);
			}
			else if (sure[i])
				m = TRUE;
			else if (nhit[i] > 0 && (nhit[i] > MAX_HITS || ru->re_at == NULL))
				m = g_regex_match_full(ru->re, text, n, start_offset(text, hit[i][0]), 0,
				    NULL, NULL);
			else
				for (guint8 c = 0; c < nhit[i] && !m; c++)
					m = g_regex_match_full(ru->re_at, text, n, hit[i][c], 0, NULL,
					    NULL);
			break;
		case RULE_STATUS:
			/* With text, only status-first rules take part (see rules.h). */
			m = status != NULL && (text == NULL || ru->first) &&
			    status_matches(ru->pattern, status);
			break;
		case RULE_COMMAND:
			m = text == NULL && command != NULL && command_matches(ru->pattern, command);
			break;
		case RULE_CODE:
			m = text == NULL && replycode != NULL && strlen(replycode) == 3 &&
			    (ru->pattern[0] == replycode[0]) &&
			    (ru->pattern[1] == 'x' || ru->pattern[1] == replycode[1]) &&
			    (ru->pattern[2] == 'x' || ru->pattern[2] == replycode[2]);
			break;
		}
		if (m) {
			out->reason = ru->reason;
			out->id = ru->id;
			out->by_text = ru->type == RULE_TEXT || ru->type == RULE_REGEX;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
rules_classify(const struct rules *r, const char *text, const char *status,
    const char *replycode, const char *command, struct rules_match *out)
{
	return classify(r, NULL, NULL, text, status, replycode, command, out);
}

gboolean
rules_classify_scoped(const struct rules *r, const char *lhost, const char *rhost,
    const char *text, const char *status, const char *replycode, const char *command,
    struct rules_match *out)
{
	if (r->scoped == NULL || (lhost == NULL && rhost == NULL))
		return FALSE;
	return classify(r->scoped, lhost, rhost, text, status, replycode, command, out);
}

const char *
rules_after_scoped(const struct rules *r, const char *lhost, const char *rhost,
    const char *reason, const char *command)
{
	guint i;

	if (r->scoped == NULL || reason == NULL || command == NULL ||
	    (lhost == NULL && rhost == NULL))
		return reason;
	for (i = 0; i < r->scoped->afters->len; i++) {
		const struct after *a = g_ptr_array_index(r->scoped->afters, i);

		if (scope_has(a->mtas, lhost, rhost) && g_ascii_strcasecmp(a->command, command) == 0 &&
		    g_strv_contains((const char *const *)a->reasons, reason))
			return a->becomes;
	}
	return reason;
}

/*
 * A value a "detect" regex is tried on, read once however many lines try
 * it.  Header values and DSN fields arrive as the message had them: a
 * regex (UTF-8 mode, PCRE2 JIT) must only ever see valid UTF-8, or it
 * reads past its buffer.
 */
struct dval {
	const char *v;		/* as given */
	const char *valid;	/* v, or v made valid */
	const char *lower;	/* an ASCII v in lower case, or NULL: not ASCII */
	char *own_valid, *own_lower;
	gsize n;
};

/* folded: v is rules_fold() text, lower case already. */
static void
dval_init(struct dval *x, const char *v, gboolean folded)
{
	x->v = x->valid = v;
	x->lower = x->own_valid = x->own_lower = NULL;
	x->n = strlen(v);
	if (all_ascii(v, x->n))
		x->lower = folded ? v : (x->own_lower = g_ascii_strdown(v, x->n));
	else if (!g_utf8_validate(v, x->n, NULL))
		x->valid = x->own_valid = g_utf8_make_valid(v, x->n);
}

static void
dval_clear(struct dval *x)
{
	g_free(x->own_valid);
	g_free(x->own_lower);
}

/*
 * Does d match x?  Its regex is caseless: on an ASCII value, one of the
 * literals every match contains must be in the value's lower case, or
 * there is no match (the regex need not run); on anything else, a
 * non-ASCII character may stand for an ASCII one, so the regex decides.
 */
static gboolean
detect_match(const struct detect *d, const struct dval *x)
{
	if (d->need != NULL && x->lower != NULL && !has_lit(x->lower, d->need))
		return FALSE;
	return g_regex_match(d->re, x->valid, 0, NULL);
}

const char *
rules_detect(const struct rules *r, const struct fields *top, const char *reporting_mta,
    const char *text)
{
	const char *name = NULL;
	/* the values read so far: the text, the Reporting-MTA, a few header fields */
	struct dval vals[8], one;
	guint nvals = 0, i, k;
	/* per line: its header field's value, looked up by the first line that reads it */
	const char **hv = g_alloca(r->detects->len * sizeof(*hv) + 1);

	for (i = 0; i < r->detects->len && name == NULL; i++) {
		const struct detect *d = g_ptr_array_index(r->detects, i);
		const char *v = NULL;
		struct dval *x = NULL;

		switch (d->where) {
		case DETECT_HEADER:
			/* d->same: the first line that reads this field, which looked it up */
			v = hv[i] = d->same < i ? hv[d->same] :
			    top != NULL ? fields_get(top, 0, d->field) : NULL;
			break;
		case DETECT_REPORTING_MTA:
			v = reporting_mta;
			break;
		case DETECT_TEXT:
			v = text;
			break;
		case DETECT_REMOTE_MTA:
			break;
		}
		if (v == NULL)
			continue;
		for (k = 0; k < nvals && x == NULL; k++)
			if (vals[k].v == v)
				x = &vals[k];
		if (x == NULL) {
			/* more distinct values than kept: this one is read on its own */
			x = nvals < G_N_ELEMENTS(vals) ? &vals[nvals++] : &one;
			dval_init(x, v, v == text);
		}
		if (detect_match(d, x))
			name = d->name;
		if (x == &one)
			dval_clear(&one);
	}
	for (k = 0; k < nvals; k++)
		dval_clear(&vals[k]);
	return name;
}

const char *
rules_detect_remote(const struct rules *r, const char *remote_mta)
{
	const char *name = NULL;
	struct dval x;
	guint i;

	if (remote_mta == NULL)
		return NULL;
	dval_init(&x, remote_mta, FALSE);
	for (i = 0; i < r->detects->len && name == NULL; i++) {
		const struct detect *d = g_ptr_array_index(r->detects, i);

		if (d->where == DETECT_REMOTE_MTA && detect_match(d, &x))
			name = d->name;
	}
	dval_clear(&x);
	return name;
}

const char *
rules_require(const struct rules *r, const char *reason, const char *id, const char *command,
    const char *status)
{
	const struct require *q;

	if (reason == NULL || (q = g_hash_table_lookup(r->requires, reason)) == NULL)
		return reason;
	/*
	 * The listed rules' wordings always stand; so does a status matching
	 * PATTERN.  Then a known command decides: CMD itself keeps the reason,
	 * and so does any command before DATA (a content filter only acts once
	 * it has the message).  With neither, the alternative.
	 */
	if (id != NULL && q->except != NULL && g_strv_contains((const char *const *)q->except, id))
		return reason;
	if (q->status != NULL && status != NULL && status_matches(q->status, status))
		return reason;
	if (command != NULL) {
		if (q->command == NULL || g_ascii_strcasecmp(q->command, command) == 0 ||
		    g_ascii_strcasecmp(command, "DATA") != 0)
			return reason;
		return q->otherwise;
	}
	return q->otherwise;
}

const char *
rules_after(const struct rules *r, const char *reason, const char *command)
{
	guint i;

	if (reason == NULL || command == NULL)
		return reason;
	for (i = 0; i < r->afters->len; i++) {
		const struct after *a = g_ptr_array_index(r->afters, i);

		if (g_ascii_strcasecmp(a->command, command) == 0 &&
		    g_strv_contains((const char *const *)a->reasons, reason))
			return a->becomes;
	}
	return reason;
}

const char *
rules_delayed(const struct rules *r, const char *reason)
{
	if (r->delayed == NULL || (reason != NULL && r->delayed_keep != NULL &&
	    g_strv_contains((const char *const *)r->delayed_keep, reason)))
		return reason;
	return r->delayed;
}

enum report_class
rules_class(const struct rules *r, const char *reason, gboolean permanent)
{
	const struct class_entry *ce;

	if (reason == NULL || (ce = g_hash_table_lookup(r->classes, reason)) == NULL)
		return permanent ? REPORT_CLASS_UNKNOWN : REPORT_CLASS_SOFT;
	return permanent ? ce->perm : ce->temp;
}
