/* policyd.c - the Postfix policy delegation server; see policyd.h. */
#include "lookup/policyd.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <event2/buffer.h>

#include "common/address.h"
#include "common/config.h"
#include "lookup/listener.h"
#include "lookup/lookup.h"

#define POLICYD_MAX_LINE	2048
#define POLICYD_MAX_ATTRS	100
#define POLICYD_IDLE		300

static const char *
policyd_tenant(struct lookup *lk, GHashTable *attrs)
{
	const struct config *cfg = lookup_config(lk);
	const char *ctx = g_hash_table_lookup(attrs, "policy_context");
	const char *sender = g_hash_table_lookup(attrs, "sender");
	const char *t, *dom;

	if (ctx != NULL && *ctx != '\0' && (t = lookup_tenant(lk, ctx)) != NULL)
		return t;
	if (sender != NULL && (dom = address_domain(sender)) != NULL && *dom != '\0') {
		char *d = g_ascii_strdown(dom, -1);
		t = config_tenant_for_domain(cfg, d);
		g_free(d);
		return t;
	}
	return lookup_tenant(lk, NULL);
}

static char *
policyd_answer(struct lookup *lk, GHashTable *attrs)
{
	const char *rcpt = g_hash_table_lookup(attrs, "recipient");
	char *action = NULL, *out;
	struct index_hit hit;

	if (rcpt == NULL || *rcpt == '\0')
		return g_strdup("DUNNO");
	switch (lookup_query(lk, "policy", policyd_tenant(lk, attrs), rcpt, &hit, &action)) {
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

static void *
policyd_conn_new(void *arg)
{
	(void)arg;
	/* name -> value of the request being read */
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
policyd_conn_free(void *attrs)
{
	g_hash_table_destroy(attrs);
}

/* Attribute lines; an empty line ends a request and gets its answer. */
static const char *
policyd_read(void *arg, void *state, struct evbuffer *in, struct evbuffer *out,
    guint64 *requests)
{
	struct lookup *lk = arg;
	GHashTable *attrs = state;
	char *line, *eq, *answer;
	const char *why = NULL;
	size_t len;

	while (why == NULL) {
		struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
		if (eol.pos < 0)
			return evbuffer_get_length(in) > POLICYD_MAX_LINE ? "line-too-long" : NULL;
		if ((size_t)eol.pos > POLICYD_MAX_LINE)
			return "line-too-long";
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0) {
			answer = policyd_answer(lk, attrs);
			evbuffer_add_printf(out, "action=%s\n\n", answer);
			g_free(answer);
			g_hash_table_remove_all(attrs);
			(*requests)++;
		} else if ((eq = strchr(line, '=')) == NULL || memchr(line, '\0', len) != NULL)
			why = "bad-attribute";
		else if (g_hash_table_size(attrs) >= POLICYD_MAX_ATTRS)
			why = "too-many-attributes";
		else {
			*eq = '\0';
			g_hash_table_replace(attrs, g_strdup(line), g_strdup(eq + 1));
		}
		free(line);
	}
	return why;
}

const struct listener_proto policyd_proto = {
	.name = "policyd",
	.tag = "pd",
	.idle = POLICYD_IDLE,
	.conn_new = policyd_conn_new,
	.conn_free = policyd_conn_free,
	.read = policyd_read,
};
