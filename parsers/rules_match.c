/*
 * rules_match.c - apply the classification rules (see rules.h).
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
#include "parsers/rules_int.h"
#include "parsers/scan.h"

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

/*
 * Where the anchors of the regex rules are in text: for rule i, nhit[i]
 * offsets (at most MAX_HITS, in order) in hit[i]; more than that: nhit[i]
 * is MAX_HITS + 1 and hit[i][0] is the first.  Every match of the rule
 * starts with one of its anchors, so the regex is tried anchored at those
 * offsets only (PCRE then looks at a few bytes, not the whole text), or,
 * past MAX_HITS, run from the first one.  \b and lookbehinds still see
 * what precedes the offset.  sure[i]: a whole-match anchor of rule i is
 * there.
 */
struct hits {
	guint32 (*hit)[MAX_HITS];
	guint8 *nhit;
	guint8 *sure;
};

/* One pass over text (n bytes) fills h (its arrays zeroed, one entry a rule). */
static void
find_anchors(const struct rules *r, const char *text, gsize n, struct hits *h)
{
	gsize k;
	/* rolled: each step reads one byte, not three */
	guint32 key = n >= 3 ? (guint32)(guint8)text[0] << 8 | (guint32)(guint8)text[1] << 16 : 0;

	for (k = 0; k + 3 <= n; k++) {
		guint th;
		GArray *arr;
		guint j, s;
		guint64 t = 0;
		gboolean wide;

		key = key >> 8 | (guint32)(guint8)text[k + 2] << 16;
		th = trigram_hash(key);

		if (!(r->trigram_bits[th >> 3] & (1u << (th & 7))))
			continue;
		for (s = th & r->slot_mask; (arr = r->slots[s].arr) != NULL && r->slots[s].key != key;
		    s = (s + 1) & r->slot_mask)
			;
		if (arr == NULL)
			continue;
		/* the text's eight bytes here, read once for all the trigram's anchors */
		if ((wide = n - k >= 8))
			memcpy(&t, text + k, 8);
		for (j = 0; j < arr->len; j++) {
			const struct anchor *a = &g_array_index(arr, struct anchor, j);
			guint8 c;

			/* most anchors differ from the text: that is tested first */
			if (wide ? (t & a->premask) != a->pre || a->len > n - k || (a->len > 8 &&
			    memcmp(text + k + 8, a->lit + 8, a->len - 8) != 0) :
			    a->len > n - k || memcmp(text + k, a->lit, a->len) != 0)
				continue;
			c = h->nhit[a->rule];
			if (c > MAX_HITS || (c > 0 && h->hit[a->rule][c - 1] == k))
				continue;
			if (a->whole)
				h->sure[a->rule] = 1;
			if (c < MAX_HITS)
				h->hit[a->rule][c] = k;
			h->nhit[a->rule] = c + 1;
		}
	}
}

/*
 * Is a caseless match of an ASCII literal in the folded text t
 * the literal's own bytes?  On ASCII, yes; on any text, unless it holds
 * one of the two characters that Unicode's case folding makes one with an
 * ASCII letter, as PCRE's caseless UTF mode does: U+017F (long s) for "s"
 * and U+212A (Kelvin sign) for "k".  (Only the simple foldings count there:
 * the dotted and dotless i of Turkish are not one with "i".)
 */
static gboolean
lits_exact(const char *t)
{
	return strstr(t, "\xc5\xbf") == NULL && strstr(t, "\xe2\x84\xaa") == NULL;
}

/*
 * Does regex rule i (ru) match text (n bytes)?  h: the anchors found, or
 * NULL arrays when there was no index.  *ascii: text all ASCII (1), not
 * (0), not known yet (-1); *exact: lits_exact() of the text, likewise.
 */
static gboolean
regex_matches(const struct rule *ru, guint i, const char *text, gsize n,
    const struct hits *h, int *ascii, int *exact)
{
	gboolean m = FALSE;

	if (ru->behind && *ascii < 0)
		*ascii = all_ascii(text, n);
	if (!ru->filtered || h->nhit == NULL || (ru->behind && *ascii == 0)) {
		/* what every match contains is not there: no match (exact when
		 * the literals and their matches are the same bytes) */
		if (ru->need != NULL && *ascii < 0)
			*ascii = all_ascii(text, n);
		if (ru->need_ascii && *ascii == 0 && *exact < 0)
			*exact = lits_exact(text);
		if (ru->need == NULL || (*ascii == 0 && !(ru->need_ascii && *exact == 1)) ||
		    has_lit(text, ru->need))
			m = g_regex_match(rules_re_get(ru->re), text, 0, NULL);
	} else if (h->sure[i])
		m = TRUE;
	else if (h->nhit[i] > 0 && (h->nhit[i] > MAX_HITS || !(ru->at ||
	    (ru->at_ascii && (*ascii >= 0 ? *ascii : (*ascii = all_ascii(text, n)))))))
		m = g_regex_match_full(rules_re_get(ru->re), text, n,
		    start_offset(text, h->hit[i][0]), 0, NULL, NULL);
	else
		for (guint8 c = 0; c < h->nhit[i] && !m; c++)
			m = rules_re_anchored(ru->re, text, n, h->hit[i][c]);
	return m;
}

static gboolean
classify(const struct rules *r, const char *lhost, const char *rhost, const char *text,
    const char *status, const char *replycode, const char *command, struct rules_match *out)
{
	struct hits h = { NULL, NULL, NULL };
	gsize n = 0;
	guint i;
	int ascii = -1, exact = -1;
	guint scope = 0;	/* the "mta" line whose names in_scope says were given */
	gboolean in_scope = FALSE;

	if (text != NULL)
		n = strlen(text);
	if (text != NULL && g_hash_table_size(r->anchors) > 0) {
		/* on the stack: this runs for every record */
		h.hit = g_alloca(r->rules->len * sizeof(*h.hit));
		h.nhit = g_alloca(r->rules->len);
		memset(h.nhit, 0, r->rules->len);
		h.sure = g_alloca(r->rules->len);
		memset(h.sure, 0, r->rules->len);
		find_anchors(r, text, n, &h);
	}
	for (i = 0; i < r->rules->len; i++) {
		const struct rule *ru = g_ptr_array_index(r->rules, i);
		gboolean m = FALSE;

		/* the rules of one "mta" line follow one another: its names are read once */
		if (ru->mtas != NULL && ru->scope != scope) {
			scope = ru->scope;
			in_scope = scope_has(ru->mtas, lhost, rhost);
		}
		if (ru->mtas != NULL && !in_scope)
			continue;
		switch (ru->type) {
		case RULE_TEXT:
			if (text != NULL)
				m = ru->filtered && h.sure != NULL ? h.sure[i] :
				    strstr(text, ru->pattern) != NULL;
			break;
		case RULE_REGEX:
			m = text != NULL && regex_matches(ru, i, text, n, &h, &ascii, &exact);
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
	const char *lower;	/* v with ASCII in lower case where the literals of a
				 * match are its own bytes (lits_exact()), or NULL */
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
	if (!all_ascii(v, x->n)) {
		if (!g_utf8_validate(v, x->n, NULL)) {
			x->valid = x->own_valid = g_utf8_make_valid(v, x->n);
			return;
		}
		if (!lits_exact(v))
			return;
	}
	x->lower = folded ? v : (x->own_lower = scan_ascii_down(v, x->n));
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
 * there is no match (the regex need not run); so on valid UTF-8 with no
 * character that stands for an ASCII one (lits_exact()); on anything
 * else, the regex decides.
 */
static gboolean
detect_match(const struct detect *d, const struct dval *x)
{
	if (d->need != NULL && x->lower != NULL && !has_lit(x->lower, d->need))
		return FALSE;
	return g_regex_match(rules_re_get(d->re), x->valid, 0, NULL);
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
		case DETECT_DOMAIN:
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

/* The first detect line of kind where that matches v; NULL if none. */
static const char *
detect_one(const struct rules *r, enum detect_where where, const char *v)
{
	const char *name = NULL;
	struct dval x;
	guint i;

	if (v == NULL)
		return NULL;
	dval_init(&x, v, FALSE);
	for (i = 0; i < r->detects->len && name == NULL; i++) {
		const struct detect *d = g_ptr_array_index(r->detects, i);

		if (d->where == where && detect_match(d, &x))
			name = d->name;
	}
	dval_clear(&x);
	return name;
}

const char *
rules_detect_remote(const struct rules *r, const char *remote_mta, const char *domain)
{
	const char *name = detect_one(r, DETECT_REMOTE_MTA, remote_mta);

	return name != NULL ? name : detect_one(r, DETECT_DOMAIN, domain);
}

const char *
rules_require(const struct rules *r, const char *reason, const char *id, const char *command,
    const char *status)
{
	const struct require *q;

	if (reason == NULL || (q = g_hash_table_lookup(r->requires, reason)) == NULL)
		return reason;
	/*
	 * The kept rules (a provider's own codes) always stand; so does a
	 * status matching PATTERN.  Then a known command
	 * decides: CMD itself keeps the reason, and so does any command before
	 * DATA; after DATA the recipient had been accepted, so whatever the
	 * words, a content filter spoke (it only acts once it has the
	 * message).  With no command, the listed rules' wordings (only ever
	 * used for that reason) stand; else the alternative.
	 */
	if (id != NULL && q->keep != NULL && g_strv_contains((const char *const *)q->keep, id))
		return reason;
	if (q->status != NULL && status != NULL && status_matches(q->status, status))
		return reason;
	if (command != NULL) {
		if (q->command == NULL || g_ascii_strcasecmp(q->command, command) == 0 ||
		    g_ascii_strcasecmp(command, "DATA") != 0)
			return reason;
		return q->otherwise;
	}
	if (id != NULL && q->except != NULL && g_strv_contains((const char *const *)q->except, id))
		return reason;
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
rules_delayed(const struct rules *r, const char *reason, const char *rule, gboolean by_text)
{
	const char *const *keep = (const char *const *)r->delayed_keep;
	const char *const *codes = (const char *const *)
	    (by_text || r->delayed_codes == NULL ? r->delayed_keep : r->delayed_codes);

	if (r->delayed == NULL)
		return reason;
	if (rule != NULL && g_strv_contains((const char *const *)r->delayed_never, rule))
		return r->delayed;
	if (rule != NULL && g_strv_contains(keep, rule))
		return reason;
	if (reason != NULL && codes != NULL && g_strv_contains(codes, reason))
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
