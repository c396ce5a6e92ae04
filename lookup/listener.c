/* listener.c - the lookup protocols' connection skeleton; see listener.h. */
#include "lookup/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "lookup/conn_gate.h"

/* Bytes asked of one read(): many pipelined requests, or one long one. */
#define LISTENER_READ	16384
#define LISTENER_RETRY(e)	((e) == EAGAIN || (e) == EWOULDBLOCK || (e) == EINTR)

struct listener {
	const struct listener_proto *proto;
	void *arg;
	struct event_base *base;
	GPtrArray *listeners;
	GHashTable *conns;
	struct conn_gate *gate;
	guint64 next_id;
};

/*
 * A connection is a socket with a persistent read event and a write event
 * armed only while replies are left over.  The replies to everything one
 * read brought are written at once from the read callback: with one request
 * in flight per connection (as Postfix asks) that is one read and one write
 * per request, without the extra loop pass and write-event changes a
 * bufferevent spends on every reply.
 */
struct listener_conn {
	struct listener *l;
	evutil_socket_t fd;
	struct event *rev, *wev;
	struct evbuffer *in, *out;
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
	event_free(c->rev);
	event_free(c->wev);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	evutil_closesocket(c->fd);
	if (c->l->proto->conn_free != NULL)
		c->l->proto->conn_free(c->state);
	g_free(c);
}

/* Write what the socket takes; the rest waits for the write event, within
 * the idle time.  0, or -1 when the connection was closed. */
static int
listener_flush(struct listener_conn *c)
{
	struct timeval idle = { c->l->proto->idle, 0 };

	if (evbuffer_get_length(c->out) == 0)
		return 0;
	if (evbuffer_write(c->out, c->fd) < 0 && !LISTENER_RETRY(errno)) {
		listener_close(c, "error");
		return -1;
	}
	if (evbuffer_get_length(c->out) > 0 && !event_pending(c->wev, EV_WRITE, NULL))
		event_add(c->wev, &idle);
	return 0;
}

static void
listener_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener_conn *c = arg;
	char buf[LISTENER_READ];
	const char *why;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		listener_close(c, "timeout");
		return;
	}
	/* A stack buffer and a copy of what came (a request or a few): a
	 * reserved evbuffer chain of this size would be a large malloc and
	 * free per request, and evbuffer_read() asks FIONREAD first. */
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && LISTENER_RETRY(errno))
			return;
		listener_close(c, n == 0 ? "eof" : "error");
		return;
	}
	evbuffer_add(c->in, buf, (size_t)n);
	if ((why = c->l->proto->read(c->l->arg, c->state, c->in, c->out, &c->requests)) != NULL) {
		listener_close(c, why);
		return;
	}
	(void)listener_flush(c);
}

static void
listener_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener_conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		listener_close(c, "timeout");
		return;
	}
	(void)listener_flush(c);
}

static void
listener_accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *l = arg;
	struct listener_conn *c;
	struct timeval idle = { l->proto->idle, 0 };
	int one = 1;

	(void)el;
	(void)salen;
	conn_gate_opened(l->gate);
	evutil_make_socket_nonblocking(fd);
	/* a reply is one write; never hold it back for an ACK */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = g_new0(struct listener_conn, 1);
	c->l = l;
	c->fd = fd;
	c->id = ++l->next_id;
	if (l->proto->conn_new != NULL)
		c->state = l->proto->conn_new(l->arg);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(l->base, fd, EV_READ | EV_PERSIST, listener_read_cb, c);
	c->wev = event_new(l->base, fd, EV_WRITE, listener_write_cb, c);
	event_add(c->rev, &idle);
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
