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

/* Called with metrics_lock held. */
static struct metrics_series *
metrics_find(enum metrics_type type, const char *name, const char *label, const char *value)
{
	struct metrics_family *f;
	struct metrics_series *s;
	char *labels;

	if (metrics_families == NULL)
		metrics_families = g_hash_table_new(g_str_hash, g_str_equal);
	if ((f = g_hash_table_lookup(metrics_families, name)) == NULL) {
		f = g_new0(struct metrics_family, 1);
		f->name = g_strdup(name);
		f->type = type;
		f->series = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, metrics_series_free);
		g_hash_table_insert(metrics_families, f->name, f);
	}
	if (f->type != type)
		fatalx("metrics: %s used with two types", name);
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

void
metrics_help(const char *name, const char *help)
{
	struct metrics_family *f;

	g_mutex_lock(&metrics_lock);
	if (metrics_families != NULL &&
	    (f = g_hash_table_lookup(metrics_families, name)) != NULL) {
		g_free(f->help);
		f->help = g_strdup(help);
	}
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

char *
metrics_render(void)
{
	static const char *types[] = { "counter", "gauge", "histogram" };
	GString *out = g_string_new(NULL);
	GPtrArray *names, *labels;
	guint i, j;

	g_mutex_lock(&metrics_lock);
	if (metrics_families == NULL) {
		g_mutex_unlock(&metrics_lock);
		return g_string_free(out, FALSE);
	}
	names = metrics_keys(metrics_families);
	g_ptr_array_sort(names, metrics_strcmp);
	for (i = 0; i < names->len; i++) {
		struct metrics_family *f = g_hash_table_lookup(metrics_families, names->pdata[i]);
		if (f->help)
			g_string_append_printf(out, "# HELP %s %s\n", f->name, f->help);
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
