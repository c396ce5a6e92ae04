/*
 * rules_load.c - load the classification rules (see rules.h): the rules
 * file's lines into struct rules (rules_int.h), with the index of the
 * regex rules' anchors that rules_match.c uses as a prefilter.
 */
#include <string.h>
#include <glib.h>

#include "parsers/rules.h"
#include "parsers/rules_int.h"
#include "parsers/rx_lits.h"

static void
rule_free(gpointer p)
{
	struct rule *r = p;

	g_free(r->id);
	g_free(r->reason);
	g_free(r->pattern);
	g_strfreev(r->mtas);
	g_strfreev(r->need);
	rules_re_free(r->re);
	g_free(r);
}

static void
detect_free(gpointer x)
{
	struct detect *d = x;

	g_free(d->name);
	g_free(d->field);
	g_strfreev(d->need);
	rules_re_free(d->re);
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
	g_free(r->slots);
	g_ptr_array_free(r->rules, TRUE);
	g_ptr_array_free(r->afters, TRUE);
	g_free(r->delayed);
	g_strfreev(r->delayed_keep);
	g_strfreev(r->delayed_never);
	g_strfreev(r->delayed_codes);
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
	g_strfreev(q->keep);
	g_free(q);
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

/* What every match of regex rule ru (pattern pat) contains, if anything. */
static void
rule_need(struct rule *ru, const char *pat)
{
	ru->need = rx_required_lits(pat);
	ru->need_ascii = ru->need != NULL;
	for (char **l = ru->need; l != NULL && *l != NULL; l++)
		for (const char *c = *l; *c != '\0'; c++)
			if ((guchar)*c >= 0x80)
				ru->need_ascii = FALSE;
}

/* r's anchors into r->slots (rules_int.h), once all are added. */
static void
anchors_slot(struct rules *r)
{
	GHashTableIter it;
	gpointer k, v;
	guint n = 4;

	while (n < 2 * g_hash_table_size(r->anchors))
		n *= 2;
	r->slots = g_new0(struct anchor_slot, n);
	r->slot_mask = n - 1;
	g_hash_table_iter_init(&it, r->anchors);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		guint32 key = GPOINTER_TO_UINT(k);
		guint s = trigram_hash(key) & r->slot_mask;

		while (r->slots[s].arr != NULL)
			s = (s + 1) & r->slot_mask;
		r->slots[s].key = key;
		r->slots[s].arr = v;
	}
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
	gboolean behind, ok = FALSE;

	if (ru->type == RULE_TEXT) {
		if (strlen(ru->pattern) >= 3) {
			ru->filtered = TRUE;
			anchor_add(r, ru->pattern, i, TRUE);
		}
		return;
	}
	ru->ascii = TRUE;
	for (const char *c = pat; *c != '\0'; c++)
		if ((guchar)*c >= 0x80)
			ru->ascii = FALSE;
	/*
	 * Anchors read past lookbehinds only for an ASCII pattern, and then
	 * only serve ASCII texts (ru->behind): on any other text such a rule
	 * runs as one without anchors, the regex deciding what a non-ASCII
	 * character stands for.
	 */
	for (behind = FALSE; ; behind = TRUE) {
		lits = g_ptr_array_new_with_free_func(rx_lit_free);
		for (from = 0; ; from = to + 1) {
			to = rx_alt_end(pat, n, from);
			if (!(ok = rx_alt_anchors(pat + from, to - from, behind, lits)) || to >= n)
				break;
		}
		if (ok)
			break;
		g_ptr_array_free(lits, TRUE);
		if (behind || !ru->ascii) {
			rule_need(ru, pat);
			return;
		}
	}
	ru->filtered = TRUE;
	if ((ru->behind = behind))
		rule_need(ru, pat);
	/*
	 * Tried anchored at each offset where one of its anchors is
	 * (rules_re.c) when its anchors are all its starts: in an ASCII
	 * pattern, or in one whose anchors are ASCII (its other bytes are
	 * past them, as in "empf[a\xc3\xa4]nger"); a non-ASCII anchor may
	 * miss the upper case the caseless regex finds after it.  But on a
	 * text all ASCII (folded: no upper case), a non-ASCII anchor matches
	 * nothing, unless it holds a character that case folding may
	 * make one with an ASCII letter (long s, KELVIN SIGN; the Turkish
	 * dotted and dotless i, to be safe): every match then starts where an
	 * ASCII anchor is, found as exactly as in an ASCII pattern, and the
	 * rule is tried anchored there too (at_ascii), which spares the huge
	 * multilingual rules a JIT compile.
	 */
	ru->at = ru->at_ascii = TRUE;
	for (j = 0; j < lits->len; j++) {
		const struct rx_lit *l = g_ptr_array_index(lits, j);

		anchor_add(r, l->s, i, l->whole && ru->ascii);
		for (const guchar *c = (const guchar *)l->s; *c != '\0'; c++)
			if (*c >= 0x80) {
				ru->at = FALSE;
				if ((c[0] == 0xc5 && c[1] == 0xbf) || (c[0] == 0xc4 && (c[1] == 0xb0 ||
				    c[1] == 0xb1)) || (c[0] == 0xe2 && c[1] == 0x84 && c[2] == 0xaa))
					ru->at_ascii = FALSE;
			}
	}
	g_ptr_array_free(lits, TRUE);
	/* whole, it then runs on non-ASCII texts alone: few pay for a JIT compile */
	if (!ru->at && ru->at_ascii)
		ru->re->jit_after = RULES_RE_JIT_RARE;
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

/* The rest of line after its first n fields: a pattern, verbatim. */
static const char *
skip_fields(const char *line, int n)
{
	const char *pat = line;

	for (; n > 0; n--) {
		pat += strcspn(pat, " \t");
		pat += strspn(pat, " \t");
	}
	return pat;
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
 * "detect NAME header FIELD REGEX", "detect NAME
 * reporting-mta|remote-mta|domain|text REGEX": the regex is the rest of the
 * line.  NULL or a message.
 */
static const char *
detect_parse(struct rules *r, char **f, const char *line, char **gmsg)
{
	struct detect *d;
	const char *pat;
	int skip;
	GError *gerr = NULL;
	static const char usage[] =
	    "usage: detect NAME header FIELD REGEX | detect NAME reporting-mta|remote-mta|domain|text REGEX";

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
	else if (strcmp(f[2], "domain") == 0)
		d->where = DETECT_DOMAIN;
	else if (strcmp(f[2], "text") == 0)
		d->where = DETECT_TEXT;
	else {
		detect_free(d);
		return usage;
	}
	pat = skip_fields(line, skip);
	d->re = rules_re_new(pat, G_REGEX_CASELESS, &gerr);
	/*
	 * A detect line runs at most once a report, mostly on a short header
	 * value: interpreted matches there cost little more than the JIT's,
	 * and only a regex used that often pays for its compile.
	 */
	if (d->re != NULL)
		d->re->jit_after = RULES_RE_JIT_RARE;
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

/* The reading of one rules file: where its lines go. */
struct load {
	struct rules *r;
	struct rules *into;		/* where rule and after lines go: r, or r->scoped */
	char **scope;			/* the current "mta" scope */
	guint scope_n;			/* "mta" lines with names so far */
	char *gmsg;			/* a message made for this line */
	const char *line;		/* the line, stripped */
	/* compiled once per file when a line needs them, not once per
	 * line: compiling costs more than the match */
	GRegex *space;			/* \s+, when a line needs it */
	GRegex *status;			/* a status pattern */
};

static gboolean
valid_status_pattern(struct load *l, const char *s)
{
	if (l->status == NULL)
		l->status = g_regex_new("^[245x]\\.(\\d{1,3}|\\*)(\\.(\\d{1,3}|\\*))?$", 0, 0, NULL);
	return g_regex_match(l->status, s, 0, NULL);
}

/* class REASON CLASS [TEMPORARY-CLASS] */
static const char *
load_class(struct load *l, char **f)
{
	int pc, tc;
	struct class_entry *ce;

	if (f[1] == NULL || f[2] == NULL || (f[3] != NULL && f[4] != NULL))
		return "usage: class REASON CLASS [TEMPORARY-CLASS]";
	if ((pc = class_parse(f[2])) < 0 || (tc = class_parse(f[3] != NULL ? f[3] : f[2])) < 0)
		return "unknown class (hard, soft, block, complaint, autoreply, delivered, unknown)";
	ce = g_new(struct class_entry, 1);
	ce->perm = pc;
	ce->temp = tc;
	g_hash_table_replace(l->r->classes, g_strdup(f[1]), ce);
	return NULL;
}

/* require REASON [command CMD] [status PAT] otherwise REASON2 */
static const char *
load_require(struct load *l, char **f)
{
	struct require *q = g_new0(struct require, 1);
	const char *msg = NULL;
	int k;

	for (k = 2; f[1] != NULL && f[k] != NULL && f[k + 1] != NULL && msg == NULL; k += 2) {
		if (strcmp(f[k], "command") == 0)
			q->command = g_ascii_strup(f[k + 1], -1);
		else if (strcmp(f[k], "status") == 0) {
			q->status = g_strdup(f[k + 1]);
			if (!valid_status_pattern(l, q->status))
				msg = "bad status pattern (e.g. 5.1.1, x.2.2, 4.*)";
		} else if (strcmp(f[k], "otherwise") == 0)
			q->otherwise = g_strdup(f[k + 1]);
		else if (strcmp(f[k], "except") == 0 && q->except == NULL)
			q->except = g_strsplit(f[k + 1], ",", -1);
		else if (strcmp(f[k], "keep") == 0 && q->keep == NULL)
			q->keep = g_strsplit(f[k + 1], ",", -1);
		else
			msg = "usage: require REASON [command CMD] [status PATTERN] [except IDS] [keep IDS] otherwise REASON";
	}
	if (msg == NULL && (f[1] == NULL || q->otherwise == NULL || (f[k] != NULL)))
		msg = "usage: require REASON [command CMD] [status PATTERN] [except IDS] [keep IDS] otherwise REASON";
	if (msg != NULL)
		require_free(q);
	else
		g_hash_table_replace(l->r->requires, g_strdup(f[1]), q);
	return msg;
}

/* delayed REASON [except REASON|RULE-ID|!RULE-ID,...] [codes REASON,...] */
static const char *
load_delayed(struct load *l, char **f)
{
	guint nf = g_strv_length(f), k = 2, i;
	char **except = NULL, **codes = NULL;
	GPtrArray *keep, *never;

	if (k + 1 < nf && strcmp(f[k], "except") == 0) {
		except = g_strsplit(f[k + 1], ",", -1);
		k += 2;
	}
	if (k + 1 < nf && strcmp(f[k], "codes") == 0) {
		codes = g_strsplit(f[k + 1], ",", -1);
		k += 2;
	}
	if (nf < 2 || k != nf) {
		g_strfreev(except);
		g_strfreev(codes);
		return "usage: delayed REASON [except REASON|RULE-ID|!RULE-ID[,...]] [codes REASON[,...]]";
	}
	/* "!RULE-ID": that rule's reason never stands, kept apart from the others */
	keep = g_ptr_array_new();
	never = g_ptr_array_new();
	for (i = 0; except != NULL && except[i] != NULL; i++)
		if (except[i][0] == '!')
			g_ptr_array_add(never, g_strdup(except[i] + 1));
		else
			g_ptr_array_add(keep, g_strdup(except[i]));
	g_ptr_array_add(keep, NULL);
	g_ptr_array_add(never, NULL);
	g_strfreev(except);
	g_free(l->r->delayed);
	g_strfreev(l->r->delayed_keep);
	g_strfreev(l->r->delayed_never);
	g_strfreev(l->r->delayed_codes);
	l->r->delayed = g_strdup(f[1]);
	l->r->delayed_keep = (char **)g_ptr_array_free(keep, FALSE);
	l->r->delayed_never = (char **)g_ptr_array_free(never, FALSE);
	l->r->delayed_codes = codes;
	return NULL;
}

/* after CMD REASON[,REASON...] becomes REASON2 */
static const char *
load_after(struct load *l, char **f)
{
	struct after *a;

	if (g_strv_length(f) != 5 || strcmp(f[3], "becomes") != 0 ||
	    !g_regex_match_simple("^[A-Za-z]+$", f[1], 0, 0))
		return "usage: after COMMAND REASON[,REASON...] becomes REASON";
	a = g_new0(struct after, 1);
	a->command = g_ascii_strup(f[1], -1);
	a->reasons = g_strsplit(f[2], ",", -1);
	a->becomes = g_strdup(f[4]);
	a->mtas = g_strdupv(l->scope);
	g_ptr_array_add(l->into->afters, a);
	return NULL;
}

/* The pattern of a rule of type type, in ru; a message when it is no good one. */
static const char *
rule_pattern(struct load *l, struct rule *ru, const char *type, const char *pat)
{
	GError *gerr = NULL;

	if (strcmp(type, "text") == 0) {
		ru->type = RULE_TEXT;
		ru->pattern = rules_fold(pat);
	} else if (strcmp(type, "regex") == 0) {
		ru->type = RULE_REGEX;
		ru->re = rules_re_new(pat, G_REGEX_CASELESS, &gerr);
		if (ru->re == NULL) {
			l->gmsg = g_strdup_printf("bad regex: %s", gerr->message);
			g_error_free(gerr);
			return l->gmsg;
		}
	} else if (strcmp(type, "status") == 0 || strcmp(type, "status-first") == 0) {
		ru->type = RULE_STATUS;
		ru->first = type[6] == '-';
		ru->pattern = g_strdup(pat);
		if (!valid_status_pattern(l, pat))
			return "bad status pattern (e.g. 5.1.1, x.2.2, 4.*)";
	} else if (strcmp(type, "command") == 0) {
		ru->type = RULE_COMMAND;
		ru->pattern = g_ascii_strup(pat, -1);
		if (!g_regex_match_simple("^[A-Z]+(,[A-Z]+)*$", ru->pattern, 0, 0))
			return "bad command list (e.g. CONN,EHLO,HELO)";
	} else if (strcmp(type, "code") == 0) {
		ru->type = RULE_CODE;
		ru->pattern = g_strdup(pat);
		if (!g_regex_match_simple("^[245][0-9x][0-9x]$", pat, 0, 0))
			return "bad reply code pattern (e.g. 550, 55x)";
	} else
		return "unknown rule type (text, regex, status, status-first, code, command)";
	return NULL;
}

/* rule ID REASON TYPE PATTERN */
static const char *
load_rule(struct load *l, char **f)
{
	struct rule *ru;
	const char *pat, *msg;

	if (g_strv_length(f) < 5)
		return "usage: rule ID REASON text|regex|status|status-first|code|command PATTERN";
	/* The pattern is the rest of the line after the 4th field, verbatim. */
	pat = skip_fields(l->line, 4);
	ru = g_new0(struct rule, 1);
	ru->id = g_strdup(f[1]);
	ru->reason = g_strdup(f[2]);
	if ((msg = rule_pattern(l, ru, f[3], pat)) != NULL) {
		rule_free(ru);
		return msg;
	}
	ru->mtas = g_strdupv(l->scope);
	ru->scope = l->scope_n;
	if (ru->type == RULE_REGEX || ru->type == RULE_TEXT)
		rules_index(l->into, ru, l->into->rules->len, pat);
	g_ptr_array_add(l->into->rules, ru);
	return NULL;
}

static const char *
load_detect(struct load *l, char **f)
{
	return detect_parse(l->r, f, l->line, &l->gmsg);
}

/* mta NAME[,NAME...] | mta * */
static const char *
load_mta(struct load *l, char **f)
{
	char **names;
	guint k;

	if (f[1] == NULL || f[2] != NULL)
		return "usage: mta NAME[,NAME...] | mta *";
	if (strcmp(f[1], "*") == 0) {
		g_strfreev(l->scope);
		l->scope = NULL;
		l->into = l->r;
		return NULL;
	}
	names = g_strsplit(f[1], ",", -1);
	for (k = 0; names[k] != NULL; k++)
		if (!detect_named(l->r, names[k])) {
			l->gmsg = g_strdup_printf("mta %s: no detect line above names it", names[k]);
			g_strfreev(names);
			return l->gmsg;
		}
	g_strfreev(l->scope);
	l->scope = names;
	l->scope_n++;
	if (l->r->scoped == NULL)
		l->r->scoped = rules_new();
	l->into = l->r->scoped;
	return NULL;
}

/* The directives of a rules file, each read by its own function. */
static const struct directive {
	const char *name;
	const char *(*load)(struct load *, char **);
} directives[] = {
	{ "class", load_class },
	{ "require", load_require },
	{ "delayed", load_delayed },
	{ "after", load_after },
	{ "rule", load_rule },
	{ "detect", load_detect },
	{ "mta", load_mta },
};

/* One line's fields f: a message when the line is no good one. */
static const char *
load_line(struct load *l, char **f)
{
	guint k;

	for (k = 0; k < G_N_ELEMENTS(directives); k++)
		if (strcmp(f[0], directives[k].name) == 0)
			return directives[k].load(l, f);
	return "unknown directive (rule, class, require, after, delayed, detect, mta)";
}

/*
 * Might the UTF-8 sequence at p be a space that \s takes beyond
 * ASCII (Unicode's White_Space: U+0085, U+00A0, U+1680, U+2000 to U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000)?
 */
static gboolean
unicode_space(const guchar *p)
{
	switch (p[0]) {
	case 0xc2:
		return p[1] == 0x85 || p[1] == 0xa0;
	case 0xe1:
		return p[1] == 0x9a && p[2] == 0x80;
	case 0xe2:
		return (p[1] == 0x80 && (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 ||
		    p[2] == 0xaf)) || (p[1] == 0x81 && p[2] == 0x9f);
	case 0xe3:
		return p[1] == 0x80 && p[2] == 0x80;
	default:
		return FALSE;
	}
}

/*
 * A stripped line's fields, as g_regex_split() with \s+ makes them: a
 * line of printable ASCII, spaces and tabs, and of UTF-8 without any of
 * the spaces above (every line of a rules file so far) is split here at
 * its spaces and tabs, as splitting with the regex costs more than the
 * rest of loading the line; any other line goes to the regex, which knows
 * what else is a space.
 */
static char **
load_split(struct load *l, const char *line)
{
	GPtrArray *f;
	const char *p, *start;
	gboolean ascii = TRUE;

	/* (unicode_space() stops at the first byte that differs: never past a NUL) */
	for (p = line; *p != '\0'; p++)
		if ((guchar)*p >= 0x80) {
			if (unicode_space((const guchar *)p))
				break;
			ascii = FALSE;
		} else if (!((*p >= '!' && *p <= '~') || *p == ' ' || *p == '\t'))
			break;
	if (*p != '\0' || (!ascii && !g_utf8_validate(line, -1, NULL))) {
		if (l->space == NULL)
			l->space = g_regex_new("\\s+", 0, 0, NULL);
		return g_regex_split(l->space, line, 0);
	}
	f = g_ptr_array_new();
	for (p = line; *p != '\0'; ) {
		for (start = p; *p != '\0' && *p != ' ' && *p != '\t'; p++)
			;
		g_ptr_array_add(f, g_strndup(start, (gsize)(p - start)));
		while (*p == ' ' || *p == '\t')
			p++;
	}
	g_ptr_array_add(f, NULL);
	return (char **)g_ptr_array_free(f, FALSE);
}

static void
load_regexes_free(struct load *l)
{
	if (l->space != NULL)
		g_regex_unref(l->space);
	if (l->status != NULL)
		g_regex_unref(l->status);
}

struct rules *
rules_load_data(const char *name, const char *data, gsize len, char **err)
{
	struct load l = { NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL };
	char **lines, *buf;
	int i;

	l.r = l.into = rules_new();
	buf = g_strndup(data, len);
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	for (i = 0; lines[i] != NULL; i++) {
		char *line = g_strstrip(lines[i]);
		char **f;
		const char *msg;

		if (*line == '\0' || *line == '#')
			continue;
		f = load_split(&l, line);
		l.line = line;
		msg = load_line(&l, f);
		g_strfreev(f);
		if (msg != NULL) {
			*err = g_strdup_printf("%s:%d: %s", name, i + 1, msg);
			g_free(l.gmsg);
			g_strfreev(l.scope);
			load_regexes_free(&l);
			g_strfreev(lines);
			rules_free(l.r);
			return NULL;
		}
	}
	g_strfreev(l.scope);
	load_regexes_free(&l);
	g_strfreev(lines);
	anchors_slot(l.r);
	if (l.r->scoped != NULL)
		anchors_slot(l.r->scoped);
	return l.r;
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
