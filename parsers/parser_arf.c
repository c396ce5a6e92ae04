/*
 * parser_arf.c - complaints: RFC 5965 feedback reports (ARF), and the
 * providers' complaints that are not ARF (Microsoft's JMRP, Hotmail's
 * bare complaint, a mail client's one-click unsubscribe).
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_arf.h"
#include "parsers/parser_int.h"
#include "parsers/parser_util.h"
#include "parsers/scan.h"

#define ARF_PLACEHOLDER		"undisclosed-recipient-in-headers@libsisimai.org.invalid"

static struct report_record *
arf_record(struct parser *p, struct report *r, const char *type)
{
	struct report_record *rec = report_add_record(r);

	if (type != NULL) {
		rec->feedback_type = scan_ascii_down(type, -1);
		g_strstrip(rec->feedback_type);
	} else
		rec->feedback_type = g_strdup("other");
	rec->reason = g_strdup("feedback");
	rec->rule = g_strdup("arf");
	rec->class_ = rules_class(p->rules, "feedback", TRUE);
	if (rec->class_ == REPORT_CLASS_UNKNOWN)
		rec->class_ = REPORT_CLASS_COMPLAINT;
	return rec;
}

/*
 * A complaint that is no ARF report: kind ARF and one record of
 * feedback type type, made by rule, for the address in value (taken from
 * how).
 */
static void
arf_complaint(struct parse_ctx *c, const char *type, const char *rule, const char *value,
    const char *how)
{
	struct report_record *rec;

	c->r->kind = REPORT_KIND_ARF;
	rec = arf_record(c->p, c->r, type);
	rec->rule = (g_free(rec->rule), g_strdup(rule));
	rec->recipient = parser_address(value);
	parser_rcpt_from(rec, how);
}

/* Does a text part open with a feedback report's fields (Feedback-Type among them)? */
static gboolean
arf_text_part(struct parse_ctx *c, const struct leaf *l)
{
	gsize n;
	char *t = LEAF_SET(*l) ? walk_part_text(c->p, l, &n, &c->anomalies) : NULL;
	struct fields *f = t != NULL ? fields_parse(t, n, 1) : NULL;
	gboolean is = f != NULL && fields_get(f, 0, "Feedback-Type") != NULL;

	fields_free(f);
	g_free(t);
	return is;
}

gboolean
arf_check(struct parse_ctx *c)
{
	if (c->r->records->len != 0)
		return FALSE;
	if (LEAF_SET(c->w.arf))
		return TRUE;
	/*
	 * A feedback report whose machine-readable part is labelled text/plain
	 * (report-type=feedback-report says what it is): the part that opens
	 * with its fields is the report.
	 */
	if (c->ct == NULL || strcasestr(c->ct, "feedback-report") == NULL)
		return FALSE;
	if (arf_text_part(c, &c->w.text2))
		c->w.arf = c->w.text2;
	else if (arf_text_part(c, &c->w.text))
		c->w.arf = c->w.text;
	return LEAF_SET(c->w.arf);
}

void
arf_read(struct parse_ctx *c)
{
	struct parser *p = c->p;
	struct report *r = c->r;
	struct fields *f;
	struct report_record *rec;
	const char *v;
	char *txt;
	gsize n;

	txt = walk_part_text(p, &c->w.arf, &n, &c->anomalies);
	if (txt == NULL)
		return;
	f = fields_parse(txt, n, 4);
	r->kind = REPORT_KIND_ARF;
#define ARF_COPY(dst, name) \
	if ((v = fields_get(f, 0, name)) != NULL && (dst) == NULL) (dst) = parser_utf8(v, -1)
	ARF_COPY(r->user_agent, "User-Agent");
	ARF_COPY(r->source_ip, "Source-IP");
	ARF_COPY(r->reported_domain, "Reported-Domain");
	ARF_COPY(r->auth_results, "Authentication-Results");
	ARF_COPY(r->arrival_date, "Arrival-Date");
	ARF_COPY(r->arrival_date, "Received-Date");
	ARF_COPY(r->reporting_mta, "Reporting-MTA");
#undef ARF_COPY
	if ((v = fields_get(f, 0, "Original-Mail-From")) != NULL)
		r->original_mail_from = parser_address(v);
	/* One record per Original-Rcpt-To (RFC 5965 allows several). */
	if (f->blocks->len > 0) {
		GPtrArray *blk = g_ptr_array_index(f->blocks, 0);
		guint i;

		for (i = 0; i < blk->len && r->records->len < p->max_records; i++) {
			const struct field *x = g_ptr_array_index(blk, i);
			char *a;

			if (g_ascii_strcasecmp(x->name, "Original-Rcpt-To") != 0 ||
			    (a = parser_address(x->value)) == NULL)
				continue;
			rec = arf_record(p, r, fields_get(f, 0, "Feedback-Type"));
			rec->recipient = a;
			parser_rcpt_from(rec, "original-rcpt-to");
		}
	}
	/* an opt-out report names the address to remove (IANA's feedback report fields) */
	if (r->records->len == 0 && (v = fields_get(f, 0, "Removal-Recipient")) != NULL &&
	    (rec = arf_record(p, r, fields_get(f, 0, "Feedback-Type"))) != NULL) {
		rec->recipient = parser_address(v);
		parser_rcpt_from(rec, "removal-recipient");
	}
	if (r->records->len == 0)
		arf_record(p, r, fields_get(f, 0, "Feedback-Type"));
	fields_free(f);
	g_free(txt);
}

gboolean
complaint_check(struct parse_ctx *c)
{
	return c->r->records->len == 0 && (c->orig_fields != NULL || c->w.orig != NULL);
}

/*
 * Complaints that are not ARF: Microsoft's JMRP/SNDS-style reports are a
 * plain message from the provider with the complained-about message
 * attached; its recipient is in X-HmXmrOriginalRecipient or its To.
 */
void
complaint_read(struct parse_ctx *c)
{
	GMimeObject *io = c->w.orig != NULL ? GMIME_OBJECT(c->w.orig) : NULL;
	const struct fields *of = c->orig_fields;
	const char *subj = fields_get(c->top, 0, "Subject");
	const char *hm = of != NULL ? fields_get(of, 0, "X-HmXmrOriginalRecipient") :
	    g_mime_object_get_header(io, "X-HmXmrOriginalRecipient");
	const char *to = of != NULL ? fields_get(of, 0, "To") : g_mime_object_get_header(io, "To");

	if (hm == NULL && (subj == NULL || strcasestr(subj, "complaint about message from") == NULL))
		return;
	arf_complaint(c, "abuse", "complaint-nonarf", hm != NULL ? hm : to,
	    hm != NULL ? "complainer-header" : "original-to");
}

gboolean
unsubscribe_check(struct parse_ctx *c)
{
	const char *v = fields_get(c->top, 0, "X-Apple-Unsubscribe");

	return c->r->records->len == 0 && v != NULL && strcasestr(v, "true") != NULL;
}

/* A mail client's one-click unsubscribe, sent by the recipient itself. */
void
unsubscribe_read(struct parse_ctx *c)
{
	arf_complaint(c, "opt-out", "unsubscribe", fields_get(c->top, 0, "From"), "from");
}

gboolean
bare_check(struct parse_ctx *c)
{
	return c->r->records->len == 0 && c->r->kind == REPORT_KIND_NONE &&
	    fields_get(c->top, 0, "X-HmXmrOriginalRecipient") != NULL;
}

/*
 * Hotmail's complaint can be the complained-about message itself, sent
 * back with the complainer named in a header of its own.
 */
void
bare_read(struct parse_ctx *c)
{
	arf_complaint(c, "abuse", "complaint-bare",
	    fields_get(c->top, 0, "X-HmXmrOriginalRecipient"), "complainer-header");
}

gboolean
arf_rcpt_check(struct parse_ctx *c)
{
	return c->r->kind == REPORT_KIND_ARF && c->r->records->len > 0;
}

/*
 * The complained-about recipient, when the report leaves it out; when the
 * original is redacted too, a placeholder in the reserved .invalid domain
 * (the one Sisimai uses, so that results compare): the complaint still
 * counts, it suppresses nobody.
 */
void
arf_rcpt_read(struct parse_ctx *c)
{
	struct report_record *rec = g_ptr_array_index(c->r->records, 0);

	if (rec->recipient == NULL && c->r->orig_to != NULL) {
		rec->recipient = parser_address(c->r->orig_to);
		parser_rcpt_from(rec, "original-to");
	}
	if (rec->recipient == NULL) {
		rec->recipient = g_strdup(ARF_PLACEHOLDER);
		parser_rcpt_from(rec, "placeholder");
	}
}
