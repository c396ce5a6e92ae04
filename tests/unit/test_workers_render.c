/*
 * test_workers_render.c - the lines "rebound parse" prints (workers/render.c):
 * every line is what json-glib's generator writes for the same members,
 * which wrote them before and whose bytes scripts rely on, for every byte
 * value in every field; the members, their order and values are those of
 * tests/fixtures/render/fields.jsonl; the tab format, the stderr lines, and
 * the correlation order of a report that crossed the process boundary.
 */
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "parsers/report.h"
#include "workers/render.h"
#include "unit.h"

static JsonNode *read_value(const char **p);

/* A JSON string at *p, escapes undone; any other byte is kept as is. */
static char *
read_string(const char **p)
{
	GString *s = g_string_new(NULL);
	const char *q = *p;

	g_assert_cmpint(*q, ==, '"');
	for (q++; *q != '"'; q++) {
		g_assert_cmpint(*q, !=, '\0');
		if (*q != '\\') {
			g_string_append_c(s, *q);
			continue;
		}
		switch (*++q) {
		case 'b': g_string_append_c(s, '\b'); break;
		case 't': g_string_append_c(s, '\t'); break;
		case 'n': g_string_append_c(s, '\n'); break;
		case 'f': g_string_append_c(s, '\f'); break;
		case 'r': g_string_append_c(s, '\r'); break;
		case 'u':
			/* only control characters are written as \u00xx */
			g_assert_true(g_str_has_prefix(q, "u00") && g_ascii_isxdigit(q[3]) &&
			    g_ascii_isxdigit(q[4]));
			g_string_append_c(s, (char)(g_ascii_xdigit_value(q[3]) * 16 +
			    g_ascii_xdigit_value(q[4])));
			q += 4;
			break;
		default:
			g_assert_true(*q == '"' || *q == '\\' || *q == '/');
			g_string_append_c(s, *q);
		}
	}
	*p = q + 1;
	return g_string_free(s, FALSE);
}

static JsonNode *
read_object(const char **p)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	g_assert_cmpint(**p, ==, '{');
	(*p)++;
	while (**p != '}') {
		char *k;

		if (json_object_get_size(o) > 0) {
			g_assert_cmpint(**p, ==, ',');
			(*p)++;
		}
		k = read_string(p);
		g_assert_cmpint(**p, ==, ':');
		(*p)++;
		g_assert_false(json_object_has_member(o, k));
		json_object_set_member(o, k, read_value(p));
		g_free(k);
	}
	(*p)++;
	json_node_take_object(n, o);
	return n;
}

/*
 * The JSON value at *p as a json-glib node: a reader of what render writes
 * (objects, strings, integers, true, false, null) that keeps invalid UTF-8,
 * which json-glib's own parser refuses.
 */
static JsonNode *
read_value(const char **p)
{
	JsonNode *n;
	char *end;

	if (**p == '{')
		return read_object(p);
	if (**p == '"') {
		char *s = read_string(p);

		n = json_node_init_string(json_node_alloc(), s);
		g_free(s);
		return n;
	}
	if (g_str_has_prefix(*p, "null")) {
		*p += 4;
		return json_node_init_null(json_node_alloc());
	}
	if (g_str_has_prefix(*p, "true") || g_str_has_prefix(*p, "false")) {
		n = json_node_init_boolean(json_node_alloc(), **p == 't');
		*p += **p == 't' ? 4 : 5;
		return n;
	}
	n = json_node_init_int(json_node_alloc(), g_ascii_strtoll(*p, &end, 10));
	g_assert_true(end != *p);
	*p = end;
	return n;
}

/*
 * Every line of out is one JSON object, byte for byte what json-glib's
 * generator writes for its members; returns the number of lines.
 */
static guint
assert_as_json_glib(const GString *out)
{
	char **lines = g_strsplit(out->str, "\n", -1);
	guint i, n = g_strv_length(lines);

	g_assert_cmpuint(strlen(out->str), ==, out->len);
	g_assert_cmpstr(lines[n - 1], ==, "");
	for (i = 0; i + 1 < n; i++) {
		const char *p = lines[i];
		JsonNode *node = read_value(&p);
		char *s = json_to_string(node, FALSE);

		g_assert_cmpint(*p, ==, '\0');
		g_assert_cmpstr(s, ==, lines[i]);
		g_free(s);
		json_node_unref(node);
	}
	g_strfreev(lines);
	return n - 1;
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

/*
 * r as JSON with RENDER_OUTCOMES: a line a record (one line without), each
 * as json-glib writes it, the first with file, index and the first
 * record's odd bytes intact.
 */
static void
assert_json_as_json_glib(const struct report *r, const char *file, long index)
{
	GString *out = g_string_new(NULL), *err = g_string_new(NULL);
	const char *p;
	JsonNode *node;
	JsonObject *o;

	render_report(out, err, RENDER_JSON | RENDER_OUTCOMES, file, index, r);
	g_assert_cmpuint(assert_as_json_glib(out), ==, MAX(r->records->len, 1));
	p = out->str;
	node = read_value(&p);
	o = json_node_get_object(node);
	g_assert_cmpstr(json_object_get_string_member(o, "file"), ==, file);
	g_assert_cmpint(json_object_get_int_member_with_default(o, "message", -1), ==, index);
	g_assert_cmpstr(json_object_get_string_member(o, "mta"), ==, r->mta);
	if (r->records->len > 0) {
		const struct report_record *rec = g_ptr_array_index(r->records, 0);

		g_assert_cmpstr(json_object_get_string_member(o, "diagnostic"), ==, rec->diagnostic);
	}
	json_node_unref(node);
	g_string_free(out, TRUE);
	g_string_free(err, TRUE);
}

/*
 * A report with every member rendered set, each to its own value, and one
 * correlation header.
 */
static struct report *
every_member(enum report_kind kind)
{
	struct report *r = report_new(kind);
	struct report_record *x = report_add_record(r);

	r->outcome = g_strdup("ok");
	r->anomalies = REPORT_ANOMALY_BAD_STATUS | REPORT_ANOMALY_TOO_MANY_RCPTS;
	r->mta = g_strdup("postfix");
	r->reporting_mta = g_strdup("dns; mx.example.net");
	r->arrival_date = g_strdup("Mon, 23 Nov 2026 10:00:00 +0000");
	r->user_agent = g_strdup("ISP-FBL/1.0");
	r->source_ip = g_strdup("192.0.2.1");
	r->original_mail_from = g_strdup("bounce@bounces.example.com");
	r->reported_domain = g_strdup("sender.example");
	r->auth_results = g_strdup("mx.isp.example; dkim=pass header.d=sender.example");
	r->orig_message_id = g_strdup("<orig-1@sender.example>");
	r->orig_from = g_strdup("news@sender.example");
	r->orig_to = g_strdup("to@example.org");
	r->orig_subject = g_strdup("Our news");
	r->orig_list_id = g_strdup("<news.sender.example>");
	r->orig_date = g_strdup("Sun, 22 Nov 2026 09:00:00 +0000");
	g_hash_table_replace(r->correlation, g_strdup("X-Campaign-Id"), g_strdup("spring-42"));
	x->recipient = g_strdup("user@example.org");
	x->recipient_from = g_strdup("final-recipient");
	x->original_recipient = g_strdup("rfc822; User@Example.org");
	x->class_ = REPORT_CLASS_HARD;
	x->reason = g_strdup("userunknown");
	x->status = g_strdup("5.1.1");
	x->replycode = g_strdup("550");
	x->action = g_strdup("failed");
	x->diagnostic = g_strdup("smtp; 550 5.1.1 no such user");
	x->remote_mta = g_strdup("dns; mx.example.org");
	x->last_attempt = g_strdup("Mon, 23 Nov 2026 09:59:00 +0000");
	x->feedback_type = g_strdup("abuse");
	x->smtp_command = g_strdup("RCPT");
	x->rule = g_strdup("r1");
	return r;
}

/* The members, their order and values, in both formats, as written down in the fixture. */
static void
test_fields(void)
{
	enum report_kind kinds[] = { REPORT_KIND_DSN, REPORT_KIND_ARF };
	GString *out = g_string_new(NULL), *err = g_string_new(NULL);
	char *want = NULL;
	GError *gerr = NULL;
	size_t k;

	for (k = 0; k < G_N_ELEMENTS(kinds); k++) {
		struct report *r = every_member(kinds[k]);

		render_report(out, err, RENDER_JSON, "dir/f.eml", -1, r);
		render_report(out, err, RENDER_JSON, "mbox", 7, r);
		render_report(out, err, RENDER_TAB, "dir/f.eml", 7, r);
		report_free(r);
	}
	if (!g_file_get_contents("tests/fixtures/render/fields.out", &want, NULL, &gerr))
		g_error("%s", gerr->message);
	g_assert_cmpstr(out->str, ==, want);
	g_assert_cmpstr(err->str, ==, "");
	g_free(want);
	g_string_free(out, TRUE);
	g_string_free(err, TRUE);
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

/* Strings are scanned eight bytes at a time: each odd byte at each place in a word. */
static void
test_json_byte_places(void)
{
	static const unsigned char odd[] = { 0x01, 0x08, 0x0a, 0x1e, 0x1f, 0x20, '"', '\\',
	    0x7e, 0x7f, 0x80, 0xc3, 0xff };
	struct report *r = sample(REPORT_KIND_DSN, 1, 1);
	char s[40];
	size_t k, at;

	for (k = 0; k < G_N_ELEMENTS(odd); k++)
		for (at = 0; at < 24; at++) {
			memset(s, 'a', sizeof(s) - 1);
			s[sizeof(s) - 1] = '\0';
			s[at] = (char)odd[k];
			s[at + 9] = (char)odd[k];
			assert_json_as_json_glib(r, s, 0);
			s[at + 1] = '\0';
			assert_json_as_json_glib(r, s, 0);
		}
	report_free(r);
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
		render_report(want, err, RENDER_JSON, "w.eml", -1, copy);
		g_assert_cmpstr(got->str, ==, want->str);
		g_assert_cmpuint(assert_as_json_glib(got), ==, 1);
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
	{ "/workers_render/json_byte_places", test_json_byte_places },
	{ "/workers_render/fields", test_fields },
	{ "/workers_render/outcome_line", test_outcome_line },
	{ "/workers_render/tab", test_tab },
	{ "/workers_render/wire_order", test_wire_order },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
