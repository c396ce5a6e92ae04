/*
 * bench_parse.c - parser throughput: every file named on the command line
 * is read into memory once, then all are parsed in turn, in this one
 * thread, until at least SECONDS (argv[1]) have passed.  Prints
 * "rebound N messages in S s: R messages/s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "parsers/parser.h"
#include "parsers/report.h"

int
main(int argc, char **argv)
{
	struct parser_options o;
	struct parser *p;
	GPtrArray *msgs = g_ptr_array_new();
	GArray *lens = g_array_new(FALSE, FALSE, sizeof(gsize));
	char *err = NULL;
	double secs, t0, el;
	long n = 0, recs = 0;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_parse SECONDS RULES FILE...\n");
		return 2;
	}
	secs = atof(argv[1]);
	memset(&o, 0, sizeof(o));
	o.rules_path = argv[2];
	if ((p = parser_new(&o, &err)) == NULL) {
		fprintf(stderr, "bench_parse: %s\n", err);
		return 1;
	}
	for (i = 3; i < argc; i++) {
		char *d;
		gsize l;

		if (!g_file_get_contents(argv[i], &d, &l, NULL))
			continue;
		g_ptr_array_add(msgs, d);
		g_array_append_val(lens, l);
	}
	if (msgs->len == 0) {
		fprintf(stderr, "bench_parse: no input\n");
		return 1;
	}
	t0 = g_get_monotonic_time() / 1e6;
	do {
		guint j;

		for (j = 0; j < msgs->len; j++) {
			struct report *r = parser_parse(p, g_ptr_array_index(msgs, j),
			    g_array_index(lens, gsize, j), NULL);

			recs += r->records->len;
			report_free(r);
			n++;
		}
		el = g_get_monotonic_time() / 1e6 - t0;
	} while (el < secs);
	printf("rebound %ld messages (%u files, %ld records) in %.2f s: %.0f messages/s\n",
	    n, msgs->len, recs, el, n / el);
	parser_free(p);
	return 0;
}
