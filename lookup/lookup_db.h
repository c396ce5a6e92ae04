/*
 * lookup_db.h - the PostgreSQL statements the lookup side shares between
 * the HTTP API, the CLI and the notify listener: manual suppress/unsuppress
 * (audited with an actor), the "since" syntax, text[] literals.
 *
 * All functions are blocking and use PQexecParams only.  Error strings
 * returned through char **err are g_malloc'd; the caller frees them.
 */
#ifndef REBOUND_LOOKUP_DB_H
#define REBOUND_LOOKUP_DB_H

#include <stdint.h>
#include <glib.h>
#include <libpq-fe.h>

/* Blocking connect; NULL and *err on failure.  A short connect_timeout is
 * added unless conninfo sets one. */
PGconn *lookup_db_connect(const char *conninfo, char **err);

/* PQexecParams with text parameters; returns the result if its status is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK, else clears it, sets *err and
 * returns NULL. */
PGresult *lookup_db_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
    char **err);

/* "7d", "24h", "30m", "90s", "2w" before now, or an ISO 8601 time
 * ("2026-11-01", "2026-11-01T10:00:00Z").  0 and *epoch, or -1. */
int lookup_db_since(const char *s, int64_t *epoch);
/* "30d"-style duration in seconds: 0, or -1 if s is not one. */
int lookup_db_duration(const char *s, int64_t *secs);
/* ISO 8601 time or date (UTC if no zone): 0, or -1. */
int lookup_db_time(const char *s, int64_t *epoch);
/* When a suppression given by hand expires: a "30d"-style duration from
 * now or a future ISO 8601 time.  0 and *epoch, or -1. */
int lookup_db_expires(const char *s, int64_t *epoch);

/* A PostgreSQL text[] literal of the strings (caller g_free()s). */
char *lookup_db_array(char *const *v, guint n);

struct lookup_db_suppression {
	const char *tenant;
	const char *address;	/* as given; normalised here */
	const char *cls;	/* hard|soft|complaint|manual; NULL = manual */
	const char *reason;	/* NULL = "manual" */
	const char *note;	/* may be NULL */
	int64_t expires;	/* Unix seconds, 0 = permanent */
	const char *origin;	/* manual|import */
};

/* Insert or update one suppression in its own transaction with
 * rebound.actor = actor (audited).  Returns 1 added, 0 updated, -1 error
 * (*err says why; what store/suppression.h refuses is an error too).  If
 * id is not NULL it receives the row id. */
int lookup_db_suppress(PGconn *c, const struct lookup_db_suppression *s, const char *actor,
    int64_t *id, char **err);

/* Delete (tenant, address) with rebound.actor = actor.  1 removed, 0 none,
 * -1 error. */
int lookup_db_unsuppress(PGconn *c, const char *tenant, const char *address, const char *actor,
    char **err);

/* Filters of the analyst queries; NULL / 0 = not filtered.  tenant, cls,
 * reason, domain, feedback_type, provider and campaign take a list
 * separated by ',' (any of them matches). */
struct lookup_db_filter {
	const char *tenant;
	const char *cls;
	const char *reason;
	const char *domain;		/* recipient domain */
	const char *recipient;		/* events: an address (matched by key) */
	const char *feedback_type;	/* complaints */
	const char *provider;		/* complaints: provider or reporting MTA, or a parent domain */
	const char *campaign;
	const char *suppressible;	/* events, stats: "true", "false"; NULL = both */
	int64_t since;			/* Unix seconds */
	int64_t until;			/* Unix seconds, exclusive; 0 = now */
	int64_t cursor;			/* suppressions: id > cursor; events: after that event */
	int limit;			/* 0 = no limit */
};

/* Every item of the ','-separated list s is one of the NULL-terminated
 * names; if not, *bad receives the first that is not (g_free()). */
int lookup_db_valid_list(const char *s, const char *const *names, char **bad);
extern const char *const lookup_db_event_classes[];		/* NULL-terminated */
extern const char *const lookup_db_suppression_classes[];	/* NULL-terminated */

/* Timestamps come back as RFC 3339 text in UTC ("2026-11-23T19:00:00Z").
 * Rows are ordered by id, so the last id is the next page's cursor. */
PGresult *lookup_db_get_suppression(PGconn *c, const char *tenant, const char *address,
    char **err);
PGresult *lookup_db_list_suppressions(PGconn *c, const struct lookup_db_filter *f, char **err);
/* Events, newest first (occurred_at, then id); complaints_only restricts
 * to class 'complaint'.  Every stored column is returned, among them
 * "suppressible": whether the event was allowed to suppress (store/trust.h). */
PGresult *lookup_db_list_events(PGconn *c, const struct lookup_db_filter *f, int complaints_only,
    char **err);
/* One event with its message's envelope (no raw bytes): 0 or 1 row. */
PGresult *lookup_db_get_event(PGconn *c, int64_t id, char **err);
/* The raw bytes of the event's message: one row (raw bytea, binary), raw
 * NULL past retention; 0 rows if there is no such event. */
PGresult *lookup_db_event_raw(PGconn *c, int64_t id, char **err);
/* Every event of one address for a tenant (newest first, at most limit). */
PGresult *lookup_db_address_events(PGconn *c, const char *tenant, const char *address, int limit,
    char **err);
/* The audit trail of one address for a tenant, newest first. */
PGresult *lookup_db_address_audit(PGconn *c, const char *tenant, const char *address, char **err);
/* The history of one address for a tenant: its suppression (no row when it
 * is not suppressed), its events (as lookup_db_address_events()) and its
 * audit trail.  0, or -1 with *err and every member NULL; the members are
 * freed by lookup_db_history_clear(). */
struct lookup_db_history {
	PGresult *suppression;
	PGresult *events;
	PGresult *audit;
};
int lookup_db_address_history(PGconn *c, const char *tenant, const char *address, int limit,
    struct lookup_db_history *h, char **err);
void lookup_db_history_clear(struct lookup_db_history *h);
/* Event counts in [f->since, f->until) grouped by one of
 * lookup_db_stats_dimensions: rows (key, count), at most 1000. */
PGresult *lookup_db_stats(PGconn *c, const char *by, const struct lookup_db_filter *f, char **err);
/* The same counted per "hour" or "day" bucket: rows (t, key, count), key
 * being the by dimension or "" when by is NULL; ordered by t, key. */
PGresult *lookup_db_series(PGconn *c, const char *interval, const char *by,
    const struct lookup_db_filter *f, char **err);
/* Webhook outbox rows (sql/006_webhook.sql), newest first, state NULL =
 * any; cursor: rows with id < cursor.  Counts: rows (state, count). */
PGresult *lookup_db_webhooks(PGconn *c, const char *state, int64_t cursor, int limit, char **err);
PGresult *lookup_db_webhook_counts(PGconn *c, char **err);
/* A dead (or pending) delivery due again now, attempts kept: 1, 0 if no
 * such row or it was delivered, -1 error. */
int lookup_db_webhook_retry(PGconn *c, int64_t id, char **err);

/* Suppression counts by class: rows (class, count). */
PGresult *lookup_db_suppression_counts(PGconn *c, const char *tenant, char **err);
extern const char *const lookup_db_stats_dimensions[];	/* NULL-terminated */
/*
 * The filter value of a "suppressible" option: "true", "false", or NULL
 * for "any"; -1 for anything else.  Stats count only suppressible events
 * unless asked otherwise: the rest are reports nothing vouched for.
 */
int lookup_db_suppressible_arg(const char *v, const char **out);

#endif
