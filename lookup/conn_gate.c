/* conn_gate.c - connection caps for the lookup listeners; see conn_gate.h. */
#include "lookup/conn_gate.h"

#include <errno.h>
#include <glib.h>

#include "common/log.h"

struct conn_gate {
	char *name;
	struct event_base *base;
	GPtrArray *listeners;		/* struct evconnlistener *, not owned */
	long max, n;
	int at_cap;			/* disabled because n reached max */
	int backing_off;		/* disabled for a second after an accept error */
	struct event *ev_resume;
	gint64 log_us;			/* last line logged (monotonic) */
};

/*
 * A listener's error callback gets the accept callback's argument (the
 * server, or for HTTP the struct evhttp), so gates are found by listener.
 */
static GMutex conn_gate_lock;
static GHashTable *conn_gate_by_listener;

static void
conn_gate_apply(struct conn_gate *g)
{
	int on = !g->at_cap && !g->backing_off;
	guint i;

	for (i = 0; i < g->listeners->len; i++) {
		if (on)
			evconnlistener_enable(g_ptr_array_index(g->listeners, i));
		else
			evconnlistener_disable(g_ptr_array_index(g->listeners, i));
	}
}

/* At most one line a second per gate: a flood must not become a log flood. */
static int
conn_gate_may_log(struct conn_gate *g)
{
	gint64 now = g_get_monotonic_time();

	if (now - g->log_us < G_USEC_PER_SEC)
		return 0;
	g->log_us = now;
	return 1;
}

static void
conn_gate_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct conn_gate *g = arg;

	(void)fd;
	(void)ev;
	g->backing_off = 0;
	conn_gate_apply(g);
}

static void
conn_gate_accept_error(struct evconnlistener *l, void *arg)
{
	struct conn_gate *g;
	struct timeval tv = { 1, 0 };
	int e = EVUTIL_SOCKET_ERROR();
	int pause = e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;

	(void)arg;
	g_mutex_lock(&conn_gate_lock);
	g = conn_gate_by_listener ? g_hash_table_lookup(conn_gate_by_listener, l) : NULL;
	g_mutex_unlock(&conn_gate_lock);
	if (g == NULL)
		return;
	if (conn_gate_may_log(g))
		log_warnx("%s event=accept-error error=\"%s\" action=%s connections=%ld", g->name,
		    g_strerror(e), pause ? "pause-1s" : "none", g->n);
	if (pause) {
		g->backing_off = 1;
		conn_gate_apply(g);
		evtimer_add(g->ev_resume, &tv);
	}
}

struct conn_gate *
conn_gate_new(struct event_base *base, const char *name, long max)
{
	struct conn_gate *g = g_new0(struct conn_gate, 1);

	g->name = g_strdup(name);
	g->base = base;
	g->max = max > 0 ? max : 1;
	g->listeners = g_ptr_array_new();
	g->ev_resume = evtimer_new(base, conn_gate_resume, g);
	return g;
}

void
conn_gate_free(struct conn_gate *g)
{
	guint i;

	if (g == NULL)
		return;
	g_mutex_lock(&conn_gate_lock);
	for (i = 0; i < g->listeners->len; i++)
		g_hash_table_remove(conn_gate_by_listener, g_ptr_array_index(g->listeners, i));
	g_mutex_unlock(&conn_gate_lock);
	event_free(g->ev_resume);
	g_ptr_array_free(g->listeners, TRUE);
	g_free(g->name);
	g_free(g);
}

void
conn_gate_listen(struct conn_gate *g, struct evconnlistener *l)
{
	g_ptr_array_add(g->listeners, l);
	g_mutex_lock(&conn_gate_lock);
	if (conn_gate_by_listener == NULL)
		conn_gate_by_listener = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_hash_table_insert(conn_gate_by_listener, l, g);
	g_mutex_unlock(&conn_gate_lock);
	evconnlistener_set_error_cb(l, conn_gate_accept_error);
}

void
conn_gate_opened(struct conn_gate *g)
{
	if (++g->n >= g->max && !g->at_cap) {
		g->at_cap = 1;
		if (conn_gate_may_log(g))
			log_warnx("%s event=connection-limit connections=%ld action=pause-accept",
			    g->name, g->n);
		conn_gate_apply(g);
	}
}

void
conn_gate_closed(struct conn_gate *g)
{
	if (g->n > 0)
		g->n--;
	if (g->at_cap && g->n < g->max) {
		g->at_cap = 0;
		conn_gate_apply(g);
	}
}

long
conn_gate_count(const struct conn_gate *g)
{
	return g->n;
}

long
conn_gate_max(const struct conn_gate *g)
{
	return g->max;
}
