/* test_index.c - the in-memory suppression index against a GHashTable oracle. */
#include <glib.h>
#include <string.h>

#include "lookup/index.h"
#include "common/metrics.h"
#include "unit.h"

static void
test_put_get_remove(void)
{
	struct index *ix = index_new();
	struct index_hit hit;

	g_assert_cmpint(index_get(ix, "default", "a@example.com", 1000, &hit), ==, 0);
	g_assert_cmpint(index_put(ix, "default", "a@example.com", "hard", "user_unknown", 0), ==, 0);
	g_assert_cmpint(index_get(ix, "default", "a@example.com", 1000, &hit), ==, 1);
	g_assert_cmpint(hit.cls, ==, INDEX_HARD);
	g_assert_cmpstr(hit.reason, ==, "user_unknown");
	g_assert_cmpint(hit.expires, ==, 0);
	/* tenants are separate */
	g_assert_cmpint(index_get(ix, "acme", "a@example.com", 1000, &hit), ==, 0);
	/* replace keeps one entry */
	g_assert_cmpint(index_put(ix, "default", "a@example.com", "complaint", "abuse", 0), ==, 0);
	g_assert_cmpuint(index_count(ix), ==, 1);
	g_assert_cmpint(index_get(ix, "default", "a@example.com", 1000, &hit), ==, 1);
	g_assert_cmpint(hit.cls, ==, INDEX_COMPLAINT);
	g_assert_cmpstr(hit.reason, ==, "abuse");
	g_assert_cmpint(index_put(ix, "default", "b@example.com", "bogus", "x", 0), ==, -1);
	g_assert_cmpint(index_remove(ix, "default", "a@example.com"), ==, 1);
	g_assert_cmpint(index_remove(ix, "default", "a@example.com"), ==, 0);
	g_assert_cmpint(index_get(ix, "default", "a@example.com", 1000, &hit), ==, 0);
	g_assert_cmpuint(index_count(ix), ==, 0);
	index_free(ix);
}

static void
test_expiry(void)
{
	struct index *ix = index_new();
	struct index_hit hit;

	index_put(ix, "default", "soft@example.com", "soft", "mailbox_full", 2000);
	g_assert_cmpint(index_get(ix, "default", "soft@example.com", 1999, &hit), ==, 1);
	g_assert_cmpint(hit.cls, ==, INDEX_SOFT);
	g_assert_cmpint(hit.expires, ==, 2000);
	g_assert_cmpint(index_get(ix, "default", "soft@example.com", 2000, &hit), ==, 0);
	g_assert_cmpint(index_get(ix, "default", "soft@example.com", 5000, NULL), ==, 0);
	index_free(ix);
}

/* Random puts and removes against an oracle exercise growth and the
 * backward-shift deletion that keeps probe chains intact. */
static void
test_oracle(void)
{
	struct index *ix = index_new();
	GHashTable *oracle = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GRand *r = g_rand_new_with_seed(42);
	int i;

	for (i = 0; i < 200000; i++) {
		char key[64];
		guint32 n = g_rand_int_range(r, 0, 20000);
		g_snprintf(key, sizeof(key), "user%u@d%u.example", n, n % 97);
		if (g_rand_int_range(r, 0, 3) == 0) {
			int had = g_hash_table_remove(oracle, key);
			g_assert_cmpint(index_remove(ix, "t", key), ==, had);
		} else {
			g_hash_table_add(oracle, g_strdup(key));
			g_assert_cmpint(index_put(ix, "t", key, "hard", "r", 0), ==, 0);
		}
	}
	g_assert_cmpuint(index_count(ix), ==, g_hash_table_size(oracle));
	for (i = 0; i < 20000; i++) {
		char key[64];
		g_snprintf(key, sizeof(key), "user%u@d%u.example", i, i % 97);
		g_assert_cmpint(index_get(ix, "t", key, 0, NULL), ==,
		    g_hash_table_contains(oracle, key));
	}
	g_rand_free(r);
	g_hash_table_destroy(oracle);
	index_free(ix);
}

static void
test_replace_and_memory(void)
{
	struct index *ix = index_new(), *next = index_new();
	size_t n = 100000, i, mem;

	index_put(ix, "default", "old@example.com", "manual", "", 0);
	for (i = 0; i < n; i++) {
		char key[64];
		g_snprintf(key, sizeof(key), "u%zu@example.com", i);
		index_put(next, "default", key, i % 2 ? "hard" : "complaint", i % 2 ? "user_unknown" : "abuse", 0);
	}
	index_replace(ix, next);
	g_assert_cmpuint(index_count(ix), ==, n);
	g_assert_cmpint(index_get(ix, "default", "old@example.com", 0, NULL), ==, 0);
	g_assert_cmpint(index_get(ix, "default", "u77@example.com", 0, NULL), ==, 1);
	mem = index_memory(ix);
	g_test_message("index memory %zu bytes for %zu addresses = %.1f bytes/address",
	    mem, n, (double)mem / n);
	g_assert_cmpuint(mem / n, <=, 100);
	index_free(ix);
}

static void
test_metrics_render(void)
{
	char *text;
	int found;

	metrics_inc("test_replies_total", "code", "250");
	metrics_inc("test_replies_total", "code", "250");
	metrics_inc("test_replies_total", "code", "5\"5\\0");
	metrics_set("test_backlog", NULL, NULL, 7);
	metrics_observe("test_seconds", "op", "x", 0.0003);
	metrics_observe("test_seconds", "op", "x", 2);
	g_assert_cmpfloat(metrics_value("test_backlog", NULL, NULL, &found), ==, 7);
	g_assert_cmpint(found, ==, 1);
	metrics_value("test_nothing", NULL, NULL, &found);
	g_assert_cmpint(found, ==, 0);
	text = metrics_render();
	g_assert_nonnull(strstr(text, "# TYPE test_replies_total counter\n"));
	g_assert_nonnull(strstr(text, "test_replies_total{code=\"250\"} 2\n"));
	g_assert_nonnull(strstr(text, "test_replies_total{code=\"5\\\"5\\\\0\"} 1\n"));
	g_assert_nonnull(strstr(text, "test_backlog 7\n"));
	g_assert_nonnull(strstr(text, "test_seconds_bucket{op=\"x\",le=\"0.0005\"} 1\n"));
	g_assert_nonnull(strstr(text, "test_seconds_bucket{op=\"x\",le=\"+Inf\"} 2\n"));
	g_assert_nonnull(strstr(text, "test_seconds_count{op=\"x\"} 2\n"));
	g_free(text);
}

/* A reserved table (mapped on its own past 4 MiB) holds what it was sized
 * for without growing, keeps earlier entries, and frees through replace. */
static void
test_reserve(void)
{
	struct index *ix = index_new(), *other = index_new();
	struct index_hit hit;
	char key[64];
	size_t before;
	int i;

	g_assert_cmpint(index_put(ix, "default", "early@example.com", "soft", "full", 0), ==, 0);
	index_reserve(ix, 1000000);
	before = index_memory(ix);
	g_assert_cmpuint(before, >=, (size_t)1000000 * 16 * 10 / 7);
	g_assert_cmpint(index_get(ix, "default", "early@example.com", 1000, &hit), ==, 1);
	g_assert_cmpint(hit.cls, ==, INDEX_SOFT);
	for (i = 0; i < 200000; i++) {
		g_snprintf(key, sizeof key, "u%d@example.com", i);
		g_assert_cmpint(index_put(ix, "default", key, "hard", "full", 0), ==, 0);
	}
	g_assert_cmpuint(index_memory(ix), ==, before);	/* no growth (reason already interned) */
	g_assert_cmpuint(index_count(ix), ==, 200001);
	for (i = 0; i < 200000; i += 997) {
		g_snprintf(key, sizeof key, "u%d@example.com", i);
		g_assert_cmpint(index_get(ix, "default", key, 1000, &hit), ==, 1);
	}
	g_assert_cmpint(index_remove(ix, "default", "u5@example.com"), ==, 1);
	g_assert_cmpint(index_get(ix, "default", "u5@example.com", 1000, &hit), ==, 0);
	g_assert_cmpint(index_get(ix, "default", "u6@example.com", 1000, &hit), ==, 1);
	/* a smaller reservation changes nothing */
	index_reserve(ix, 10);
	g_assert_cmpuint(index_memory(ix), ==, before);
	index_replace(other, ix);
	g_assert_cmpuint(index_count(other), ==, 200000);
	index_free(other);
}

const struct unit_test unit_tests[] = {
	{ "/index/put_get_remove", test_put_get_remove },
	{ "/index/expiry", test_expiry },
	{ "/index/oracle", test_oracle },
	{ "/index/replace_and_memory", test_replace_and_memory },
	{ "/index/reserve", test_reserve },
	{ "/metrics/render", test_metrics_render },
};
const size_t unit_ntests = G_N_ELEMENTS(unit_tests);
