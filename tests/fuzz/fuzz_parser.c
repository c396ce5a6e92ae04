/*
 * fuzz_parser.c - libFuzzer target: any bytes through parser_parse(), with
 * the shipped rules and a VERP pattern, must neither crash nor leak, and
 * never return more records than max_recipients; and the report must be
 * the same when GMime alone splits the message (parser_set_gmime_only):
 * mime_split() may decline a body, never read it differently.
 */
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "parsers/parser.h"
#include "parsers/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct parser *p;
	struct report *r;
	GBytes *b, *g;

	if (p == NULL) {
		struct parser_options o = { 0 };
		char *err = NULL;

		o.rules_path = g_file_test("conf/rules.conf", G_FILE_TEST_EXISTS) ?
		    "conf/rules.conf" : NULL;
		o.verp_pattern = "^bounce\\+(?<local>[^=@]+)=(?<domain>[^@]+)@";
		o.max_parts = 200;
		o.max_recipients = 50;
		p = parser_new(&o, &err);
		if (p == NULL)
			__builtin_trap();
	}
	r = parser_parse(p, (const char *)data, size, "bounce+x=example.test@b.test");
	if (r->records->len > 50 || r->outcome == NULL)
		__builtin_trap();
	/* the worker pipe must carry whatever the parser produced */
	b = report_serialize(r);
	report_free(r);
	r = report_deserialize(b);
	if (r == NULL)
		__builtin_trap();
	report_free(r);
	parser_set_gmime_only(p, TRUE);
	r = parser_parse(p, (const char *)data, size, "bounce+x=example.test@b.test");
	parser_set_gmime_only(p, FALSE);
	g = report_serialize(r);
	report_free(r);
	if (!g_bytes_equal(b, g))
		__builtin_trap();
	g_bytes_unref(g);
	g_bytes_unref(b);
	return 0;
}
