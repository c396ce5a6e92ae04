/*
 * parser_classify.c - reason, rule and class of one record, from the
 * rules (rules_match.c): the record's own codes and diagnostic first, the
 * report's text and producer after.
 */
#include <string.h>
#include <glib.h>

#include "parsers/parser_classify.h"
#include "parsers/parser_int.h"
#include "parsers/parser_util.h"
#include "parsers/scan.h"

#define MAX_CONTEXT_FOLD	(8 * 1024)	/* of the report's text, for reasons */
#define MAX_DIAG_FOLD		2048		/* of one diagnostic */

/*
 * Where the remote's own reply starts in a folded diagnostic that says
 * something else first ("... couldn't be delivered ... remote server
 * returned '550 5.7.1 ...'"): its reply code and status code; NULL when
 * there is none, or the diagnostic is a reply itself (a long one repeats
 * its code on every line).
 */
static const char *
reply_start(const char *diag)
{
	const char *p = diag;

	while (p != NULL && *p == ' ')
		p++;
	if (p == NULL || ((*p == '2' || *p == '4' || *p == '5') && g_ascii_isdigit(p[1]) &&
	    g_ascii_isdigit(p[2])))
		return NULL;
	for (p = diag; p != NULL && (p = strpbrk(p, "45")) != NULL; p++)
		if (p > diag && !g_ascii_isalnum(p[-1]) && p[-1] != '.' &&
		    g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2]) && (p[3] == ' ' || p[3] == '-') &&
		    (p[4] == '4' || p[4] == '5') && p[5] == '.' && g_ascii_isdigit(p[6]))
			return p;
	return NULL;
}

/* Still queued: the report warns, the message may yet arrive. */
static gboolean
is_delayed(const struct report_record *rec)
{
	return rec->action != NULL && g_ascii_strcasecmp(rec->action, "delayed") == 0;
}

static gboolean
is_permanent(const struct report_record *rec)
{
	if (rec->status != NULL)
		return rec->status[0] == '5';
	if (rec->replycode != NULL)
		return rec->replycode[0] == '5';
	return rec->action == NULL || g_ascii_strcasecmp(rec->action, "failed") == 0;
}

/*
 * The report's producer ("detect" lines in the rules), looked for once per
 * report, when its header, Reporting-MTA and text are known.  Not a copy.
 */
const char *
classify_mta(struct parse_ctx *c, const char *ctx)
{
	struct report *r = c->r;
	const char *name;

	if (r == NULL)
		return NULL;
	if (!c->mta_done) {
		c->mta_done = TRUE;
		name = rules_detect(c->p->rules, c->top, r->reporting_mta, ctx);
		if (name != NULL && r->mta == NULL)
			r->mta = g_strdup(name);
	}
	return r->mta;
}

/*
 * The report's text folded for the rules: only when a record needs it
 * (its own diagnostic often decides), and once for all its records.
 */
const char *
classify_folded(struct parse_ctx *c, const char *context)
{
	if (c->fold_src != context) {
		g_free(c->fold_out);
		c->fold_out = rules_fold_n(context, MAX_CONTEXT_FOLD);
		c->fold_src = context;
	}
	return c->fold_out;
}

/*
 * Codes the record's fields left out, from its diagnostic (diag: folded)
 * or the report's text; and an Action "delayed" whose diagnostic says the
 * sender's MTA gave up ("Delivery failed 20 attempts", "permanent fatal
 * errors" for this recipient) is a failure, whatever the field says.  (The
 * notice's text may speak of other recipients: only the record's own
 * diagnostic counts.)
 */
static void
classify_codes(struct parse_ctx *c, struct report_record *rec, const char *diag,
    const char *context)
{
	if (rec->replycode == NULL && rec->diagnostic != NULL)
		rec->replycode = parser_find_replycode(rec->diagnostic);
	if (rec->status == NULL && rec->diagnostic != NULL)
		rec->status = parser_find_status(rec->diagnostic);
	if (rec->smtp_command == NULL)
		rec->smtp_command = parser_find_command(diag);
	if (rec->smtp_command == NULL && context != NULL) {
		char *lr = rec->recipient != NULL ? scan_ascii_down(rec->recipient, -1) : NULL;

		rec->smtp_command = parser_find_command_context(classify_folded(c, context), lr);
		g_free(lr);
	}
	if (is_delayed(rec) && diag != NULL && g_regex_match(c->p->re_given_up, diag, 0, NULL)) {
		g_free(rec->action);
		rec->action = g_strdup("failed");
	}
}

/*
 * The host a diagnostic says answered, when the report has no Remote-MTA:
 * Postfix's "host NAME[IP] said" and "connect to NAME[IP]", Exim's
 * "host NAME [IP]", Sendmail's "while talking to NAME.:", Exchange's
 * "Remote Server at NAME (IP)".  A name, not an address: NULL otherwise.
 */
static char *
classify_text_host(const char *t)
{
	static const struct {
		const char *s;
		size_t n;
	} lead[] = { { "host ", 5 }, { "connect to ", 11 }, { "talking to ", 11 }, { "server at ", 10 } };
	const char *p;
	size_t i;

	if (t == NULL)
		return NULL;
	/* a lead ends at a space: compared back from each space, its last letter first */
	for (p = t; (p = strchr(p, ' ')) != NULL; p++) {
		for (i = 0; i < G_N_ELEMENTS(lead); i++) {
			size_t n = lead[i].n, len;
			const char *h, *e;
			gboolean dot = FALSE, alpha = FALSE;

			if ((size_t)(p - t) < n - 1 || g_ascii_tolower(p[-1]) != lead[i].s[n - 2] ||
			    g_ascii_strncasecmp(p - (n - 1), lead[i].s, n) != 0)
				continue;
			for (h = e = p + 1; g_ascii_isalnum(*e) || *e == '.' || *e == '-'; e++) {
				dot |= *e == '.';
				alpha |= g_ascii_isalpha(*e);
			}
			len = (size_t)(e - h);
			if (len > 0 && h[len - 1] == '.')
				len--;
			if (len < 4 || len > 253 || !dot || !alpha)
				continue;
			/* what follows the name: its address, or the end of the clause */
			if (*e == '[' || (*e == ' ' && (e[1] == '[' || e[1] == '(')) || *e == ':')
				return g_strndup(h, len);
		}
	}
	return NULL;
}

/*
 * The recipient's provider (a "detect" name, or NULL): from the host that
 * answered, its Remote-MTA or the one its diagnostic names, else from its
 * domain.
 */
static const char *
classify_provider(const struct rules *rules, const struct report_record *rec)
{
	char *said = rec->remote_mta == NULL ? classify_text_host(rec->diagnostic) : NULL;
	const char *at = rec->recipient != NULL ? strrchr(rec->recipient, '@') : NULL;
	const char *rhost = rules_detect_remote(rules, rec->remote_mta != NULL ? rec->remote_mta : said,
	    at != NULL ? at + 1 : NULL);

	g_free(said);
	return rhost;
}

/*
 * The rule that decides, into *m; FALSE when none does.  The record's own
 * diagnostic is tried first; context (the human-readable text of the
 * report) only when it says nothing a rule knows.  Before all of that,
 * the rules scoped to the report's producer or the recipient's provider
 * ("mta" in the rules) are tried on the same texts and codes (the
 * report's text only for the producer: the recipient's provider wrote the
 * diagnostic, not the notice): their table is how that producer uses its
 * words, and a reason it gives needs no corroboration unless a specific
 * status (one with a detail: 5.7.1, not 5.7.0) says otherwise.
 */
static gboolean
classify_match(struct parse_ctx *c, struct report_record *rec, const char *diag,
    const char *context, struct rules_match *m)
{
	struct rules *rules = c->p->rules;
	const char *ctx = NULL, *lhost, *rhost, *reply;
	gboolean ok = FALSE, scoped = FALSE;

	if (c->hint != NULL) {
		/* e.g. "x-powermta-bouncecategory: bad-mailbox": the sender's MTA has classified it */
		char *h = rules_fold(c->hint);

		ok = rules_classify(rules, h, NULL, NULL, NULL, m);
		if (ok)
			m->by_text = FALSE;
		g_free(h);
	}
	/* The folded text only where it is read: detection (once a report)
	 * and the producer's scoped rules. */
	if (!c->mta_done && context != NULL)
		ctx = classify_folded(c, context);
	lhost = classify_mta(c, ctx);
	rhost = classify_provider(rules, rec);
	if (!ok && (lhost != NULL || rhost != NULL)) {
		if (lhost != NULL && context != NULL)
			ctx = classify_folded(c, context);
		scoped = (diag != NULL && rules_classify_scoped(rules, lhost, rhost, diag,
		    rec->status, NULL, NULL, m)) ||
		    (ctx != NULL && lhost != NULL && rules_classify_scoped(rules, lhost, NULL, ctx,
		    rec->status, NULL, NULL, m)) ||
		    rules_classify_scoped(rules, lhost, rhost, NULL, rec->status, rec->replycode,
		    rec->smtp_command, m);
		ok = scoped;
	}
	if (!ok && (reply = reply_start(diag)) != NULL)
		ok = rules_classify(rules, reply, rec->status, NULL, NULL, m);
	if (!ok)
		ok = diag != NULL && rules_classify(rules, diag, rec->status, NULL, NULL, m);
	if (!ok && context != NULL && !(c->own_only && rec->diagnostic != NULL) && !c->others_only) {
		ok = rules_classify(rules, classify_folded(c, context), rec->status, NULL, NULL, m);
		if (!ok && rec->status == NULL) {
			rec->status = parser_find_status(context);
		}
	}
	if (ok && m->by_text && (!scoped || (rec->status != NULL &&
	    !g_str_has_suffix(rec->status, ".0")))) {
		const char *alt = rules_require(rules, m->reason, m->id, rec->smtp_command, rec->status);

		if (alt != m->reason) {
			m->reason = alt;
			m->id = "require";
		}
	}
	if (ok) {
		const char *alt = rules_after_scoped(rules, lhost, rhost, m->reason, rec->smtp_command);

		if (alt == m->reason)
			alt = rules_after(rules, m->reason, rec->smtp_command);

		if (alt != m->reason) {
			m->reason = alt;
			m->id = "after";
		}
	}
	if (!ok)
		ok = rules_classify(rules, NULL, rec->status, rec->replycode,
		    rec->smtp_command, m);
	return ok;
}

/* Reason and rule from m (or a default when ok is FALSE), then the class. */
static void
classify_apply(struct parse_ctx *c, struct report_record *rec, gboolean ok,
    const struct rules_match *m)
{
	struct rules *rules = c->p->rules;

	if (ok) {
		g_free(rec->reason);
		rec->reason = g_strdup(m->reason);
		g_free(rec->rule);
		rec->rule = g_strdup(m->id);
	} else if (rec->reason == NULL)
		rec->reason = g_strdup(is_delayed(rec) ? "expired" :
		    rec->diagnostic != NULL ? "onhold" : "undefined");
	if (is_delayed(rec)) {
		const char *d = rules_delayed(rules, rec->reason, rec->rule, ok && m->by_text);

		if (d != rec->reason && g_strcmp0(d, rec->reason) != 0) {
			g_free(rec->reason);
			rec->reason = g_strdup(d);
			g_free(rec->rule);
			rec->rule = g_strdup("delayed");
		}
	}
	if (rec->status != NULL && rec->status[0] == '2') {
		/* A success code is a delivery whatever the words around it. */
		g_free(rec->reason);
		rec->reason = g_strdup("delivered");
		g_free(rec->rule);
		rec->rule = g_strdup("status-2");
	}
	rec->class_ = rules_class(rules, rec->reason, is_permanent(rec));
	if (is_delayed(rec))
		/* Not a failure (still being retried) and not a delivery either:
		 * as class delivered it would reset the address's soft count. */
		rec->class_ = REPORT_CLASS_UNKNOWN;
	else if (rec->action != NULL && (g_ascii_strcasecmp(rec->action, "delivered") == 0 ||
	    g_ascii_strcasecmp(rec->action, "relayed") == 0 ||
	    g_ascii_strcasecmp(rec->action, "expanded") == 0)) {
		rec->class_ = REPORT_CLASS_DELIVERED;
		g_free(rec->reason);
		rec->reason = g_strdup("delivered");
	}
}

void
classify_record(struct parse_ctx *c, struct report_record *rec, const char *context)
{
	struct rules_match m;
	char *diag = rules_fold_n(rec->diagnostic, MAX_DIAG_FOLD);
	gboolean ok;

	classify_codes(c, rec, diag, context);
	ok = classify_match(c, rec, diag, context, &m);
	classify_apply(c, rec, ok, &m);
	g_free(diag);
}
