/* listener.c - the lookup protocols' connection skeleton; see listener.h. */
#include "lookup/listener.h"

#include <errno.h>
#include <event2/bufferevent.h>

#include "common/log.h"
#include "lookup/conn_gate.h"

struct listener {
	const struct listener_proto *proto;
	void *arg;
	struct event_base *base;
	GPtrArray *listeners;
	GHashTable *conns;
	struct conn_gate *gate;
	guint64 next_id;
};

struct listener_conn {
	struct listener *l;
	struct bufferevent *bev;
	guint64 id;
	guint64 requests;
	void *state;
};

static void
listener_close(struct listener_conn *c, const char *reason)
{
	log_debug("%s%" G_GUINT64_FORMAT ": session end reason=%s requests=%" G_GUINT64_FORMAT,
	    c->l->proto->tag, c->id, reason, c->requests);
	g_hash_table_remove(c->l->conns, c);
}

static void
listener_conn_free(gpointer p)
{
	struct listener_conn *c = p;

	conn_gate_closed(c->l->gate);
	bufferevent_free(c->bev);
	if (c->l->proto->conn_free != NULL)
		c->l->proto->conn_free(c->state);
	g_free(c);
}

static void
listener_read_cb(struct bufferevent *bev, void *arg)
{
	struct listener_conn *c = arg;
	const char *why = c->l->proto->read(c->l->arg, c->state, bufferevent_get_input(bev),
	    bufferevent_get_output(bev), &c->requests);

	if (why != NULL)
		listener_close(c, why);
}

static void
listener_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	listener_close(arg, what & BEV_EVENT_EOF ? "eof" :
	    what & BEV_EVENT_TIMEOUT ? "timeout" : "error");
}

static void
listener_accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *l = arg;
	struct listener_conn *c;
	struct timeval idle = { l->proto->idle, 0 };

	(void)el;
	(void)sa;
	(void)salen;
	conn_gate_opened(l->gate);
	c = g_new0(struct listener_conn, 1);
	c->l = l;
	c->id = ++l->next_id;
	if (l->proto->conn_new != NULL)
		c->state = l->proto->conn_new(l->arg);
	c->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, listener_read_cb, NULL, listener_event_cb, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	g_hash_table_add(l->conns, c);
}

struct listener *
listener_start(struct event_base *base, const struct listener_proto *proto, void *arg,
    char **listen, long max_conns, char **err)
{
	struct listener *l = g_new0(struct listener, 1);
	struct evconnlistener *el;
	int i;

	l->proto = proto;
	l->arg = arg;
	l->base = base;
	l->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)evconnlistener_free);
	l->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, listener_conn_free, NULL);
	l->gate = conn_gate_new(base, proto->name, max_conns);
	for (i = 0; listen && listen[i]; i++) {
		if ((el = listener_bind(base, listen[i], listener_accept_cb, l, err)) == NULL) {
			listener_free(l);
			return NULL;
		}
		g_ptr_array_add(l->listeners, el);
		conn_gate_listen(l->gate, el);
		log_info("%s: listening on %s", proto->name, listen[i]);
	}
	return l;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	g_hash_table_destroy(l->conns);
	conn_gate_free(l->gate);
	g_ptr_array_free(l->listeners, TRUE);
	g_free(l);
}

struct evconnlistener *
listener_bind(struct event_base *base, const char *spec, evconnlistener_cb cb, void *arg,
    char **err)
{
	struct sockaddr_storage ss;
	struct evconnlistener *l;
	int len = sizeof(ss);

	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &len) < 0) {
		*err = g_strdup_printf("cannot parse listen address \"%s\"", spec);
		return NULL;
	}
	l = evconnlistener_new_bind(base, cb, arg, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 1024, (struct sockaddr *)&ss, len);
	if (l == NULL)
		*err = g_strdup_printf("cannot listen on %s: %s", spec, g_strerror(errno));
	return l;
}
