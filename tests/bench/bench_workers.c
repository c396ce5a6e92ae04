/*
 * bench_workers.c - messages/s through the parser worker pool vs parsing
 * in-process, on the same inputs.
 *
 * usage: bench_workers REBOUND_BINARY [DIR...]
 * Inputs: every *.eml under the DIRs (default tests/fixtures), except the
 * hostile/ directory and the hook-*.eml test-hook messages.  Each mode runs
 * for about REBOUND_BENCH_SECONDS (default 2) seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "common/config.h"
#include "parsers/parser.h"
#include "workers/workers.h"

static void
bench_collect(const char *dir, GPtrArray *msgs)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);
		if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
			if (strcmp(name, "hostile") != 0)
				bench_collect(path, msgs);
		} else if (g_str_has_suffix(name, ".eml") && !g_str_has_prefix(name, "hook-")) {
			char *data;
			gsize len;
			if (g_file_get_contents(path, &data, &len, NULL))
				g_ptr_array_add(msgs, g_bytes_new_take(data, len));
		}
		g_free(path);
	}
	g_dir_close(d);
}

static double
bench_inprocess(const struct config *cfg, GPtrArray *msgs, double seconds, guint *count)
{
	struct parser_options o = { .rules_path = cfg->parser_rules,
	    .verp_pattern = cfg->parser_verp_pattern,
	    .correlation_headers = cfg->parser_correlation_headers,
	    .charset_allow = cfg->parser_charset_allow, .max_depth = (int)cfg->parser_max_depth,
	    .max_parts = (int)cfg->parser_max_parts,
	    .max_header_size = (gsize)cfg->parser_max_header_size };
	char *err = NULL;
	struct parser *p = parser_new(&o, &err);
	gint64 t0, t;
	guint n = 0;

	if (p == NULL) {
		fprintf(stderr, "bench_workers: parser: %s\n", err);
		exit(1);
	}
	t0 = g_get_monotonic_time();
	do {
		GBytes *b = msgs->pdata[n % msgs->len];
		gsize len;
		const char *data = g_bytes_get_data(b, &len);
		report_free(parser_parse(p, data, len, "bounce@bounces.example.com"));
		n++;
		t = g_get_monotonic_time();
	} while (t - t0 < seconds * G_USEC_PER_SEC);
	parser_free(p);
	*count = n;
	return n / ((t - t0) / 1e6);
}

static double
bench_pool(struct config *cfg, const char *exe, int nworkers, GPtrArray *msgs, double seconds,
    guint *count, guint *failed)
{
	struct workers_job *jobs;
	struct workers *w;
	char *err = NULL;
	size_t batch = (size_t)cfg->store_batch, i;
	gint64 t0, t;
	guint n = 0;

	cfg->parser_workers = nworkers;
	if ((w = workers_new_exe(cfg, exe, &err)) == NULL) {
		fprintf(stderr, "bench_workers: %s\n", err);
		exit(1);
	}
	jobs = g_new0(struct workers_job, batch);
	*failed = 0;
	t0 = g_get_monotonic_time();
	do {
		for (i = 0; i < batch; i++) {
			GBytes *b = msgs->pdata[(n + i) % msgs->len];
			gsize len;
			jobs[i].data = g_bytes_get_data(b, &len);
			jobs[i].len = len;
			jobs[i].envelope_rcpt = "bounce@bounces.example.com";
		}
		workers_parse(w, jobs, batch);
		for (i = 0; i < batch; i++) {
			if (jobs[i].status != WORKERS_OK)
				(*failed)++;
			workers_job_clear(&jobs[i]);
		}
		n += (guint)batch;
		t = g_get_monotonic_time();
	} while (t - t0 < seconds * G_USEC_PER_SEC);
	workers_free(w);
	g_free(jobs);
	*count = n;
	return n / ((t - t0) / 1e6);
}

int
main(int argc, char **argv)
{
	struct config *cfg = config_defaults();
	GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	const char *secs_env = g_getenv("REBOUND_BENCH_SECONDS");
	double secs = secs_env ? g_ascii_strtod(secs_env, NULL) : 2.0, inproc, pool1, pool2;
	guint n0, n1, n2, f1, f2;
	gsize bytes = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_workers REBOUND_BINARY [DIR...]\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		bench_collect(argv[i], msgs);
	if (argc == 2)
		bench_collect("tests/fixtures", msgs);
	if (msgs->len == 0) {
		fprintf(stderr, "bench_workers: no .eml inputs\n");
		return 1;
	}
	for (i = 0; i < (int)msgs->len; i++)
		bytes += g_bytes_get_size(msgs->pdata[i]);
	if (!g_file_test(cfg->parser_rules, G_FILE_TEST_EXISTS))
		g_clear_pointer(&cfg->parser_rules, g_free);

	inproc = bench_inprocess(cfg, msgs, secs, &n0);
	pool1 = bench_pool(cfg, argv[1], 1, msgs, secs, &n1, &f1);
	pool2 = bench_pool(cfg, argv[1], 2, msgs, secs, &n2, &f2);
	printf("bench-workers: %u distinct inputs, mean %zu bytes, batch %lld, %.1fs per mode\n",
	    msgs->len, bytes / msgs->len, (long long)cfg->store_batch, secs);
	printf("  in-process parser_parse:      %8.0f msg/s  (%u messages)\n", inproc, n0);
	printf("  worker pool, 1 worker:        %8.0f msg/s  (%u messages, %u failed)  %.2fx in-process\n",
	    pool1, n1, f1, pool1 / inproc);
	printf("  worker pool, 2 workers:       %8.0f msg/s  (%u messages, %u failed)  %.2fx in-process\n",
	    pool2, n2, f2, pool2 / inproc);
	printf("  pool overhead per message (1 worker): %.1f us\n",
	    1e6 / pool1 - 1e6 / inproc);
	g_ptr_array_unref(msgs);
	config_free(cfg);
	return f1 + f2 == 0 ? 0 : 1;
}
