/* notify.c - the lookup index follows the suppression change log; see notify.h. */
#include "lookup/notify.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "lookup/lookup_db.h"
#include "common/metrics.h"

#define NOTIFY_BACKOFF_MAX	30
#define NOTIFY_BATCH		"10000"	/* changes per poll */
/* A standby delivers no NOTIFY: the poll interval bounds how late a change
 * replayed there reaches the index.  On the primary a notification wakes a
 * poll at once and the timer is only a safety net. */
#define NOTIFY_POLL_MS_STANDBY	100
#define NOTIFY_POLL_MS_PRIMARY	1000
#define NOTIFY_PRUNE_SECONDS	600
#define NOTIFY_PRUNE_CHUNK	"100000"

/* Whether the server is a standby, and whether its log still holds the
 * last change applied, with the commit time it had when it was read ($2,
 * epoch seconds): then the server's history is the one followed so far and
 * the index follows on from there; otherwise (another server state, such as
 * a standby promoted before it had received that change, or a log pruned
 * past it) the index reloads. */
static const char notify_setup_sql[] =
    "SELECT pg_is_in_recovery(), EXISTS (SELECT 1 FROM suppression_changes"
    " WHERE id = $1::bigint AND extract(epoch FROM at) = $2::numeric)";
static const char notify_listen_sql[] = "LISTEN rebound_changes";

/* One snapshot for the rows and the log position they correspond to.  The
 * position is at least the prune horizon: a log pruned empty still says
 * how far it went.  The planner's row estimate sizes the new index once
 * (-1 before the table was first analysed). */
static const char notify_load_sql[] =
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
    "SELECT greatest(coalesce(max(id), 0),"
    " (SELECT pruned_through FROM suppression_changes_horizon)),"
    " (SELECT reltuples::bigint FROM pg_class WHERE oid = 'suppressions'::regclass),"
    " (SELECT extract(epoch FROM at) FROM suppression_changes ORDER BY id DESC LIMIT 1)"
    " FROM suppression_changes;"
    "COPY (SELECT tenant, address_key, class, reason,"
    " COALESCE(extract(epoch FROM expires_at)::bigint, 0) FROM suppressions"
    " WHERE expires_at IS NULL OR expires_at > now()) TO STDOUT;"
    "COMMIT";

/* The changes after $1 in id order, each with its key's current row (NULL
 * class: removed), the prune horizon and, on a standby, its replay delay;
 * always at least one row (c.id NULL when nothing is new). */
static const char notify_poll_sql[] =
    "SELECT h.pruned_through, d.delay, c.id, c.tenant, c.address_key, s.class, s.reason,"
    " COALESCE(extract(epoch FROM s.expires_at)::bigint, 0), extract(epoch FROM c.at)"
    " FROM suppression_changes_horizon h"
    " CROSS JOIN (SELECT CASE WHEN pg_is_in_recovery() AND"
    "  pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()"
    "  THEN COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)"
    "  ELSE 0 END AS delay) d"
    " LEFT JOIN LATERAL (SELECT id, tenant, address_key, at FROM suppression_changes"
    "  WHERE id > $1::bigint ORDER BY id LIMIT $2::int) c ON true"
    " LEFT JOIN suppressions s ON s.tenant = c.tenant AND s.address_key = c.address_key"
    " ORDER BY c.id";

static const char notify_prune_sql[] =
    "SELECT suppression_changes_prune(make_interval(days => $1::int), $2::int)";

enum notify_phase {
	NP_DOWN,		/* waiting to reconnect */
	NP_CONNECTING,		/* PQconnectPoll in progress */
	NP_SETUP,		/* asking whether the server is a standby */
	NP_LISTEN,		/* LISTEN sent (primary only) */
	NP_LOAD,		/* snapshot + COPY, rows streaming into n->loading */
	NP_IDLE,		/* following, nothing in flight */
	NP_POLL,		/* reading the changes after n->poll_from */
	NP_PRUNE,		/* pruning the log (primary only) */
};

static const char *notify_phases[] = { "down", "connecting", "setup", "listen", "load", "idle",
    "poll", "prune" };

struct notify {
	struct event_base *base;
	char *conninfo;
	struct index *ix;
	int64_t keep_days;
	PGconn *conn;
	struct event *ev_read;
	struct event *ev_write;
	struct event *ev_retry;
	struct event *ev_tick;
	enum notify_phase phase;
	int backoff;
	int standby;
	int in_copy;
	struct index *loading;
	int64_t load_id;
	char *load_at;			/* commit time of load_id, as the database wrote it */
	guint64 rows;
	gint64 load_started;
	int64_t last_id;		/* highest change applied */
	char *last_at;			/* its commit time (epoch text); NULL = unknown */
	int resumed;			/* this connection follows on without a reload */
	int64_t poll_from;		/* last_id when the poll in flight was sent */
	gint64 poll_started;
	int poll_due;			/* a wake-up came while busy, or the log has more */
	int poll_rows, poll_reload;
	double poll_delay;
	gint64 next_prune;
	GMutex st_lock;			/* what notify_status() reads from other threads */
	struct notify_status st;
	gint64 caught_up_at;		/* monotonic µs; 0 = never */
	double db_delay;
	gint loaded, connected;
};

/* conninfo may be "key=value" or a URI: libpq expands it as dbname. */
static const char *const notify_keys[] = { "dbname", "connect_timeout", "application_name", NULL };
#define NOTIFY_VALUES(n) (const char *const[]){ (n)->conninfo, "5", "rebound-notify", NULL }

static void notify_read_cb(evutil_socket_t, short, void *);
static void notify_connect_cb(evutil_socket_t, short, void *);
static void notify_retry_cb(evutil_socket_t, short, void *);
static void notify_tick_cb(evutil_socket_t, short, void *);
static void notify_next(struct notify *n);

static void
notify_enter(struct notify *n, enum notify_phase phase, const char *why)
{
	log_debug("index phase=%s next=%s why=\"%s\"", notify_phases[n->phase],
	    notify_phases[phase], why);
	n->phase = phase;
	g_atomic_int_set(&n->connected, phase >= NP_IDLE);
}

struct notify *
notify_new(struct event_base *base, const char *conninfo, struct index *ix, int64_t keep_days)
{
	struct notify *n = g_new0(struct notify, 1);

	n->base = base;
	n->conninfo = g_strdup(conninfo);
	n->ix = ix;
	n->keep_days = keep_days > 0 ? keep_days : 7;
	n->ev_retry = evtimer_new(base, notify_retry_cb, n);
	n->ev_tick = event_new(base, -1, EV_PERSIST, notify_tick_cb, n);
	g_mutex_init(&n->st_lock);
	n->st.lag_seconds = -1;
	return n;
}

static void
notify_update_gauges(struct notify *n)
{
	metrics_set("rebound_index_entries", NULL, NULL, (double)index_count(n->ix));
	metrics_set("rebound_index_bytes", NULL, NULL, (double)index_memory(n->ix));
	metrics_set("rebound_index_change_id", NULL, NULL, (double)n->last_id);
}

static void
notify_publish(struct notify *n)
{
	g_mutex_lock(&n->st_lock);
	n->st.change_id = n->last_id;
	n->st.standby = n->standby;
	g_mutex_unlock(&n->st_lock);
}

void
notify_status(struct notify *n, struct notify_status *st)
{
	g_mutex_lock(&n->st_lock);
	*st = n->st;
	st->lag_seconds = n->caught_up_at == 0 ? -1 :
	    (g_get_monotonic_time() - n->caught_up_at) / 1e6 + n->db_delay;
	g_mutex_unlock(&n->st_lock);
}

static void
notify_close(struct notify *n)
{
	if (n->ev_read) {
		event_free(n->ev_read);
		n->ev_read = NULL;
	}
	if (n->ev_write) {
		event_free(n->ev_write);
		n->ev_write = NULL;
	}
	event_del(n->ev_tick);
	if (n->conn) {
		PQfinish(n->conn);
		n->conn = NULL;
	}
	if (n->loading) {
		index_free(n->loading);
		n->loading = NULL;
	}
	n->in_copy = 0;
	n->poll_due = 0;
}

static void
notify_schedule_retry(struct notify *n)
{
	struct timeval tv = { n->backoff, 0 };

	notify_enter(n, NP_DOWN, "retry scheduled");
	evtimer_add(n->ev_retry, &tv);
	n->backoff = n->backoff ? MIN(n->backoff * 2, NOTIFY_BACKOFF_MAX) : 1;
}

static void
notify_fail(struct notify *n, const char *what, const char *detail)
{
	char *d = g_strdup(detail ? detail : "");

	log_warnx("index op=%s error=\"%s\" entries_kept=%zu action=reconnect",
	    what, g_strchomp(d), index_count(n->ix));
	g_free(d);
	metrics_inc("rebound_lookup_notify_errors_total", NULL, NULL);
	notify_close(n);
	notify_schedule_retry(n);
}

/* COPY text format: backslash escapes, \N for NULL. In place. */
static void
notify_unescape(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r++;
			continue;
		}
		r++;
		switch (*r) {
		case 'b': *w++ = '\b'; r++; break;
		case 'f': *w++ = '\f'; r++; break;
		case 'n': *w++ = '\n'; r++; break;
		case 'r': *w++ = '\r'; r++; break;
		case 't': *w++ = '\t'; r++; break;
		case 'v': *w++ = '\v'; r++; break;
		case 'x': {
			int v = 0, k;
			r++;
			for (k = 0; k < 2 && g_ascii_isxdigit(*r); k++, r++)
				v = v * 16 + g_ascii_xdigit_value(*r);
			*w++ = (char)v;
			break;
		}
		default:
			if (*r >= '0' && *r <= '7') {
				int v = 0, k;
				for (k = 0; k < 3 && *r >= '0' && *r <= '7'; k++, r++)
					v = v * 8 + (*r - '0');
				*w++ = (char)v;
			} else
				*w++ = *r++;
		}
	}
	*w = '\0';
}

static void
notify_copy_row(struct notify *n, struct index *ix, char *line, int len)
{
	char *f[5];
	int i, nf = 0;

	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	else
		line[len] = '\0';	/* PQgetCopyData adds a NUL past len */
	f[nf++] = line;
	for (i = 0; line[i] && nf < 5; i++)
		if (line[i] == '\t') {
			line[i] = '\0';
			f[nf++] = line + i + 1;
		}
	if (nf != 5) {
		log_warnx("index load row=malformed action=ignored");
		return;
	}
	for (i = 0; i < 5; i++)
		notify_unescape(f[i]);
	index_put(ix, f[0], f[1], f[2], f[3], g_ascii_strtoll(f[4], NULL, 10));
	n->rows++;
}

static void
notify_load_done(struct notify *n)
{
	double secs = (g_get_monotonic_time() - n->load_started) / 1e6;

	index_replace(n->ix, n->loading);
	n->loading = NULL;
	n->last_id = n->load_id;
	g_free(n->last_at);
	n->last_at = n->load_at;
	n->load_at = NULL;
	g_atomic_int_set(&n->loaded, 1);
	g_mutex_lock(&n->st_lock);
	n->caught_up_at = n->load_started;
	n->db_delay = 0;
	g_mutex_unlock(&n->st_lock);
	notify_publish(n);
	notify_update_gauges(n);
	metrics_observe("rebound_index_load_seconds", NULL, NULL, secs);
	log_info("index loaded entries=%zu rows=%" G_GUINT64_FORMAT
	    " seconds=%.3f bytes=%zu change_id=%" G_GINT64_FORMAT " standby=%d",
	    index_count(n->ix), n->rows, secs, index_memory(n->ix), n->last_id, n->standby);
}

static int
notify_flush(struct notify *n)
{
	int r = PQflush(n->conn);

	if (r < 0)
		return -1;
	if (r == 1 && n->ev_write != NULL)
		event_add(n->ev_write, NULL);
	return 0;
}

static void
notify_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	(void)fd;
	(void)what;
	if (notify_flush(n) < 0)
		notify_fail(n, "flush", PQerrorMessage(n->conn));
}

static int
notify_send(struct notify *n, enum notify_phase phase, const char *sql, int np,
    const char *const *params)
{
	int ok = np < 0 ? PQsendQuery(n->conn, sql) :
	    PQsendQueryParams(n->conn, sql, np, NULL, params, NULL, NULL, 0);

	if (!ok || notify_flush(n) < 0) {
		notify_fail(n, notify_phases[phase], PQerrorMessage(n->conn));
		return -1;
	}
	notify_enter(n, phase, "sent");
	return 0;
}

static int
notify_send_setup(struct notify *n)
{
	char id[24];
	const char *p[2] = { id, n->last_at };

	snprintf(id, sizeof id, "%" G_GINT64_FORMAT, n->last_id);
	n->resumed = 0;
	return notify_send(n, NP_SETUP, notify_setup_sql, 2, p);
}

static void
notify_send_load(struct notify *n)
{
	n->in_copy = 0;
	n->rows = 0;
	n->load_id = 0;
	g_free(n->load_at);
	n->load_at = NULL;
	n->load_started = g_get_monotonic_time();
	n->loading = index_new();
	notify_send(n, NP_LOAD, notify_load_sql, -1, NULL);
}

static void
notify_send_poll(struct notify *n)
{
	char from[24];
	const char *p[2] = { from, NOTIFY_BATCH };

	snprintf(from, sizeof from, "%" G_GINT64_FORMAT, n->last_id);
	n->poll_from = n->last_id;
	n->poll_started = g_get_monotonic_time();
	n->poll_rows = 0;
	n->poll_reload = 0;
	n->poll_due = 0;
	notify_send(n, NP_POLL, notify_poll_sql, 2, p);
}

static void
notify_send_prune(struct notify *n)
{
	char days[24];
	const char *p[2] = { days, NOTIFY_PRUNE_CHUNK };

	snprintf(days, sizeof days, "%" G_GINT64_FORMAT, n->keep_days);
	n->next_prune = g_get_monotonic_time() + (gint64)NOTIFY_PRUNE_SECONDS * G_USEC_PER_SEC;
	notify_send(n, NP_PRUNE, notify_prune_sql, 2, p);
}

/* Idle again: what comes next, if anything. */
static void
notify_next(struct notify *n)
{
	notify_enter(n, NP_IDLE, "done");
	if (n->poll_due)
		notify_send_poll(n);
	else if (!n->standby && g_get_monotonic_time() >= n->next_prune)
		notify_send_prune(n);
}

/* The index matches the log up to last_id: poll from there on. */
static void
notify_following(struct notify *n)
{
	struct timeval tv = { 0, 1000 * (n->standby ? NOTIFY_POLL_MS_STANDBY :
	    NOTIFY_POLL_MS_PRIMARY) };

	event_add(n->ev_tick, &tv);
	notify_publish(n);
	n->poll_due = 1;	/* anything committed since */
	notify_next(n);
}

static void
notify_poll_row(struct notify *n, PGresult *r, int i)
{
	int64_t id;

	if (i == 0) {
		int64_t horizon = g_ascii_strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		/* Changes between our last id and the horizon may be gone. */
		if (horizon > n->poll_from) {
			n->poll_reload = 1;
			return;
		}
		n->poll_delay = g_ascii_strtod(PQgetvalue(r, 0, 1), NULL);
	}
	if (n->poll_reload || PQgetisnull(r, i, 2))
		return;
	id = g_ascii_strtoll(PQgetvalue(r, i, 2), NULL, 10);
	if (PQgetisnull(r, i, 5))
		index_remove(n->ix, PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
	else
		index_put(n->ix, PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
		    PQgetvalue(r, i, 6), g_ascii_strtoll(PQgetvalue(r, i, 7), NULL, 10));
	if (id > n->last_id) {
		n->last_id = id;
		g_free(n->last_at);
		n->last_at = g_strdup(PQgetvalue(r, i, 8));
	}
	n->poll_rows++;
}

static void
notify_poll_done(struct notify *n)
{
	if (n->poll_reload) {
		log_warnx("index reload reason=pruned change_id=%" G_GINT64_FORMAT
		    " note=\"the change log was pruned past this reader\"", n->last_id);
		metrics_inc("rebound_index_reloads_total", "reason", "pruned");
		notify_send_load(n);
		return;
	}
	n->backoff = 0;		/* a whole round trip worked: the next failure retries at once */
	if (n->poll_rows > 0) {
		metrics_add("rebound_index_updates_total", NULL, NULL, n->poll_rows);
		notify_update_gauges(n);
		notify_publish(n);
		log_debug("index changes=%d change_id=%" G_GINT64_FORMAT, n->poll_rows, n->last_id);
	}
	if (n->poll_rows < atoi(NOTIFY_BATCH)) {
		g_mutex_lock(&n->st_lock);
		n->caught_up_at = n->poll_started;
		n->db_delay = n->poll_delay;
		g_mutex_unlock(&n->st_lock);
	} else
		n->poll_due = 1;	/* more waiting */
	notify_next(n);
}

/* Handles what has arrived for the query in flight.  Returns 0 to keep
 * going (or done), -1 after notify_fail(). */
/* A result with rows, by the phase that asked for it. */
static void
notify_tuples(struct notify *n, PGresult *r)
{
	int i;

	switch (n->phase) {
	case NP_SETUP:
		n->standby = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		n->resumed = PQntuples(r) == 1 && g_atomic_int_get(&n->loaded) &&
		    strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		break;
	case NP_LOAD:
		if (PQntuples(r) == 1) {
			gint64 est = g_ascii_strtoll(PQgetvalue(r, 0, 1), NULL, 10);
			n->load_id = g_ascii_strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			/* (if the position is the prune horizon of an
			 * empty log, this is no row's and a reconnect
			 * reloads) */
			if (!PQgetisnull(r, 0, 2))
				n->load_at = g_strdup(PQgetvalue(r, 0, 2));
			if (est > 0)
				index_reserve(n->loading, (size_t)est);
		}
		break;
	case NP_POLL:
		for (i = 0; i < PQntuples(r); i++)
			notify_poll_row(n, r, i);
		break;
	case NP_PRUNE:
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "0") != 0) {
			log_info("index pruned_changes=%s keep_days=%" G_GINT64_FORMAT,
			    PQgetvalue(r, 0, 0), n->keep_days);
			/* a full chunk: there may be more, soon */
			if (strcmp(PQgetvalue(r, 0, 0), NOTIFY_PRUNE_CHUNK) == 0)
				n->next_prune = g_get_monotonic_time() + G_USEC_PER_SEC;
		}
		break;
	default:
		break;
	}
}

/* The phase's query is complete: what comes next. */
static void
notify_complete(struct notify *n)
{
	switch (n->phase) {
	case NP_SETUP:
		log_info("index state=connected standby=%d action=%s change_id=%" G_GINT64_FORMAT,
		    n->standby, n->resumed ? "follow" : "load", n->last_id);
		if (!n->standby)
			notify_send(n, NP_LISTEN, notify_listen_sql, -1, NULL);
		else if (n->resumed)
			notify_following(n);
		else
			notify_send_load(n);
		break;
	case NP_LISTEN:
		if (n->resumed)
			notify_following(n);
		else
			notify_send_load(n);
		break;
	case NP_LOAD:
		notify_load_done(n);
		notify_following(n);
		break;
	case NP_POLL:
		notify_poll_done(n);
		break;
	case NP_PRUNE:
		notify_next(n);
		break;
	default:
		break;
	}
}

static int
notify_step(struct notify *n)
{
	PGresult *r;
	ExecStatusType st;
	char *line;
	int len;

	if (n->phase < NP_SETUP || n->phase == NP_IDLE)
		return 0;
	for (;;) {
		if (n->in_copy) {
			len = PQgetCopyData(n->conn, &line, 1);
			if (len == 0)
				return 0;
			if (len == -2) {
				notify_fail(n, "COPY", PQerrorMessage(n->conn));
				return -1;
			}
			if (len == -1) {
				n->in_copy = 0;
				continue;
			}
			notify_copy_row(n, n->loading, line, len);
			PQfreemem(line);
			continue;
		}
		if (PQisBusy(n->conn))
			return 0;
		if ((r = PQgetResult(n->conn)) == NULL)
			break;
		st = PQresultStatus(r);
		if (st == PGRES_COPY_OUT && n->phase == NP_LOAD) {
			n->in_copy = 1;
		} else if (st == PGRES_TUPLES_OK)
			notify_tuples(n, r);
		else if (st != PGRES_COMMAND_OK) {
			notify_fail(n, notify_phases[n->phase], PQresultErrorMessage(r));
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	notify_complete(n);
	return n->conn != NULL ? 0 : -1;
}

static void
notify_drain(struct notify *n)
{
	PGnotify *nt;

	while ((nt = PQnotifies(n->conn)) != NULL) {
		n->poll_due = 1;
		PQfreemem(nt);
	}
}

static void
notify_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	(void)fd;
	(void)what;
	if (!PQconsumeInput(n->conn)) {
		notify_fail(n, "read", PQerrorMessage(n->conn));
		return;
	}
	notify_drain(n);
	if (notify_step(n) < 0)
		return;
	if (n->phase == NP_IDLE && n->poll_due)
		notify_send_poll(n);
}

static void
notify_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	(void)fd;
	(void)what;
	n->poll_due = 1;
	if (n->phase == NP_IDLE)
		notify_next(n);
}

/* The connection is up: watch its socket for the rest of its life. */
static int
notify_attach(struct notify *n)
{
	if (PQsetnonblocking(n->conn, 1) != 0)
		return -1;
	n->ev_read = event_new(n->base, PQsocket(n->conn), EV_READ | EV_PERSIST, notify_read_cb, n);
	n->ev_write = event_new(n->base, PQsocket(n->conn), EV_WRITE, notify_write_cb, n);
	return event_add(n->ev_read, NULL);
}

static void
notify_connect_wait(struct notify *n, short what)
{
	if (n->ev_write)
		event_free(n->ev_write);
	n->ev_write = event_new(n->base, PQsocket(n->conn), what, notify_connect_cb, n);
	event_add(n->ev_write, NULL);
}

static void
notify_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	(void)fd;
	(void)what;
	switch (PQconnectPoll(n->conn)) {
	case PGRES_POLLING_READING:
		notify_connect_wait(n, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		notify_connect_wait(n, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		event_free(n->ev_write);
		n->ev_write = NULL;
		if (notify_attach(n) < 0) {
			notify_fail(n, "connect", "cannot watch the database socket");
			return;
		}
		log_info("index state=reconnected");
		notify_send_setup(n);
		return;
	default:
		notify_fail(n, "connect", PQerrorMessage(n->conn));
	}
}

static void
notify_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;

	(void)fd;
	(void)what;
	n->conn = PQconnectStartParams(notify_keys, NOTIFY_VALUES(n), 1);
	if (n->conn == NULL || PQstatus(n->conn) == CONNECTION_BAD) {
		notify_fail(n, "connect", n->conn ? PQerrorMessage(n->conn) : "out of memory");
		return;
	}
	notify_enter(n, NP_CONNECTING, "retry");
	notify_connect_wait(n, EV_WRITE);
}

/* The first load, before the event loop runs: the same steps as a reload,
 * driven by poll(2) until the follower is idle or has failed. */
int
notify_start(struct notify *n, char **err)
{
	n->conn = PQconnectdbParams(notify_keys, NOTIFY_VALUES(n), 1);
	if (PQstatus(n->conn) != CONNECTION_OK) {
		*err = g_strdup_printf("database connection failed: %s", PQerrorMessage(n->conn));
		notify_close(n);
		notify_schedule_retry(n);
		return -1;
	}
	if (notify_attach(n) < 0) {
		*err = g_strdup("cannot watch the database socket");
		notify_close(n);
		notify_schedule_retry(n);
		return -1;
	}
	if (notify_send_setup(n) < 0)
		goto failed;
	while (n->phase > NP_CONNECTING && n->phase != NP_IDLE && !n->loaded) {
		struct pollfd pfd = { PQsocket(n->conn), POLLIN, 0 };

		if (PQflush(n->conn) == 1)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 1000) < 0)
			continue;
		if (!PQconsumeInput(n->conn)) {
			notify_fail(n, "read", PQerrorMessage(n->conn));
			break;
		}
		notify_drain(n);
		if (notify_step(n) < 0)
			break;
	}
	if (n->loaded)
		return 0;
failed:
	*err = g_strdup("the first load of the index failed (see the log)");
	return -1;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	notify_close(n);
	event_free(n->ev_retry);
	event_free(n->ev_tick);
	g_mutex_clear(&n->st_lock);
	g_free(n->last_at);
	g_free(n->load_at);
	g_free(n->conninfo);
	g_free(n);
}

int
notify_loaded(struct notify *n)
{
	return g_atomic_int_get(&n->loaded);
}

int
notify_connected(struct notify *n)
{
	return g_atomic_int_get(&n->connected);
}
