/*
 * metrics.h - a tiny, thread-safe registry of Prometheus counters, gauges
 * and histograms, rendered by GET /metrics.
 *
 * Any module, on any thread, may call these; the registry is created on
 * first use and lives until exit.  A metric's type is fixed by the first
 * call that names it (metrics_inc/metrics_add: counter, metrics_set: gauge,
 * metrics_observe: histogram of seconds); using a name with another type is
 * a programming error and aborts.  Each call carries at most one label pair
 * (label NULL = none), e.g.
 *
 *	metrics_inc("rebound_smtp_sessions_total", NULL, NULL);
 *	metrics_inc("rebound_smtp_replies_total", "code", "250");
 *	metrics_inc("rebound_messages_total", "kind", "dsn");
 *	metrics_observe("rebound_store_seconds", "op", "commit", 0.0042);
 *	metrics_set("rebound_spool_backlog", NULL, NULL, 17);
 *
 * Names the HTTP API reads back: "rebound_spool_backlog" (GET /healthz
 * reports it as spool_backlog; unknown until someone sets it).
 *
 * For hot paths, metrics_handle() returns a handle for one (name, label,
 * value) series that stays valid until exit; metrics_handle_add() and
 * metrics_handle_observe() then skip the name lookup.
 *
 * metrics_render() returns the exposition text; the caller g_free()s it.
 */
#ifndef REBOUND_METRICS_H
#define REBOUND_METRICS_H

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_series;

void metrics_inc(const char *name, const char *label, const char *value);
void metrics_add(const char *name, const char *label, const char *value, double n);
void metrics_set(const char *name, const char *label, const char *value, double v);
void metrics_observe(const char *name, const char *label, const char *value, double seconds);

/* Current value of a counter or gauge series; 0 and *found = 0 if never set. */
double metrics_value(const char *name, const char *label, const char *value, int *found);

struct metrics_series *metrics_handle(enum metrics_type type, const char *name,
    const char *label, const char *value);
void metrics_handle_add(struct metrics_series *s, double n);
void metrics_handle_observe(struct metrics_series *s, double seconds);

char *metrics_render(void);

#endif
