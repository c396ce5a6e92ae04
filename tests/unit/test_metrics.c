/* test_metrics.c - /metrics: HELP and TYPE on every family, counters at 0
 * before their first event, and every metric name the sources use declared
 * in metrics.c's table (so none appears without its HELP). */
#include <string.h>
#include <glib.h>

#include "common/metrics.h"
#include "unit.h"

static char *rendered;

/* The metric names the daemon's sources pass to metrics_*() calls. */
static GPtrArray *
source_names(void)
{
	static const char *const dirs[] = { "common", "receiver", "workers", "store", "webhook", "lookup",
	    "cli" };
	GRegex *re = g_regex_new("\"(rebound_[a-z0-9_]+)\"", 0, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

	for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
		GDir *d = g_dir_open(dirs[i], 0, NULL);
		const char *e;

		g_assert_nonnull(d);	/* run from the top of the tree (tests/run.py does) */
		while ((e = g_dir_read_name(d)) != NULL) {
			char *path, *text, **lines;

			if (!g_str_has_suffix(e, ".c") || strcmp(e, "metrics.c") == 0)
				continue;
			path = g_build_filename(dirs[i], e, NULL);
			g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
			lines = g_strsplit(text, "\n", -1);
			for (int j = 0; lines[j] != NULL; j++) {
				GMatchInfo *m;

				if (strstr(lines[j], "metrics_") == NULL)
					continue;
				g_regex_match(re, lines[j], 0, &m);
				while (g_match_info_matches(m)) {
					g_ptr_array_add(names, g_match_info_fetch(m, 1));
					g_match_info_next(m, NULL);
				}
				g_match_info_free(m);
			}
			g_strfreev(lines);
			g_free(text);
			g_free(path);
		}
		g_dir_close(d);
	}
	g_regex_unref(re);
	return names;
}

static gboolean
has_line(const char *prefix)
{
	char **lines = g_strsplit(rendered, "\n", -1);
	gboolean found = FALSE;

	for (int i = 0; lines[i] != NULL && !found; i++)
		found = g_str_has_prefix(lines[i], prefix);
	g_strfreev(lines);
	return found;
}

static void
test_every_source_name_declared(void)
{
	GPtrArray *names = source_names();

	g_assert_cmpuint(names->len, >, 10);
	for (guint i = 0; i < names->len; i++) {
		char *help = g_strdup_printf("# HELP %s ", (char *)names->pdata[i]);
		char *type = g_strdup_printf("# TYPE %s ", (char *)names->pdata[i]);
		char *self = g_strdup_printf("# HELP %s %s\n", (char *)names->pdata[i],
		    (char *)names->pdata[i]);

		if (!has_line(help) || !has_line(type))
			g_error("%s has no HELP or TYPE before its first event", (char *)names->pdata[i]);
		if (strstr(rendered, self) != NULL)
			g_error("%s is not in metrics.c's table (HELP is only its name)",
			    (char *)names->pdata[i]);
		g_free(help);
		g_free(type);
		g_free(self);
	}
	g_ptr_array_free(names, TRUE);
}

static void
test_counters_start_at_zero(void)
{
	g_assert_true(has_line("rebound_messages_duplicate_total 0"));
	g_assert_true(has_line("rebound_smtp_sessions_total 0"));
	g_assert_true(has_line("rebound_messages_total{kind=\"quarantined\"} 0"));
	g_assert_true(has_line("rebound_lookup_hits_total{proto=\"socketmap\"} 0"));
	g_assert_true(has_line("rebound_store_seconds_count{op=\"batch\"} 0"));
	g_assert_true(has_line("# TYPE rebound_store_seconds histogram"));
	g_assert_true(has_line("# TYPE rebound_spool_backlog gauge"));
	/* an unset gauge is unknown, not 0 */
	g_assert_false(has_line("rebound_spool_backlog "));
}

static void
test_events_count(void)
{
	char *after;

	metrics_inc("rebound_messages_duplicate_total", NULL, NULL);
	metrics_inc("rebound_messages_reason_total", "reason", "userunknown");
	after = metrics_render();
	g_assert_nonnull(strstr(after, "\nrebound_messages_duplicate_total 1\n"));
	g_assert_nonnull(strstr(after, "\nrebound_messages_reason_total{reason=\"userunknown\"} 1\n"));
	/* one HELP and one TYPE per family, not per series */
	g_assert_null(strstr(strstr(after, "# TYPE rebound_messages_total counter") + 1,
	    "# TYPE rebound_messages_total counter"));
	g_free(after);
}

static const struct unit_test tests[] = {
	{ "/metrics/every-source-name-declared", test_every_source_name_declared },
	{ "/metrics/counters-start-at-zero", test_counters_start_at_zero },
	{ "/metrics/events-count", test_events_count },
};

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	rendered = metrics_render();
	unit_add(tests, G_N_ELEMENTS(tests));
	rc = g_test_run();
	g_free(rendered);
	return rc;
}
