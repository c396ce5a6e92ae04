/*
 * test_workers_render.c - the lines "rebound parse" prints (workers/render.c)
 * against json-glib's generator, which wrote them before and whose bytes
 * scripts rely on: every byte value in every field, both formats, the
 * stderr lines, and the correlation order of a report that crossed the
 * process boundary.
 */
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "parsers/report.h"
#include "workers/render.h"
#include "unit.h"

/* The reference: the same object built with json-glib, printed with puts(). */
static void
ref_str(JsonBuilder *b, const char *k, const char *v)
{
	json_builder_set_member_name(b, k);
	if (v != NULL)
		json_builder_add_string_value(b, v);
	else
		json_builder_add_null_value(b);
}

static void
ref_json(GString *out, const char *file, long index, const struct report *r,
    const struct report_record *rec)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *s;

	json_builder_begin_object(b);
	ref_str(b, "file", file);
	if (index >= 0) {
		json_builder_set_member_name(b, "message");
		json_builder_add_int_value(b, index);
	}
	ref_str(b, "kind", report_kind_name(r->kind));
	ref_str(b, "recipient", rec ? rec->recipient : NULL);
	ref_str(b, "recipient_from", rec ? rec->recipient_from : NULL);
	ref_str(b, "original_recipient", rec ? rec->original_recipient : NULL);
	ref_str(b, "class", rec ? report_class_name(rec->class_) : NULL);
	ref_str(b, "reason", rec ? rec->reason : NULL);
	ref_str(b, "status", rec ? rec->status : NULL);
	ref_str(b, "replycode", rec ? rec->replycode : NULL);
	ref_str(b, "action", rec ? rec->action : NULL);
	ref_str(b, "diagnostic", rec ? rec->diagnostic : NULL);
	ref_str(b, "remote_mta", rec ? rec->remote_mta : NULL);
	ref_str(b, "last_attempt", rec ? rec->last_attempt : NULL);
	ref_str(b, "feedback_type", rec ? rec->feedback_type : NULL);
	ref_str(b, "smtp_command", rec ? rec->smtp_command : NULL);
	ref_str(b, "rule", rec ? rec->rule : NULL);
	ref_str(b, "reporting_mta", r->reporting_mta);
	ref_str(b, "mta", r->mta);
	ref_str(b, "arrival_date", r->arrival_date);
	ref_str(b, "original_message_id", r->orig_message_id);
	ref_str(b, "original_from", r->orig_from);
	ref_str(b, "original_to", r->orig_to);
	ref_str(b, "original_subject", r->orig_subject);
	ref_str(b, "list_id", r->orig_list_id);
	if (r->kind == REPORT_KIND_ARF) {
		ref_str(b, "user_agent", r->user_agent);
		ref_str(b, "source_ip", r->source_ip);
		ref_str(b, "original_mail_from", r->original_mail_from);
		ref_str(b, "reported_domain", r->reported_domain);
		ref_str(b, "authentication_results", r->auth_results);
	}
	if (g_hash_table_size(r->correlation) > 0) {
		GHashTableIter it;
		gpointer k, v;

		json_builder_set_member_name(b, "correlation");
		json_builder_begin_object(b);
		g_hash_table_iter_init(&it, r->correlation);
		while (g_hash_table_iter_next(&it, &k, &v))
			ref_str(b, k, v);
		json_builder_end_object(b);
	}
	json_builder_set_member_name(b, "truncated");
	json_builder_add_boolean_value(b, (r->anomalies & REPORT_ANOMALY_TOO_MANY_RCPTS) != 0);
	json_builder_set_member_name(b, "anomalies");
	json_builder_add_int_value(b, r->anomalies);
	ref_str(b, "outcome", r->outcome);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	s = json_generator_to_data(g, NULL);
	g_string_append(out, s);
	g_string_append_c(out, '\n');
	g_free(s);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
}

/* A string holding byte values from..to (1..255), between two letters. */
static char *
bytes(int from, int to)
{
	GString *s = g_string_new("<");
	int c;

	for (c = from; c <= to; c++)
		g_string_append_c(s, (char)c);
	g_string_append_c(s, '>');
	return g_string_free(s, FALSE);
}

static struct report *
sample(enum report_kind kind, int nrec, int ncorr)
{
	struct report *r = report_new(kind);
	int i;

	r->outcome = g_strdup("ok");
	r->anomalies = REPORT_ANOMALY_TOO_MANY_RCPTS | REPORT_ANOMALY_NEUTRALISED | (1u << 31);
	r->mta = bytes(1, 64);
	r->reporting_mta = bytes(65, 128);
	r->arrival_date = bytes(129, 255);
	r->user_agent = g_strdup("\"quoted\" \\ back\\slash / slash");
	r->source_ip = NULL;
	r->original_mail_from = g_strdup("\x1f\x7f\x80\xff\xc3\xa9");
	r->reported_domain = g_strdup("");
	r->auth_results = bytes(1, 31);
	r->orig_message_id = g_strdup("<id@example.org>");
	r->orig_subject = g_strdup("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80");
	for (i = 0; i < ncorr; i++)
		g_hash_table_replace(r->correlation, g_strdup_printf("X-H%d\t\"%d\"", i, i * 7),
		    i % 3 ? bytes(i % 40 + 1, i % 40 + 20) : g_strdup_printf("v%d", i));
	for (i = 0; i < nrec; i++) {
		struct report_record *x = report_add_record(r);

		x->recipient = g_strdup_printf("user%d@example.org", i);
		x->class_ = (enum report_class)(i % 3);
		x->reason = i % 2 ? g_strdup("userunknown") : NULL;
		x->status = g_strdup("5.1.1");
		x->diagnostic = bytes(1 + i, 255);
		x->rule = i % 2 ? NULL : g_strdup("r\n1");
		x->recipient_from = g_strdup("final-recipient");
	}
	return r;
}

static void
assert_json_as_json_glib(const struct report *r, const char *file, long index)
{
	GString *got = g_string_new(NULL), *err = g_string_new(NULL), *want = g_string_new(NULL);
	guint i;

	render_report(got, err, RENDER_JSON | RENDER_OUTCOMES, file, index, r);
	if (r->records->len == 0)
		ref_json(want, file, index, r, NULL);
	for (i = 0; i < r->records->len; i++)
		ref_json(want, file, index, r, g_ptr_array_index(r->records, i));
	g_assert_cmpuint(got->len, ==, want->len);
	g_assert_true(memcmp(got->str, want->str, got->len) == 0);
	g_string_free(got, TRUE);
	g_string_free(err, TRUE);
	g_string_free(want, TRUE);
}

static void
test_json_bytes(void)
{
	enum report_kind kinds[] = { REPORT_KIND_NONE, REPORT_KIND_DSN, REPORT_KIND_ARF,
	    REPORT_KIND_BOUNCE };
	char *odd = bytes(1, 255);
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(kinds); k++) {
		struct report *r = sample(kinds[k], 3, 5);

		assert_json_as_json_glib(r, "dir/file.eml", -1);
		assert_json_as_json_glib(r, odd, 0);
		assert_json_as_json_glib(r, "mbox", 123456789);
		report_free(r);
	}
	g_free(odd);
}

/* No record: one line with the outcome, and the finding on stderr. */
static void
test_outcome_line(void)
{
	struct report *r = sample(REPORT_KIND_NONE, 0, 0);
	struct report *d = sample(REPORT_KIND_DSN, 0, 1);
	GString *out = g_string_new(NULL), *err = g_string_new(NULL);

	g_free(r->outcome);
	r->outcome = g_strdup("quarantined: crash signal=6 (SIGABRT) after 3 attempts");
	g_free(d->outcome);
	d->outcome = g_strdup("no recipient");
	assert_json_as_json_glib(r, "a.eml", -1);
	assert_json_as_json_glib(d, "b.eml", -1);
	render_report(out, err, RENDER_JSON, "a.eml", -1, r);
	g_assert_cmpstr(err->str, ==,
	    "rebound parse: a.eml: unparseable: quarantined: crash signal=6 (SIGABRT) after 3 attempts\n");
	g_string_truncate(out, 0);
	g_string_truncate(err, 0);
	render_report(out, err, RENDER_TAB, "b.eml", -1, d);
	g_assert_cmpstr(out->str, ==, "");
	g_assert_cmpstr(err->str, ==, "rebound parse: b.eml: dsn: no recipient\n");
	g_string_free(out, TRUE);
	g_string_free(err, TRUE);
	report_free(r);
	report_free(d);
}

static void
test_tab(void)
{
	struct report *r = sample(REPORT_KIND_DSN, 2, 0);
	GString *out = g_string_new(NULL), *err = g_string_new(NULL);

	render_report(out, err, RENDER_TAB, "f.eml", 3, r);
	g_assert_cmpstr(out->str, ==,
	    "f.eml\tdsn\tuser0@example.org\tunknown\t-\t5.1.1\tr\n1\n"
	    "f.eml\tdsn\tuser1@example.org\thard\tuserunknown\t5.1.1\t-\n");
	g_assert_cmpstr(err->str, ==, "");
	g_string_free(out, TRUE);
	g_string_free(err, TRUE);
	report_free(r);
}

/*
 * A worker renders (RENDER_WIRE_ORDER) what the parent printed from the
 * report it received: with many correlation keys, so that some collide and
 * the received copy iterates in another order than the original.
 */
static void
test_wire_order(void)
{
	int n, reordered = 0;

	for (n = 1; n <= 64; n++) {
		struct report *r = report_new(REPORT_KIND_DSN), *copy;
		GString *got = g_string_new(NULL), *want = g_string_new(NULL),
		    *plain = g_string_new(NULL), *err = g_string_new(NULL);
		struct report_record *x = report_add_record(r);
		GBytes *b;
		int i;

		r->outcome = g_strdup("ok");
		x->recipient = g_strdup("a@example.org");
		for (i = 0; i < n; i++)
			g_hash_table_replace(r->correlation, g_strdup_printf("X-Campaign-%d", i * 31),
			    g_strdup_printf("c%d", i));
		b = report_serialize(r);
		copy = report_deserialize(b);
		g_assert_nonnull(copy);
		render_report(got, err, RENDER_JSON | RENDER_WIRE_ORDER, "w.eml", -1, r);
		render_report(plain, err, RENDER_JSON, "w.eml", -1, r);
		ref_json(want, "w.eml", -1, copy, g_ptr_array_index(copy->records, 0));
		g_assert_cmpstr(got->str, ==, want->str);
		if (strcmp(plain->str, want->str) != 0)
			reordered++;
		g_string_free(got, TRUE);
		g_string_free(want, TRUE);
		g_string_free(plain, TRUE);
		g_string_free(err, TRUE);
		g_bytes_unref(b);
		report_free(copy);
		report_free(r);
	}
	/* Or this test would not show that the order is taken care of. */
	g_assert_cmpint(reordered, >, 0);
}

const struct unit_test unit_tests[] = {
	{ "/workers_render/json_bytes", test_json_bytes },
	{ "/workers_render/outcome_line", test_outcome_line },
	{ "/workers_render/tab", test_tab },
	{ "/workers_render/wire_order", test_wire_order },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
