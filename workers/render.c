/* render.c - see render.h. */
#include "workers/render.h"

#include <string.h>
#include <json-glib/json-glib.h>

static void
json_str(JsonBuilder *b, const char *k, const char *v)
{
	json_builder_set_member_name(b, k);
	if (v != NULL)
		json_builder_add_string_value(b, v);
	else
		json_builder_add_null_value(b);
}

static void
render_json(GString *out, const char *file, long index, const struct report *r,
    const struct report_record *rec)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *s;
	gsize len;

	json_builder_begin_object(b);
	json_str(b, "file", file);
	if (index >= 0) {
		json_builder_set_member_name(b, "message");
		json_builder_add_int_value(b, index);
	}
	json_str(b, "kind", report_kind_name(r->kind));
	json_str(b, "recipient", rec ? rec->recipient : NULL);
	json_str(b, "recipient_from", rec ? rec->recipient_from : NULL);
	json_str(b, "original_recipient", rec ? rec->original_recipient : NULL);
	json_str(b, "class", rec ? report_class_name(rec->class_) : NULL);
	json_str(b, "reason", rec ? rec->reason : NULL);
	json_str(b, "status", rec ? rec->status : NULL);
	json_str(b, "replycode", rec ? rec->replycode : NULL);
	json_str(b, "action", rec ? rec->action : NULL);
	json_str(b, "diagnostic", rec ? rec->diagnostic : NULL);
	json_str(b, "remote_mta", rec ? rec->remote_mta : NULL);
	json_str(b, "last_attempt", rec ? rec->last_attempt : NULL);
	json_str(b, "feedback_type", rec ? rec->feedback_type : NULL);
	json_str(b, "smtp_command", rec ? rec->smtp_command : NULL);
	json_str(b, "rule", rec ? rec->rule : NULL);
	json_str(b, "reporting_mta", r->reporting_mta);
	json_str(b, "mta", r->mta);
	json_str(b, "arrival_date", r->arrival_date);
	json_str(b, "original_message_id", r->orig_message_id);
	json_str(b, "original_from", r->orig_from);
	json_str(b, "original_to", r->orig_to);
	json_str(b, "original_subject", r->orig_subject);
	json_str(b, "list_id", r->orig_list_id);
	if (r->kind == REPORT_KIND_ARF) {
		json_str(b, "user_agent", r->user_agent);
		json_str(b, "source_ip", r->source_ip);
		json_str(b, "original_mail_from", r->original_mail_from);
		json_str(b, "reported_domain", r->reported_domain);
		json_str(b, "authentication_results", r->auth_results);
	}
	if (g_hash_table_size(r->correlation) > 0) {
		GHashTableIter it;
		gpointer k, v;

		json_builder_set_member_name(b, "correlation");
		json_builder_begin_object(b);
		g_hash_table_iter_init(&it, r->correlation);
		while (g_hash_table_iter_next(&it, &k, &v))
			json_str(b, k, v);
		json_builder_end_object(b);
	}
	/* Records were dropped at [parser] max_recipients: this is not the whole report. */
	json_builder_set_member_name(b, "truncated");
	json_builder_add_boolean_value(b, (r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS) != 0);
	json_builder_set_member_name(b, "anomalies");
	json_builder_add_int_value(b, r->anomalies);
	json_str(b, "outcome", r->outcome);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	s = json_generator_to_data(g, &len);
	/* Printed with puts(): the text up to a NUL, then a newline. */
	g_string_append(out, s);
	g_string_append_c(out, '\n');
	g_free(s);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
}

void
render_report(GString *out, GString *err, int format, const char *file, long index,
    const struct report *r)
{
	guint i;

	/* No record but something to say (a DSN without recipients, a hostile message): one line. */
	if (strcmp(r->outcome != NULL ? r->outcome : "ok", "ok") != 0 && r->records->len == 0) {
		if (r->kind == REPORT_KIND_NONE)
			g_string_append_printf(err, "rebound parse: %s: unparseable: %s\n", file,
			    r->outcome);
		else
			g_string_append_printf(err, "rebound parse: %s: %s: %s\n", file,
			    report_kind_name(r->kind), r->outcome);
		if (format == RENDER_JSON)
			render_json(out, file, index, r, NULL);
		return;
	}
	for (i = 0; i < r->records->len; i++) {
		const struct report_record *rec = g_ptr_array_index(r->records, i);

		if (format == RENDER_JSON)
			render_json(out, file, index, r, rec);
		else
			g_string_append_printf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", file,
			    report_kind_name(r->kind), rec->recipient ? rec->recipient : "-",
			    report_class_name(rec->class_), rec->reason ? rec->reason : "-",
			    rec->status ? rec->status : "-", rec->rule ? rec->rule : "-");
	}
}
