/* test_log.c - one line per log call whatever the values hold (a libpq
 * error with line breaks and quotes), and [log] format = json: one JSON
 * object per line with the key=value pairs as members. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "common/log.h"
#include "unit.h"

/* What the log calls in fn write to stderr. */
static char *
captured(void (*fn)(void))
{
	char path[] = "/tmp/rebound-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *text = NULL;

	g_assert_cmpint(fd, >=, 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	unlink(path);
	return text;
}

static const char pg_error[] = "ERROR:  relation \"events\" does not exist\n"
    "LINE 1: SELECT 1 FROM events\n\t^\n";

static void
log_db_error(void)
{
	log_warnx("store state=down error=\"%s\" retry=%ds", pg_error, 5);
	log_info("q=%s stored events=%zu rate=%.1f note=\"%s\"", "008EAx", (size_t)3, 2.5,
	    "already \\\"escaped\\\" text");
}

static void
test_text_one_line(void)
{
	char *out = captured(log_db_error);
	char **lines = g_strsplit(out, "\n", -1);

	g_assert_cmpuint(g_strv_length(lines), ==, 3);	/* two lines and the empty tail */
	g_assert_nonnull(strstr(lines[0], " warn store state=down error=\"ERROR:  relation "
	    "\\\"events\\\" does not exist\\nLINE 1: SELECT 1 FROM events\\n\\t^\\n\" retry=5s"));
	/* text that log_escape() escaped already is not escaped twice */
	g_assert_nonnull(strstr(lines[1], " info q=008EAx stored events=3 rate=2.5 "
	    "note=\"already \\\"escaped\\\" text\""));
	g_strfreev(lines);
	g_free(out);
}

static void
test_json(void)
{
	char *out, **lines;
	JsonParser *jp = json_parser_new();
	JsonObject *o;

	g_assert_cmpint(log_set_format_name("json"), ==, 0);
	out = captured(log_db_error);
	g_assert_cmpint(log_set_format_name("text"), ==, 0);
	g_assert_cmpint(log_set_format_name("xml"), ==, -1);
	lines = g_strsplit(out, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 3);
	g_assert_true(json_parser_load_from_data(jp, lines[0], -1, NULL));
	o = json_node_get_object(json_parser_get_root(jp));
	g_assert_cmpstr(json_object_get_string_member(o, "level"), ==, "warn");
	g_assert_cmpstr(json_object_get_string_member(o, "msg"), ==, "store");
	g_assert_cmpstr(json_object_get_string_member(o, "state"), ==, "down");
	g_assert_cmpstr(json_object_get_string_member(o, "retry"), ==, "5s");
	g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "error"),
	    "ERROR:  relation \"events\" does not exist\\nLINE 1"));
	g_assert_true(g_str_has_suffix(json_object_get_string_member(o, "time"), "Z"));
	g_assert_true(json_parser_load_from_data(jp, lines[1], -1, NULL));
	o = json_node_get_object(json_parser_get_root(jp));
	g_assert_cmpstr(json_object_get_string_member(o, "q"), ==, "008EAx");
	g_assert_cmpstr(json_object_get_string_member(o, "events"), ==, "3");
	g_assert_cmpstr(json_object_get_string_member(o, "note"), ==, "already \"escaped\" text");
	g_object_unref(jp);
	g_strfreev(lines);
	g_free(out);
}

static const struct unit_test tests[] = {
	{ "/log/text-one-line", test_text_one_line },
	{ "/log/json", test_json },
};

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	log_init(LOG_LEVEL_INFO);
	unit_add(tests, G_N_ELEMENTS(tests));
	return g_test_run();
}
