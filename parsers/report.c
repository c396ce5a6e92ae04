/*
 * report.c - the report data contract: construction, names, and the
 * GVariant wire form used between parser workers and the daemon.
 */
#include <string.h>
#include <glib.h>

#include "parsers/report.h"

static const char *const kind_names[] = { "none", "dsn", "arf", "autoreply", "bounce" };
static const char *const class_names[] = { "unknown", "hard", "soft", "block", "complaint",
	"autoreply", "delivered" };

struct report *
report_new(enum report_kind kind)
{
	struct report *r = g_new0(struct report, 1);

	r->kind = kind;
	r->correlation = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->records = g_ptr_array_new();
	return r;
}

static void
report_record_free(struct report_record *rec)
{
	g_free(rec->recipient);
	g_free(rec->original_recipient);
	g_free(rec->reason);
	g_free(rec->status);
	g_free(rec->replycode);
	g_free(rec->action);
	g_free(rec->diagnostic);
	g_free(rec->remote_mta);
	g_free(rec->last_attempt);
	g_free(rec->smtp_command);
	g_free(rec->feedback_type);
	g_free(rec->rule);
	g_free(rec->recipient_from);
	g_free(rec);
}

struct report_record *
report_add_record(struct report *r)
{
	struct report_record *rec = g_new0(struct report_record, 1);

	g_ptr_array_add(r->records, rec);
	return rec;
}

void
report_remove_record(struct report *r, guint i)
{
	if (i >= r->records->len)
		return;
	report_record_free(g_ptr_array_index(r->records, i));
	g_ptr_array_remove_index(r->records, i);
}

void
report_clear_records(struct report *r)
{
	guint i;

	for (i = 0; i < r->records->len; i++)
		report_record_free(g_ptr_array_index(r->records, i));
	g_ptr_array_set_size(r->records, 0);
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	report_clear_records(r);
	g_ptr_array_free(r->records, TRUE);
	g_hash_table_destroy(r->correlation);
	g_free(r->outcome);
	g_free(r->mta);
	g_free(r->reporting_mta);
	g_free(r->arrival_date);
	g_free(r->user_agent);
	g_free(r->source_ip);
	g_free(r->original_mail_from);
	g_free(r->reported_domain);
	g_free(r->auth_results);
	g_free(r->orig_message_id);
	g_free(r->orig_from);
	g_free(r->orig_to);
	g_free(r->orig_subject);
	g_free(r->orig_list_id);
	g_free(r->orig_date);
	g_free(r);
}

/* names[i] (of n), or the first name when i is out of range. */
static const char *
name_at(const char *const *names, gsize n, unsigned i)
{
	return i < n ? names[i] : names[0];
}

/* The index of name in names (of n), or -1. */
static int
name_index(const char *const *names, gsize n, const char *name)
{
	gsize i;

	for (i = 0; name != NULL && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
report_kind_name(enum report_kind k)
{
	return name_at(kind_names, G_N_ELEMENTS(kind_names), (unsigned)k);
}

const char *
report_class_name(enum report_class c)
{
	return name_at(class_names, G_N_ELEMENTS(class_names), (unsigned)c);
}

int
report_kind_from_name(const char *name)
{
	return name_index(kind_names, G_N_ELEMENTS(kind_names), name);
}

int
report_class_from_name(const char *name)
{
	return name_index(class_names, G_N_ELEMENTS(class_names), name);
}

/*
 * Wire form.  Nullable strings are "ms"; the layout is versioned by its
 * type string, so a worker and a parent of different builds cannot
 * silently mis-read each other: the type check in report_deserialize fails.
 */
#define RECORD_TYPE "(" "msms" "u" "msmsmsmsms" "msmsmsmsms" "ms" ")"
#define REPORT_TYPE "(" "umsu" "msmsmsmsms" "msmsmsmsms" "msmsmsms" "a{ss}" "a" RECORD_TYPE ")"

GBytes *
report_serialize(const struct report *r)
{
	GVariantBuilder corr, recs;
	GHashTableIter it;
	gpointer k, v;
	GVariant *var;
	GBytes *b;
	guint i;

	g_variant_builder_init(&corr, G_VARIANT_TYPE("a{ss}"));
	g_hash_table_iter_init(&it, r->correlation);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_variant_builder_add(&corr, "{ss}", (const char *)k, (const char *)v);
	g_variant_builder_init(&recs, G_VARIANT_TYPE("a" RECORD_TYPE));
	for (i = 0; i < r->records->len; i++) {
		const struct report_record *x = g_ptr_array_index(r->records, i);

		g_variant_builder_add(&recs, RECORD_TYPE, x->recipient, x->original_recipient,
		    (guint32)x->class_, x->reason, x->status, x->replycode, x->action,
		    x->diagnostic, x->remote_mta, x->last_attempt, x->smtp_command,
		    x->feedback_type, x->rule, x->recipient_from);
	}
	var = g_variant_new(REPORT_TYPE, (guint32)r->kind, r->outcome, (guint32)r->anomalies,
	    r->mta, r->reporting_mta, r->arrival_date, r->user_agent, r->source_ip,
	    r->original_mail_from, r->reported_domain, r->auth_results, r->orig_message_id,
	    r->orig_from, r->orig_to, r->orig_subject, r->orig_list_id, r->orig_date,
	    &corr, &recs);
	g_variant_ref_sink(var);
	b = g_variant_get_data_as_bytes(var);
	g_variant_unref(var);
	return b;
}

struct report *
report_deserialize(GBytes *b)
{
	GVariant *var;
	GVariantIter *corr, *recs;
	struct report *r;
	guint32 kind, anomalies, cls;
	char *k, *v;

	if (b == NULL)
		return NULL;
	var = g_variant_new_from_bytes(G_VARIANT_TYPE(REPORT_TYPE), b, FALSE);
	g_variant_ref_sink(var);
	/* The bytes come from another process: insist on the canonical form. */
	if (!g_variant_is_normal_form(var)) {
		g_variant_unref(var);
		return NULL;
	}
	r = report_new(REPORT_KIND_NONE);
	g_variant_get(var, REPORT_TYPE, &kind, &r->outcome, &anomalies,
	    &r->mta, &r->reporting_mta, &r->arrival_date, &r->user_agent, &r->source_ip,
	    &r->original_mail_from, &r->reported_domain, &r->auth_results, &r->orig_message_id,
	    &r->orig_from, &r->orig_to, &r->orig_subject, &r->orig_list_id, &r->orig_date,
	    &corr, &recs);
	r->kind = kind <= REPORT_KIND_BOUNCE ? (enum report_kind)kind : REPORT_KIND_NONE;
	r->anomalies = anomalies;
	while (g_variant_iter_next(corr, "{ss}", &k, &v))
		g_hash_table_replace(r->correlation, k, v);
	g_variant_iter_free(corr);
	for (;;) {
		struct report_record x;
		struct report_record *rec;

		memset(&x, 0, sizeof(x));
		if (!g_variant_iter_next(recs, RECORD_TYPE, &x.recipient, &x.original_recipient,
		    &cls, &x.reason, &x.status, &x.replycode, &x.action, &x.diagnostic,
		    &x.remote_mta, &x.last_attempt, &x.smtp_command, &x.feedback_type, &x.rule,
		    &x.recipient_from))
			break;
		x.class_ = cls <= REPORT_CLASS_DELIVERED ? (enum report_class)cls :
		    REPORT_CLASS_UNKNOWN;
		rec = report_add_record(r);
		*rec = x;
	}
	g_variant_iter_free(recs);
	g_variant_unref(var);
	return r;
}
