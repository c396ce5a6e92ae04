/* socketmap.c - the Postfix socketmap server; see socketmap.h. */
#include "lookup/socketmap.h"

#include <string.h>
#include <glib.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/log.h"
#include "lookup/conn_gate.h"
#include "lookup/lookup.h"

/* Postfix's own limit is 100000; addresses are far shorter, so a long
 * request is an error rather than something to buffer. */
#define SOCKETMAP_MAX_REQUEST	4096
#define SOCKETMAP_IDLE		300

struct socketmap {
	struct event_base *base;
	GPtrArray *listeners;
	GHashTable *conns;
	struct conn_gate *gate;
	guint64 next_id;
};

struct socketmap_conn {
	struct socketmap *sm;
	struct bufferevent *bev;
	guint64 id;
	guint64 requests;
};

static void
socketmap_close(struct socketmap_conn *c, const char *reason)
{
	log_debug("sm%" G_GUINT64_FORMAT ": session end reason=%s requests=%" G_GUINT64_FORMAT,
	    c->id, reason, c->requests);
	g_hash_table_remove(c->sm->conns, c);
}

static void
socketmap_conn_free(gpointer p)
{
	struct socketmap_conn *c = p;

	conn_gate_closed(c->sm->gate);
	bufferevent_free(c->bev);
	g_free(c);
}

char *
socketmap_answer(const char *req, size_t len)
{
	const char *sp, *tenant;
	char *name, *key, *action = NULL, *out;
	struct index_hit hit;
	enum lookup_result r;

	if (memchr(req, '\0', len) != NULL || (sp = memchr(req, ' ', len)) == NULL)
		return g_strdup("PERM malformed request");
	name = g_strndup(req, sp - req);
	key = g_strndup(sp + 1, len - (sp + 1 - req));
	if ((tenant = lookup_tenant(name)) == NULL) {
		out = g_strdup("PERM unknown map");
		goto done;
	}
	/* Domain-only and "user@" keys: nothing is suppressed domain-wide. */
	if (strchr(key, '@') == NULL || g_str_has_suffix(key, "@")) {
		out = g_strdup("NOTFOUND ");
		goto done;
	}
	r = lookup_query("socketmap", tenant, key, &hit, &action);
	if (r == LOOKUP_FOUND)
		out = g_strdup_printf("OK %s", action);
	else if (r == LOOKUP_UNAVAILABLE)
		out = g_strdup("TEMP suppression index not loaded yet");
	else
		out = g_strdup("NOTFOUND ");
done:
	g_free(action);
	g_free(name);
	g_free(key);
	return out;
}

static void
socketmap_read_cb(struct bufferevent *bev, void *arg)
{
	struct socketmap_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);

	for (;;) {
		size_t have = evbuffer_get_length(in), digits, n, total;
		unsigned char *p;
		char *reply;

		if (have == 0)
			return;
		/* bound the length prefix before trusting it */
		p = evbuffer_pullup(in, MIN(have, 6));
		for (digits = 0; digits < MIN(have, 6) && g_ascii_isdigit(p[digits]); digits++)
			;
		if (digits == MIN(have, 6)) {
			if (have < 6)
				return;		/* prefix still arriving */
			socketmap_close(c, "length-too-long");
			return;
		}
		if (digits == 0 || p[digits] != ':') {
			socketmap_close(c, "bad-netstring");
			return;
		}
		n = strtoul((const char *)p, NULL, 10);
		if (n > SOCKETMAP_MAX_REQUEST) {
			socketmap_close(c, "request-too-long");
			return;
		}
		total = digits + 1 + n + 1;
		if (have < total)
			return;
		p = evbuffer_pullup(in, total);
		if (p[total - 1] != ',') {
			socketmap_close(c, "bad-netstring");
			return;
		}
		reply = socketmap_answer((const char *)p + digits + 1, n);
		evbuffer_drain(in, total);
		evbuffer_add_printf(out, "%zu:%s,", strlen(reply), reply);
		g_free(reply);
		c->requests++;
	}
}

static void
socketmap_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	socketmap_close(arg, what & BEV_EVENT_EOF ? "eof" :
	    what & BEV_EVENT_TIMEOUT ? "timeout" : "error");
}

static void
socketmap_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct socketmap *sm = arg;
	struct socketmap_conn *c;
	struct timeval idle = { SOCKETMAP_IDLE, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	conn_gate_opened(sm->gate);
	c = g_new0(struct socketmap_conn, 1);
	c->sm = sm;
	c->id = ++sm->next_id;
	c->bev = bufferevent_socket_new(sm->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, socketmap_read_cb, NULL, socketmap_event_cb, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	g_hash_table_add(sm->conns, c);
}

struct socketmap *
socketmap_start(struct event_base *base, char **listen, long max_conns, char **err)
{
	struct socketmap *sm = g_new0(struct socketmap, 1);
	struct evconnlistener *l;
	int i;

	sm->base = base;
	sm->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)evconnlistener_free);
	sm->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, socketmap_conn_free, NULL);
	sm->gate = conn_gate_new(base, "socketmap", max_conns);
	for (i = 0; listen && listen[i]; i++) {
		if ((l = lookup_listen(base, listen[i], socketmap_accept_cb, sm, err)) == NULL) {
			socketmap_stop(sm);
			return NULL;
		}
		g_ptr_array_add(sm->listeners, l);
		conn_gate_listen(sm->gate, l);
		log_info("socketmap: listening on %s", listen[i]);
	}
	return sm;
}

void
socketmap_stop(struct socketmap *sm)
{
	if (sm == NULL)
		return;
	g_hash_table_destroy(sm->conns);
	conn_gate_free(sm->gate);
	g_ptr_array_free(sm->listeners, TRUE);
	g_free(sm);
}
