/*
 * parser_ses.c - Amazon SES event notifications delivered by mail (SNS email
 * subscriptions): a JSON document in the body, itself often a JSON string
 * inside the SNS envelope.  Only the few members needed are read, with a
 * small scanner rather than a JSON library (parsers/ is GMime/GLib only):
 * notificationType, and per recipient emailAddress, action, status and
 * diagnosticCode; complaintFeedbackType for complaints.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "parsers/parser_classify.h"
#include "parsers/parser_int.h"
#include "parsers/parser_ses.h"
#include "parsers/parser_util.h"

#define SES_MAX_TEXT	(256 * 1024)

/* The body with one level of JSON string escaping removed and mail line wraps undone. */
static char *
ses_unescape(const char *s, gsize len)
{
	GString *o = g_string_sized_new(len);
	gsize i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\' ||
		    s[i + 1] == '/')) {
			g_string_append_c(o, s[++i]);
			continue;
		}
		/* a long line folded by the mailer: "!" + line end + space */
		if (s[i] == '!' && i + 2 < len && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
			gsize j = i + 1;

			while (j < len && (s[j] == '\n' || s[j] == '\r'))
				j++;
			if (j < len && s[j] == ' ') {
				i = j;
				continue;
			}
		}
		g_string_append_c(o, s[i]);
	}
	return g_string_free(o, FALSE);
}

/* Value of the string member key in [p, end), or NULL.  New string. */
static char *
ses_member(const char *p, const char *end, const char *key)
{
	gsize kl = strlen(key);
	const char *h;

	for (h = p; h < end && (h = g_strstr_len(h, end - h, key)) != NULL; h += kl) {
		const char *q = h + kl, *v;
		GString *o;
		char *out;

		if (h == p || h[-1] != '"' || q >= end || *q != '"')
			continue;
		for (q++; q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'); q++)
			;
		if (q >= end || *q != ':')
			continue;
		for (q++; q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'); q++)
			;
		if (q >= end || *q != '"')
			continue;
		o = g_string_new(NULL);
		for (v = q + 1; v < end && *v != '"' && o->len < 4096; v++) {
			if (*v == '\\' && v + 1 < end)
				v++;
			g_string_append_c(o, *v);
		}
		out = parser_utf8(o->str, o->len);
		g_string_free(o, TRUE);
		return out;
	}
	return NULL;
}

/* Calls fn on each {...} object of the array member key. */
static void
ses_each(const char *p, const char *end, const char *key,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	const char *a = g_strstr_len(p, end - p, key), *q;
	int n = 0;

	if (a == NULL || (a = memchr(a, '[', end - a)) == NULL)
		return;
	for (q = a + 1; q < end && *q != ']' && n < 200; q++) {
		const char *e;

		if (*q != '{')
			continue;
		if ((e = memchr(q, '}', end - q)) == NULL)
			return;
		fn(arg, q, e);
		q = e;
		n++;
	}
}

struct ses_ctx {
	struct parse_ctx *pc;
	struct report *r;
	const char *type;
	const char *feedback;
};

/* A new record for the object's "emailAddress", or NULL when it names nobody. */
static struct report_record *
ses_record(struct ses_ctx *c, const char *s, const char *e)
{
	struct report_record *rec;
	char *addr = ses_member(s, e, "emailAddress"), *a;

	if (addr == NULL)
		return NULL;
	a = parser_address(addr);
	g_free(addr);
	if (a == NULL)
		return NULL;
	rec = report_add_record(c->r);
	rec->recipient = a;
	parser_rcpt_from(rec, "ses-json");
	return rec;
}

static void
ses_bounced(void *arg, const char *s, const char *e)
{
	struct ses_ctx *c = arg;
	struct report_record *rec = ses_record(c, s, e);

	if (rec == NULL)
		return;
	rec->action = ses_member(s, e, "action");
	rec->status = ses_member(s, e, "status");
	rec->diagnostic = ses_member(s, e, "diagnosticCode");
	if (rec->diagnostic != NULL && g_ascii_strncasecmp(rec->diagnostic, "smtp;", 5) == 0) {
		char *d = g_strdup(g_strstrip(rec->diagnostic + 5));

		g_free(rec->diagnostic);
		rec->diagnostic = d;
	}
	if (rec->action == NULL)
		rec->action = g_strdup("failed");
	if (rec->status != NULL) {
		char *st = parser_find_status(rec->status);	/* "5.1.1", or NULL if not one */

		g_free(rec->status);
		rec->status = st;
	}
	classify_record(c->pc, rec, NULL);
}

static void
ses_complained(void *arg, const char *s, const char *e)
{
	struct ses_ctx *c = arg;
	struct report_record *rec = ses_record(c, s, e);

	if (rec == NULL)
		return;
	rec->feedback_type = g_strdup(c->feedback != NULL ? c->feedback : "abuse");
	rec->reason = g_strdup("feedback");
	rec->rule = g_strdup("ses-complaint");
	rec->class_ = rules_class(c->pc->p->rules, "feedback", TRUE);
}

gboolean
ses_check(struct parse_ctx *c)
{
	return c->r->records->len == 0 && c->w.ndsn == 0 && !LEAF_SET(c->w.arf);
}

/* Amazon SES notification (JSON) in body (len bytes): fills r, TRUE when it names someone. */
static gboolean
ses_parse(struct parse_ctx *pc, struct report *r, const char *body, gsize len)
{
	struct ses_ctx c = { pc, r, NULL, NULL };
	char *t, *type, *fb = NULL;
	const char *end;

	/* memmem, not g_strstr_len (a byte-by-byte loop): the test every non-report runs */
	if (body == NULL || len == 0 ||
	    memmem(body, strnlen(body, MIN(len, 4096)), "notificationType", 16) == NULL)
		return FALSE;
	t = ses_unescape(body, MIN(len, SES_MAX_TEXT));
	end = t + strlen(t);
	type = ses_member(t, end, "notificationType");
	if (type == NULL) {
		g_free(t);
		return FALSE;
	}
	if (strcmp(type, "Bounce") == 0) {
		r->kind = REPORT_KIND_DSN;
		ses_each(t, end, "\"bouncedRecipients\"", ses_bounced, &c);
	} else if (strcmp(type, "Complaint") == 0) {
		r->kind = REPORT_KIND_ARF;
		fb = ses_member(t, end, "complaintFeedbackType");
		c.feedback = fb;
		ses_each(t, end, "\"complainedRecipients\"", ses_complained, &c);
	} else if (strcmp(type, "Delivery") == 0) {
		const char *a = g_strstr_len(t, end - t, "\"recipients\""), *q;

		r->kind = REPORT_KIND_DSN;
		if (a != NULL && (a = memchr(a, '[', end - a)) != NULL) {
			for (q = a + 1; q < end && *q != ']' && r->records->len < 200; q++) {
				const char *e;
				struct report_record *rec;
				char *s, *addr;

				if (*q != '"' || (e = memchr(q + 1, '"', end - q - 1)) == NULL)
					continue;
				s = g_strndup(q + 1, e - q - 1);
				addr = parser_address(s);
				g_free(s);
				q = e;
				if (addr == NULL)
					continue;
				rec = report_add_record(r);
				rec->recipient = addr;
				parser_rcpt_from(rec, "ses-json");
				rec->action = g_strdup("delivered");
				rec->reason = g_strdup("delivered");
				rec->rule = g_strdup("ses-delivery");
				rec->class_ = REPORT_CLASS_DELIVERED;
			}
		}
	}
	if (r->records->len > 0) {
		/* classifying the records may have named a producer already */
		g_free(r->mta);
		r->mta = g_strdup("amazonses");
	} else
		r->kind = REPORT_KIND_NONE;	/* a notification that names nobody says nothing */
	g_free(fb);
	g_free(type);
	g_free(t);
	return r->records->len > 0;
}

void
ses_read(struct parse_ctx *c)
{
	ses_parse(c, c->r, c->context, c->clen);
}
