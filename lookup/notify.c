/* notify.c - LISTEN/NOTIFY driven index maintenance; see notify.h. */
#include "lookup/notify.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "lookup/lookup_db.h"
#include "common/metrics.h"

#define NOTIFY_CHANNEL_SQL	"LISTEN rebound_suppressions"
#define NOTIFY_BATCH		5000	/* keys per refresh query */
#define NOTIFY_FLOOD		50000	/* queued keys that make a full reload cheaper */
#define NOTIFY_BACKOFF_MAX	30

static const char notify_copy_sql[] =
    "COPY (SELECT tenant, address_key, class, reason,"
    " COALESCE(extract(epoch FROM expires_at)::bigint, 0) FROM suppressions"
    " WHERE expires_at IS NULL OR expires_at > now()) TO STDOUT";

static const char notify_refresh_sql[] =
    "SELECT s.tenant, s.address_key, s.class, s.reason,"
    " COALESCE(extract(epoch FROM s.expires_at)::bigint, 0)"
    " FROM suppressions s JOIN unnest($1::text[], $2::text[]) AS k(tenant, key)"
    " ON s.tenant = k.tenant AND s.address_key = k.key";

enum notify_phase {
	NP_DOWN,		/* waiting to reconnect */
	NP_CONNECTING,		/* PQconnectPoll in progress */
	NP_LISTEN,		/* LISTEN sent */
	NP_LOAD,		/* COPY sent, rows streaming into n->loading */
	NP_IDLE,		/* listening, nothing in flight */
	NP_REFRESH,		/* a batch of keys being re-read */
};

static const char *notify_phases[] = { "down", "connecting", "listen", "load", "idle", "refresh" };

struct notify {
	struct event_base *base;
	char *conninfo;
	struct index *ix;
	PGconn *conn;
	struct event *ev_read;
	struct event *ev_write;
	struct event *ev_retry;
	enum notify_phase phase;
	int backoff;
	int copy_started, copy_done;
	struct index *loading;
	guint64 rows;
	gint64 load_started;
	GHashTable *pending;		/* "tenant\tkey" */
	GPtrArray *batch;		/* keys of the refresh in flight */
	GHashTable *batch_found;
	gint loaded, connected;
};

/* conninfo may be "key=value" or a URI: libpq expands it as dbname. */
static const char *const notify_keys[] = { "dbname", "connect_timeout", "application_name", NULL };
#define NOTIFY_VALUES(n) (const char *const[]){ (n)->conninfo, "5", "rebound-notify", NULL }

static void notify_read_cb(evutil_socket_t, short, void *);
static void notify_connect_cb(evutil_socket_t, short, void *);
static void notify_retry_cb(evutil_socket_t, short, void *);

static void
notify_enter(struct notify *n, enum notify_phase phase, const char *why)
{
	log_debug("index phase=%s next=%s why=\"%s\"", notify_phases[n->phase],
	    notify_phases[phase], why);
	n->phase = phase;
	g_atomic_int_set(&n->connected, phase >= NP_LISTEN);
}

struct notify *
notify_new(struct event_base *base, const char *conninfo, struct index *ix)
{
	struct notify *n = g_new0(struct notify, 1);

	n->base = base;
	n->conninfo = g_strdup(conninfo);
	n->ix = ix;
	n->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	n->batch = g_ptr_array_new_with_free_func(g_free);
	n->batch_found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	n->ev_retry = evtimer_new(base, notify_retry_cb, n);
	return n;
}

static void
notify_update_gauges(struct notify *n)
{
	metrics_set("rebound_index_entries", NULL, NULL, (double)index_count(n->ix));
	metrics_set("rebound_index_bytes", NULL, NULL, (double)index_memory(n->ix));
}

static void
notify_close(struct notify *n)
{
	guint i;

	if (n->ev_read) {
		event_free(n->ev_read);
		n->ev_read = NULL;
	}
	if (n->ev_write) {
		event_free(n->ev_write);
		n->ev_write = NULL;
	}
	if (n->conn) {
		PQfinish(n->conn);
		n->conn = NULL;
	}
	if (n->loading) {
		index_free(n->loading);
		n->loading = NULL;
	}
	/* keys of an unfinished refresh are re-read after the reload anyway */
	for (i = 0; i < n->batch->len; i++)
		g_hash_table_add(n->pending, g_strdup(n->batch->pdata[i]));
	g_ptr_array_set_size(n->batch, 0);
	g_hash_table_remove_all(n->batch_found);
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
notify_load_done(struct notify *n, struct index *ix)
{
	double secs = (g_get_monotonic_time() - n->load_started) / 1e6;

	if (ix != n->ix)
		index_replace(n->ix, ix);
	g_atomic_int_set(&n->loaded, 1);
	n->backoff = 0;
	notify_update_gauges(n);
	metrics_observe("rebound_index_load_seconds", NULL, NULL, secs);
	log_info("index loaded entries=%zu rows=%" G_GUINT64_FORMAT
	    " seconds=%.3f bytes=%zu", index_count(n->ix), n->rows, secs, index_memory(n->ix));
}

static int
notify_flush(struct notify *n)
{
	int r = PQflush(n->conn);

	if (r < 0)
		return -1;
	if (r == 1)
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
notify_send(struct notify *n, const char *sql, int np, const char *const *params)
{
	if (!PQsendQueryParams(n->conn, sql, np, NULL, params, NULL, NULL, 0))
		return -1;
	return notify_flush(n);
}

static void
notify_send_load(struct notify *n)
{
	n->copy_started = n->copy_done = 0;
	n->rows = 0;
	n->load_started = g_get_monotonic_time();
	n->loading = index_new();
	/* what is queued now is covered by the snapshot the COPY reads */
	g_hash_table_remove_all(n->pending);
	if (notify_send(n, notify_copy_sql, 0, NULL) < 0) {
		notify_fail(n, "COPY", PQerrorMessage(n->conn));
		return;
	}
	notify_enter(n, NP_LOAD, "reload");
}

static void
notify_send_refresh(struct notify *n)
{
	GPtrArray *tenants = g_ptr_array_new(), *keys = g_ptr_array_new();
	GHashTableIter it;
	gpointer k;
	char *p[2];
	guint i;

	if (g_hash_table_size(n->pending) > NOTIFY_FLOOD) {
		notify_send_load(n);
		return;
	}
	g_hash_table_iter_init(&it, n->pending);
	while (n->batch->len < NOTIFY_BATCH && g_hash_table_iter_next(&it, &k, NULL)) {
		g_ptr_array_add(n->batch, k);
		g_hash_table_iter_steal(&it);
	}
	for (i = 0; i < n->batch->len; i++) {
		char *tab = strchr(n->batch->pdata[i], '\t');
		g_ptr_array_add(tenants, g_strndup(n->batch->pdata[i], tab - (char *)n->batch->pdata[i]));
		g_ptr_array_add(keys, tab + 1);
	}
	p[0] = lookup_db_array((char *const *)tenants->pdata, tenants->len);
	p[1] = lookup_db_array((char *const *)keys->pdata, keys->len);
	for (i = 0; i < tenants->len; i++)
		g_free(tenants->pdata[i]);
	g_ptr_array_free(tenants, TRUE);
	g_ptr_array_free(keys, TRUE);
	if (notify_send(n, notify_refresh_sql, 2, (const char *const *)p) < 0)
		notify_fail(n, "refresh", PQerrorMessage(n->conn));
	else
		notify_enter(n, NP_REFRESH, "keys queued");
	g_free(p[0]);
	g_free(p[1]);
}

static void
notify_drain(struct notify *n)
{
	PGnotify *nt;

	while ((nt = PQnotifies(n->conn)) != NULL) {
		const char *tab = strchr(nt->extra, '\t');
		if (tab != NULL && strchr(tab + 1, '\t') != NULL)
			g_hash_table_add(n->pending, g_strdup(tab + 1));
		else
			log_warnx("index notify payload=malformed action=ignored");
		PQfreemem(nt);
	}
}

static void
notify_apply_batch(struct notify *n)
{
	guint i, removed = 0;

	for (i = 0; i < n->batch->len; i++)
		if (!g_hash_table_contains(n->batch_found, n->batch->pdata[i])) {
			char *tab = strchr(n->batch->pdata[i], '\t');
			*tab = '\0';
			removed += index_remove(n->ix, n->batch->pdata[i], tab + 1);
			*tab = '\t';
		}
	log_debug("index refreshed keys=%u found=%u removed=%u", n->batch->len,
	    g_hash_table_size(n->batch_found), removed);
	metrics_add("rebound_index_updates_total", NULL, NULL, n->batch->len);
	g_ptr_array_set_size(n->batch, 0);
	g_hash_table_remove_all(n->batch_found);
	notify_update_gauges(n);
}

/* Returns 0 to keep going, -1 after notify_fail(). */
static int
notify_step(struct notify *n)
{
	PGresult *r;
	ExecStatusType st;
	char *line;
	int len, i;

	switch (n->phase) {
	case NP_LISTEN:
		while (!PQisBusy(n->conn)) {
			if ((r = PQgetResult(n->conn)) == NULL) {
				notify_send_load(n);
				return n->phase == NP_LOAD ? 0 : -1;
			}
			st = PQresultStatus(r);
			if (st != PGRES_COMMAND_OK) {
				notify_fail(n, "LISTEN", PQresultErrorMessage(r));
				PQclear(r);
				return -1;
			}
			PQclear(r);
		}
		return 0;
	case NP_LOAD:
		if (!n->copy_started) {
			if (PQisBusy(n->conn))
				return 0;
			r = PQgetResult(n->conn);
			st = PQresultStatus(r);
			if (st != PGRES_COPY_OUT) {
				notify_fail(n, "COPY", PQresultErrorMessage(r));
				PQclear(r);
				return -1;
			}
			PQclear(r);
			n->copy_started = 1;
		}
		while (!n->copy_done) {
			len = PQgetCopyData(n->conn, &line, 1);
			if (len == 0)
				return 0;
			if (len == -2) {
				notify_fail(n, "COPY", PQerrorMessage(n->conn));
				return -1;
			}
			if (len == -1) {
				n->copy_done = 1;
				break;
			}
			notify_copy_row(n, n->loading, line, len);
			PQfreemem(line);
		}
		while (!PQisBusy(n->conn)) {
			if ((r = PQgetResult(n->conn)) == NULL) {
				struct index *ix = n->loading;
				n->loading = NULL;
				notify_load_done(n, ix);
				notify_enter(n, NP_IDLE, "loaded");
				return 0;
			}
			st = PQresultStatus(r);
			if (st != PGRES_COMMAND_OK) {
				notify_fail(n, "COPY", PQresultErrorMessage(r));
				PQclear(r);
				return -1;
			}
			PQclear(r);
		}
		return 0;
	case NP_REFRESH:
		while (!PQisBusy(n->conn)) {
			if ((r = PQgetResult(n->conn)) == NULL) {
				notify_apply_batch(n);
				notify_enter(n, NP_IDLE, "refreshed");
				return 0;
			}
			if (PQresultStatus(r) != PGRES_TUPLES_OK) {
				notify_fail(n, "refresh", PQresultErrorMessage(r));
				PQclear(r);
				return -1;
			}
			for (i = 0; i < PQntuples(r); i++) {
				index_put(n->ix, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
				    g_ascii_strtoll(PQgetvalue(r, i, 4), NULL, 10));
				g_hash_table_add(n->batch_found, g_strdup_printf("%s\t%s",
				    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)));
			}
			PQclear(r);
		}
		return 0;
	default:
		return 0;
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
	if (n->phase == NP_IDLE && g_hash_table_size(n->pending) > 0)
		notify_send_refresh(n);
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
		if (notify_attach(n) < 0 || notify_send(n, NOTIFY_CHANNEL_SQL, 0, NULL) < 0) {
			notify_fail(n, "LISTEN", PQerrorMessage(n->conn));
			return;
		}
		log_info("index state=reconnected action=reload");
		notify_enter(n, NP_LISTEN, "connected");
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

int
notify_start(struct notify *n, char **err)
{
	PGresult *r;
	char *line;
	int len;

	n->conn = PQconnectdbParams(notify_keys, NOTIFY_VALUES(n), 1);
	if (PQstatus(n->conn) != CONNECTION_OK) {
		*err = g_strdup_printf("database connection failed: %s", PQerrorMessage(n->conn));
		goto fail;
	}
	if ((r = lookup_db_exec(n->conn, NOTIFY_CHANNEL_SQL, 0, NULL, err)) == NULL)
		goto fail;
	PQclear(r);
	n->load_started = g_get_monotonic_time();
	n->rows = 0;
	n->loading = index_new();
	r = PQexecParams(n->conn, notify_copy_sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		*err = g_strdup_printf("COPY failed: %s", PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	while ((len = PQgetCopyData(n->conn, &line, 0)) > 0) {
		notify_copy_row(n, n->loading, line, len);
		PQfreemem(line);
	}
	while ((r = PQgetResult(n->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			*err = g_strdup_printf("COPY failed: %s", PQresultErrorMessage(r));
			PQclear(r);
			goto fail;
		}
		PQclear(r);
	}
	if (len == -2) {
		*err = g_strdup_printf("COPY failed: %s", PQerrorMessage(n->conn));
		goto fail;
	}
	{
		struct index *ix = n->loading;
		n->loading = NULL;
		notify_load_done(n, ix);
	}
	if (notify_attach(n) < 0) {
		*err = g_strdup("cannot watch the database socket");
		goto fail;
	}
	notify_enter(n, NP_IDLE, "started");
	/* notifications that arrived during the load */
	notify_drain(n);
	if (g_hash_table_size(n->pending) > 0)
		notify_send_refresh(n);
	return 0;
fail:
	notify_close(n);
	notify_schedule_retry(n);
	return -1;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	notify_close(n);
	event_free(n->ev_retry);
	g_hash_table_destroy(n->pending);
	g_ptr_array_free(n->batch, TRUE);
	g_hash_table_destroy(n->batch_found);
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
