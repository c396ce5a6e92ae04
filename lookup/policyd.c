/* policyd.c - the Postfix policy delegation server; see policyd.h. */
#include "lookup/policyd.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/address.h"
#include "common/config.h"
#include "common/log.h"
#include "lookup/conn_gate.h"
#include "lookup/lookup.h"

#define POLICYD_MAX_LINE	2048
#define POLICYD_MAX_ATTRS	100
#define POLICYD_IDLE		300

struct policyd {
	struct event_base *base;
	GPtrArray *listeners;
	GHashTable *conns;
	struct conn_gate *gate;
	guint64 next_id;
};

struct policyd_conn {
	struct policyd *pd;
	struct bufferevent *bev;
	guint64 id;
	guint64 requests;
	GHashTable *attrs;		/* name -> value of the request being read */
};

static const struct config *policyd_cfg;

static void
policyd_close(struct policyd_conn *c, const char *reason)
{
	log_debug("pd%" G_GUINT64_FORMAT ": session end reason=%s requests=%" G_GUINT64_FORMAT,
	    c->id, reason, c->requests);
	g_hash_table_remove(c->pd->conns, c);
}

static void
policyd_conn_free(gpointer p)
{
	struct policyd_conn *c = p;

	conn_gate_closed(c->pd->gate);
	bufferevent_free(c->bev);
	g_hash_table_destroy(c->attrs);
	g_free(c);
}

static const char *
policyd_tenant(GHashTable *attrs)
{
	const char *ctx = g_hash_table_lookup(attrs, "policy_context");
	const char *sender = g_hash_table_lookup(attrs, "sender");
	const char *t, *dom;

	if (ctx != NULL && *ctx != '\0' && (t = lookup_tenant(ctx)) != NULL)
		return t;
	if (policyd_cfg != NULL && sender != NULL && (dom = address_domain(sender)) != NULL &&
	    *dom != '\0') {
		char *d = g_ascii_strdown(dom, -1);
		t = config_tenant_for_domain(policyd_cfg, d);
		g_free(d);
		return t;
	}
	return lookup_tenant(NULL);
}

static char *
policyd_answer(GHashTable *attrs)
{
	const char *rcpt = g_hash_table_lookup(attrs, "recipient");
	char *action = NULL, *out;
	struct index_hit hit;

	if (rcpt == NULL || *rcpt == '\0')
		return g_strdup("DUNNO");
	switch (lookup_query("policy", policyd_tenant(attrs), rcpt, &hit, &action)) {
	case LOOKUP_FOUND:
		out = action;
		break;
	case LOOKUP_UNAVAILABLE:
		out = g_strdup("DEFER_IF_PERMIT 4.3.0 suppression list temporarily unavailable");
		break;
	default:
		out = g_strdup("DUNNO");
	}
	return out;
}

static void
policyd_read_cb(struct bufferevent *bev, void *arg)
{
	struct policyd_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, *eq, *answer;
	size_t len;

	for (;;) {
		struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > POLICYD_MAX_LINE)
				policyd_close(c, "line-too-long");
			return;
		}
		if ((size_t)eol.pos > POLICYD_MAX_LINE) {
			policyd_close(c, "line-too-long");
			return;
		}
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0) {
			answer = policyd_answer(c->attrs);
			evbuffer_add_printf(bufferevent_get_output(bev), "action=%s\n\n", answer);
			g_free(answer);
			g_hash_table_remove_all(c->attrs);
			c->requests++;
		} else if ((eq = strchr(line, '=')) == NULL || memchr(line, '\0', len) != NULL) {
			free(line);
			policyd_close(c, "bad-attribute");
			return;
		} else if (g_hash_table_size(c->attrs) >= POLICYD_MAX_ATTRS) {
			free(line);
			policyd_close(c, "too-many-attributes");
			return;
		} else {
			*eq = '\0';
			g_hash_table_replace(c->attrs, g_strdup(line), g_strdup(eq + 1));
		}
		free(line);
	}
}

static void
policyd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	policyd_close(arg, what & BEV_EVENT_EOF ? "eof" :
	    what & BEV_EVENT_TIMEOUT ? "timeout" : "error");
}

static void
policyd_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct policyd *pd = arg;
	struct policyd_conn *c;
	struct timeval idle = { POLICYD_IDLE, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	conn_gate_opened(pd->gate);
	c = g_new0(struct policyd_conn, 1);
	c->pd = pd;
	c->id = ++pd->next_id;
	c->attrs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c->bev = bufferevent_socket_new(pd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, policyd_read_cb, NULL, policyd_event_cb, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	g_hash_table_add(pd->conns, c);
}

struct policyd *
policyd_start(struct event_base *base, const struct config *cfg, long max_conns, char **err)
{
	char **listen = cfg->lookup_policy_listen;
	struct policyd *pd = g_new0(struct policyd, 1);
	struct evconnlistener *l;
	int i;

	pd->base = base;
	policyd_cfg = cfg;
	pd->listeners = g_ptr_array_new_with_free_func((GDestroyNotify)evconnlistener_free);
	pd->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, policyd_conn_free, NULL);
	pd->gate = conn_gate_new(base, "policyd", max_conns);
	for (i = 0; listen && listen[i]; i++) {
		if ((l = lookup_listen(base, listen[i], policyd_accept_cb, pd, err)) == NULL) {
			policyd_stop(pd);
			return NULL;
		}
		g_ptr_array_add(pd->listeners, l);
		conn_gate_listen(pd->gate, l);
		log_info("policyd: listening on %s", listen[i]);
	}
	return pd;
}

void
policyd_stop(struct policyd *pd)
{
	if (pd == NULL)
		return;
	g_hash_table_destroy(pd->conns);
	conn_gate_free(pd->gate);
	g_ptr_array_free(pd->listeners, TRUE);
	g_free(pd);
}

void
policyd_reload(struct policyd *pd, const struct config *cfg)
{
	if (pd != NULL)
		policyd_cfg = cfg;
}
