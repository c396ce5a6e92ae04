/* test_report.c - report names and the GVariant round trip of the worker pipe. */
#include <string.h>
#include <glib.h>

#include "parsers/report.h"
#include "unit.h"

static void
test_names(void)
{
	int k, c;

	for (k = REPORT_KIND_NONE; k <= REPORT_KIND_BOUNCE; k++)
		g_assert_cmpint(report_kind_from_name(report_kind_name(k)), ==, k);
	for (c = REPORT_CLASS_UNKNOWN; c <= REPORT_CLASS_DELIVERED; c++)
		g_assert_cmpint(report_class_from_name(report_class_name(c)), ==, c);
	g_assert_cmpint(report_kind_from_name("nonsense"), ==, -1);
	g_assert_cmpint(report_class_from_name(NULL), ==, -1);
	g_assert_cmpstr(report_kind_name(REPORT_KIND_ARF), ==, "arf");
	g_assert_cmpstr(report_class_name(REPORT_CLASS_BLOCK), ==, "block");
}

static void
test_roundtrip(void)
{
	struct report *r = report_new(REPORT_KIND_DSN), *b;
	struct report_record *x;
	GBytes *bytes;

	r->outcome = g_strdup("ok");
	r->anomalies = REPORT_ANOMALY_NEUTRALISED | REPORT_ANOMALY_TOO_DEEP;
	r->reporting_mta = g_strdup("mx.example.test");
	r->orig_message_id = g_strdup("<m@x>");
	r->orig_subject = g_strdup("caf\xc3\xa9");
	g_hash_table_insert(r->correlation, g_strdup("X-Campaign-Id"), g_strdup("c1"));
	x = report_add_record(r);
	x->recipient = g_strdup("a@b.test");
	x->class_ = REPORT_CLASS_HARD;
	x->reason = g_strdup("userunknown");
	x->status = g_strdup("5.1.1");
	x->rule = g_strdup("st-x11");
	x = report_add_record(r);
	x->recipient = g_strdup("c@d.test");
	x->class_ = REPORT_CLASS_DELIVERED;
	x->action = g_strdup("delayed");

	bytes = report_serialize(r);
	b = report_deserialize(bytes);
	g_assert_nonnull(b);
	g_assert_cmpint(b->kind, ==, REPORT_KIND_DSN);
	g_assert_cmpstr(b->outcome, ==, "ok");
	g_assert_cmpuint(b->anomalies, ==, r->anomalies);
	g_assert_cmpstr(b->reporting_mta, ==, "mx.example.test");
	g_assert_null(b->mta);
	g_assert_cmpstr(b->orig_subject, ==, "caf\xc3\xa9");
	g_assert_cmpstr(g_hash_table_lookup(b->correlation, "X-Campaign-Id"), ==, "c1");
	g_assert_cmpuint(b->records->len, ==, 2);
	x = g_ptr_array_index(b->records, 0);
	g_assert_cmpstr(x->recipient, ==, "a@b.test");
	g_assert_cmpint(x->class_, ==, REPORT_CLASS_HARD);
	g_assert_cmpstr(x->reason, ==, "userunknown");
	g_assert_cmpstr(x->rule, ==, "st-x11");
	g_assert_null(x->diagnostic);
	x = g_ptr_array_index(b->records, 1);
	g_assert_cmpstr(x->action, ==, "delayed");
	g_assert_cmpint(x->class_, ==, REPORT_CLASS_DELIVERED);
	g_bytes_unref(bytes);
	report_free(b);
	report_free(r);
}

static void
test_garbage(void)
{
	static const char junk[] = "definitely not a report";
	GBytes *b = g_bytes_new_static(junk, sizeof(junk));
	struct report *r = report_deserialize(b);

	/* Either rejected or a harmless empty report; never a crash. */
	if (r != NULL)
		report_free(r);
	g_bytes_unref(b);
	g_assert_null(report_deserialize(NULL));
}

const struct unit_test unit_tests[] = {
	{ "/report/names", test_names },
	{ "/report/roundtrip", test_roundtrip },
	{ "/report/garbage", test_garbage },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
