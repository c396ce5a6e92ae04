/* metrics.c - the Prometheus registry; see metrics.h. */
#include "common/metrics.h"

#include <string.h>
#include <glib.h>

#include "common/log.h"

/* Latency buckets in seconds: lookups live in the microseconds, store
 * commits in the milliseconds, so the range is wide. */
static const double metrics_buckets[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define NBUCKETS G_N_ELEMENTS(metrics_buckets)

struct metrics_series {
	char *labels;			/* 'code="250"' or "" */
	double value;			/* counter/gauge value, histogram sum */
	guint64 count;			/* histogram observations */
	guint64 buckets[NBUCKETS];	/* non-cumulative */
};

struct metrics_family {
	char *name;
	char *help;
	enum metrics_type type;
	GHashTable *series;		/* labels -> struct metrics_series */
};

static GMutex metrics_lock;
static GHashTable *metrics_families;	/* name -> struct metrics_family */

/*
 * Every family the daemon exports, with its type and HELP text, and the
 * series a counter starts with at 0, so that a scrape sees each from the
 * start (rate() and absent() need the 0) rather than after its first event.
 * tests/unit/test_metrics.c checks that every name the sources use is here.
 */
static const struct {
	const char *name;
	enum metrics_type type;
	const char *help;
	/* The series made at start: label NULL, one without labels (none for a
	 * gauge: unknown until set); else one per value of "a|b|c", none when
	 * the values are not known in advance (values NULL). */
	const char *label;
	const char *values;
} metrics_known[] = {
	{ "rebound_smtp_sessions_total", METRICS_COUNTER, "SMTP sessions accepted", NULL, NULL },
	{ "rebound_smtp_replies_total", METRICS_COUNTER, "SMTP replies sent, by code",
	    "code", "220|221|250|354|421|451|452|500|501|503|550|552|554" },
	{ "rebound_spool_backlog", METRICS_GAUGE, "messages in the spool waiting for processing",
	    NULL, NULL },
	{ "rebound_messages_total", METRICS_COUNTER, "messages stored, by kind of report",
	    "kind", "dsn|arf|autoreply|bounce|none|quarantined" },
	{ "rebound_messages_class_total", METRICS_COUNTER, "recipient records stored, by class",
	    "class", "hard|soft|block|complaint|autoreply|delivered|unknown" },
	{ "rebound_messages_reason_total", METRICS_COUNTER, "recipient records stored, by reason",
	    "reason", NULL },
	{ "rebound_messages_duplicate_total", METRICS_COUNTER,
	    "messages received again (same SHA-256) and counted once", NULL, NULL },
	{ "rebound_messages_unsuppressible_total", METRICS_COUNTER,
	    "messages stored that could suppress nobody (unsigned, forged, no provider DKIM), by why",
	    "reason", NULL },
	{ "rebound_suppressions_capped_total", METRICS_COUNTER,
	    "recipient records not allowed to suppress by [policy] max_suppressions_per_message",
	    NULL, NULL },
	{ "rebound_store_seconds", METRICS_HISTOGRAM, "time of one store transaction, by outcome",
	    "op", "batch|batch_failed" },
	{ "rebound_store_batches_total", METRICS_COUNTER, "store transactions committed", NULL, NULL },
	{ "rebound_store_batch_messages_total", METRICS_COUNTER,
	    "messages in committed store transactions", NULL, NULL },
	{ "rebound_lookup_seconds", METRICS_HISTOGRAM, "time to answer one suppression lookup",
	    "proto", "socketmap|policy|http" },
	{ "rebound_lookup_hits_total", METRICS_COUNTER, "lookups answered \"suppressed\"",
	    "proto", "socketmap|policy|http" },
	{ "rebound_lookup_misses_total", METRICS_COUNTER, "lookups answered \"not suppressed\"",
	    "proto", "socketmap|policy|http" },
	{ "rebound_lookup_notify_errors_total", METRICS_COUNTER,
	    "errors of the suppression change feed (LISTEN/NOTIFY); the index is reloaded",
	    NULL, NULL },
	{ "rebound_index_entries", METRICS_GAUGE, "suppressed addresses in the lookup index",
	    NULL, NULL },
	{ "rebound_index_bytes", METRICS_GAUGE, "memory of the lookup index", NULL, NULL },
	{ "rebound_index_load_seconds", METRICS_HISTOGRAM, "time to load the lookup index",
	    NULL, NULL },
	{ "rebound_index_updates_total", METRICS_COUNTER,
	    "suppression changes applied to the lookup index", NULL, NULL },
	{ "rebound_index_change_id", METRICS_GAUGE,
	    "last suppression change (suppression_changes.id) applied to the index", NULL, NULL },
	{ "rebound_index_lag_seconds", METRICS_GAUGE,
	    "how far behind its database's suppressions the lookup index may be", NULL, NULL },
	{ "rebound_index_reloads_total", METRICS_COUNTER,
	    "full reloads of the lookup index after the change log was pruned past it",
	    "reason", "pruned" },
	{ "rebound_http_responses_total", METRICS_COUNTER, "HTTP API responses, by status",
	    "code", "200|201|301|400|401|403|404|405|500|503" },
	{ "rebound_webhook_deliveries_total", METRICS_COUNTER,
	    "webhook delivery attempts, by result (failed: retried later; dead: given up after"
	    " [webhook] give_up_seconds)", "result", "delivered|failed|dead" },
	{ "rebound_webhook_outbox", METRICS_GAUGE,
	    "webhook deliveries waiting (pending) and given up (dead, the dead letters), by state",
	    "state", NULL },
};

static void
metrics_series_free(gpointer p)
{
	struct metrics_series *s = p;

	g_free(s->labels);
	g_free(s);
}

static char *
metrics_labels(const char *label, const char *value)
{
	GString *out;
	const char *p;

	if (label == NULL)
		return g_strdup("");
	out = g_string_new(NULL);
	g_string_append_printf(out, "%s=\"", label);
	for (p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			g_string_append_c(out, '\\');
		if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

/* Called with metrics_lock held: the family, made (with its HELP) on first use. */
static struct metrics_family *
metrics_family(enum metrics_type type, const char *name)
{
	struct metrics_family *f;

	if (metrics_families == NULL)
		metrics_families = g_hash_table_new(g_str_hash, g_str_equal);
	if ((f = g_hash_table_lookup(metrics_families, name)) == NULL) {
		f = g_new0(struct metrics_family, 1);
		f->name = g_strdup(name);
		f->type = type;
		for (size_t i = 0; i < G_N_ELEMENTS(metrics_known); i++)
			if (strcmp(metrics_known[i].name, name) == 0)
				f->help = g_strdup(metrics_known[i].help);
		f->series = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, metrics_series_free);
		g_hash_table_insert(metrics_families, f->name, f);
	}
	if (f->type != type)
		fatalx("metrics: %s used with two types", name);
	return f;
}

/* Called with metrics_lock held. */
static struct metrics_series *
metrics_find(enum metrics_type type, const char *name, const char *label, const char *value)
{
	struct metrics_family *f = metrics_family(type, name);
	struct metrics_series *s;
	char *labels;

	labels = metrics_labels(label, value);
	if ((s = g_hash_table_lookup(f->series, labels)) == NULL) {
		s = g_new0(struct metrics_series, 1);
		s->labels = labels;
		g_hash_table_insert(f->series, s->labels, s);
	} else
		g_free(labels);
	return s;
}

static void
metrics_series_observe(struct metrics_series *s, double seconds)
{
	size_t i;

	s->value += seconds;
	s->count++;
	for (i = 0; i < NBUCKETS; i++)
		if (seconds <= metrics_buckets[i]) {
			s->buckets[i]++;
			break;
		}
}

void
metrics_add(const char *name, const char *label, const char *value, double n)
{
	g_mutex_lock(&metrics_lock);
	metrics_find(METRICS_COUNTER, name, label, value)->value += n;
	g_mutex_unlock(&metrics_lock);
}

void
metrics_inc(const char *name, const char *label, const char *value)
{
	metrics_add(name, label, value, 1);
}

void
metrics_set(const char *name, const char *label, const char *value, double v)
{
	g_mutex_lock(&metrics_lock);
	metrics_find(METRICS_GAUGE, name, label, value)->value = v;
	g_mutex_unlock(&metrics_lock);
}

void
metrics_observe(const char *name, const char *label, const char *value, double seconds)
{
	g_mutex_lock(&metrics_lock);
	metrics_series_observe(metrics_find(METRICS_HISTOGRAM, name, label, value), seconds);
	g_mutex_unlock(&metrics_lock);
}

double
metrics_value(const char *name, const char *label, const char *value, int *found)
{
	struct metrics_family *f;
	struct metrics_series *s = NULL;
	char *labels = metrics_labels(label, value);
	double v = 0;

	g_mutex_lock(&metrics_lock);
	if (metrics_families != NULL &&
	    (f = g_hash_table_lookup(metrics_families, name)) != NULL &&
	    f->type != METRICS_HISTOGRAM)
		s = g_hash_table_lookup(f->series, labels);
	if (s != NULL)
		v = s->value;
	g_mutex_unlock(&metrics_lock);
	g_free(labels);
	if (found)
		*found = s != NULL;
	return v;
}

struct metrics_series *
metrics_handle(enum metrics_type type, const char *name, const char *label, const char *value)
{
	struct metrics_series *s;

	g_mutex_lock(&metrics_lock);
	s = metrics_find(type, name, label, value);
	g_mutex_unlock(&metrics_lock);
	return s;
}

void
metrics_handle_add(struct metrics_series *s, double n)
{
	g_mutex_lock(&metrics_lock);
	s->value += n;
	g_mutex_unlock(&metrics_lock);
}

void
metrics_handle_observe(struct metrics_series *s, double seconds)
{
	g_mutex_lock(&metrics_lock);
	metrics_series_observe(s, seconds);
	g_mutex_unlock(&metrics_lock);
}

/* GLib 2.74 has no metrics_keys(). */
static GPtrArray *
metrics_keys(GHashTable *h)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer k;

	g_hash_table_iter_init(&it, h);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(a, k);
	return a;
}

static gint
metrics_strcmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
metrics_render_series(GString *out, const struct metrics_family *f, const struct metrics_series *s)
{
	const char *sep = s->labels[0] ? "," : "";
	guint64 cum = 0;
	size_t i;

	if (f->type != METRICS_HISTOGRAM) {
		if (s->labels[0])
			g_string_append_printf(out, "%s{%s} %.17g\n", f->name, s->labels, s->value);
		else
			g_string_append_printf(out, "%s %.17g\n", f->name, s->value);
		return;
	}
	for (i = 0; i < NBUCKETS; i++) {
		cum += s->buckets[i];
		g_string_append_printf(out, "%s_bucket{%s%sle=\"%g\"} %" G_GUINT64_FORMAT "\n",
		    f->name, s->labels, sep, metrics_buckets[i], cum);
	}
	g_string_append_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" G_GUINT64_FORMAT "\n",
	    f->name, s->labels, sep, s->count);
	if (s->labels[0]) {
		g_string_append_printf(out, "%s_sum{%s} %.17g\n", f->name, s->labels, s->value);
		g_string_append_printf(out, "%s_count{%s} %" G_GUINT64_FORMAT "\n", f->name, s->labels, s->count);
	} else {
		g_string_append_printf(out, "%s_sum %.17g\n", f->name, s->value);
		g_string_append_printf(out, "%s_count %" G_GUINT64_FORMAT "\n", f->name, s->count);
	}
}

/* Called with metrics_lock held: the families of metrics_known, and their first series. */
static void
metrics_declare(void)
{
	static gboolean done;

	if (done)
		return;
	done = TRUE;
	for (size_t i = 0; i < G_N_ELEMENTS(metrics_known); i++) {
		enum metrics_type t = metrics_known[i].type;
		const char *name = metrics_known[i].name;
		char **v;

		if (metrics_known[i].label == NULL) {
			metrics_family(t, name);
			if (t != METRICS_GAUGE)
				metrics_find(t, name, NULL, NULL);
			continue;
		}
		metrics_family(t, name);
		v = g_strsplit(metrics_known[i].values ? metrics_known[i].values : "", "|", -1);
		for (int j = 0; v[j] != NULL; j++)
			if (*v[j] != '\0')
				metrics_find(t, name, metrics_known[i].label, v[j]);
		g_strfreev(v);
	}
}

char *
metrics_render(void)
{
	static const char *types[] = { "counter", "gauge", "histogram" };
	GString *out = g_string_new(NULL);
	GPtrArray *names, *labels;
	guint i, j;

	g_mutex_lock(&metrics_lock);
	metrics_declare();
	names = metrics_keys(metrics_families);
	g_ptr_array_sort(names, metrics_strcmp);
	for (i = 0; i < names->len; i++) {
		struct metrics_family *f = g_hash_table_lookup(metrics_families, names->pdata[i]);
		/* A family missing from metrics_known still gets its HELP line. */
		g_string_append_printf(out, "# HELP %s %s\n", f->name, f->help ? f->help : f->name);
		g_string_append_printf(out, "# TYPE %s %s\n", f->name, types[f->type]);
		labels = metrics_keys(f->series);
		g_ptr_array_sort(labels, metrics_strcmp);
		for (j = 0; j < labels->len; j++)
			metrics_render_series(out, f, g_hash_table_lookup(f->series, labels->pdata[j]));
		g_ptr_array_free(labels, TRUE);
	}
	g_mutex_unlock(&metrics_lock);
	g_ptr_array_free(names, TRUE);
	return g_string_free(out, FALSE);
}
