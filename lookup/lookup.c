/* lookup.c - the lookup side's handle and the shared query; see lookup.h. */
#include "lookup/lookup.h"

#include <string.h>
#include <time.h>
#include <glib.h>

#include "common/address.h"
#include "common/conn_limits.h"
#include "common/log.h"
#include "lookup/http_api.h"
#include "lookup/listener.h"
#include "common/metrics.h"
#include "lookup/notify.h"
#include "lookup/policyd.h"
#include "lookup/socketmap.h"

struct lookup {
	const struct config *cfg;	/* swapped by lookup_reload(), read by any thread */
	struct index *ix;
	struct notify *notify;
	struct listener *socketmap;	/* socketmap_proto */
	struct listener *policyd;	/* policyd_proto */
	struct http_api *http;
	struct metrics_series *lat[3], *found[3], *notfound[3];
};

static const char *lookup_protos[] = { "socketmap", "policy", "http" };

/* lookup_reload() swaps it while the HTTP thread reads it. */
const struct config *
lookup_config(struct lookup *lk)
{
	return g_atomic_pointer_get(&lk->cfg);
}

struct index *
lookup_index(struct lookup *lk)
{
	return lk->ix;
}

int
lookup_notify_connected(struct lookup *lk)
{
	return lk->notify != NULL && notify_connected(lk->notify);
}

int
lookup_index_loaded(struct lookup *lk)
{
	return lk->notify != NULL && notify_loaded(lk->notify);
}

void
lookup_index_status(struct lookup *lk, struct notify_status *st)
{
	if (lk->notify != NULL)
		notify_status(lk->notify, st);
	else {
		memset(st, 0, sizeof(*st));
		st->lag_seconds = -1;
	}
}

const char *
lookup_tenant(struct lookup *lk, const char *name)
{
	const struct config *cfg = lookup_config(lk);
	GHashTableIter it;
	gpointer v;

	if (name == NULL || *name == '\0' || strcmp(name, "suppressed") == 0 ||
	    strcmp(name, cfg->default_tenant) == 0)
		return cfg->default_tenant;
	g_hash_table_iter_init(&it, cfg->tenants);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (strcmp(v, name) == 0)
			return v;
	return NULL;
}

/* The action text from the class's template: %a address, %r reason,
 * %c class, %% a percent sign.  Reasons come from bounces, so anything
 * that could break a Postfix reply line is replaced. */
static char *
lookup_action(struct lookup *lk, const char *address, const struct index_hit *hit)
{
	const struct config *cfg = lookup_config(lk);
	const char *tpl, *p;
	GString *out = g_string_new(NULL);

	switch (hit->cls) {
	case INDEX_SOFT: tpl = cfg->lookup_action_soft; break;
	case INDEX_COMPLAINT: tpl = cfg->lookup_action_complaint; break;
	case INDEX_MANUAL: tpl = cfg->lookup_action_manual; break;
	default: tpl = cfg->lookup_action_hard; break;
	}
	for (p = tpl; *p; p++) {
		if (*p != '%' || p[1] == '\0') {
			g_string_append_c(out, *p);
			continue;
		}
		switch (*++p) {
		case 'a': g_string_append(out, address); break;
		case 'r': g_string_append(out, hit->reason[0] ? hit->reason : index_class_name(hit->cls)); break;
		case 'c': g_string_append(out, index_class_name(hit->cls)); break;
		default: g_string_append_c(out, *p); break;
		}
	}
	for (p = out->str; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			out->str[p - out->str] = '?';
	return g_string_free(out, FALSE);
}

static int
lookup_proto_id(const char *proto)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(proto, lookup_protos[i]) == 0)
			return i;
	return 2;
}

enum lookup_result
lookup_query(struct lookup *lk, const char *proto, const char *tenant, const char *address,
    struct index_hit *hit, char **action)
{
	gint64 t0 = g_get_monotonic_time();
	int id = lookup_proto_id(proto);
	enum lookup_result res = LOOKUP_NOTFOUND;
	char *key;

	if (!lookup_index_loaded(lk))
		return LOOKUP_UNAVAILABLE;
	if ((key = address_key(address)) != NULL &&
	    index_get(lk->ix, tenant, key, time(NULL), hit)) {
		res = LOOKUP_FOUND;
		if (action != NULL) {
			char *disp = address_normalise(address);
			*action = lookup_action(lk, disp, hit);
			g_free(disp);
		}
	}
	g_free(key);
	metrics_handle_add(res == LOOKUP_FOUND ? lk->found[id] : lk->notfound[id], 1);
	metrics_handle_observe(lk->lat[id], (g_get_monotonic_time() - t0) / 1e6);
	return res;
}

struct lookup *
lookup_start(const struct config *cfg, struct event_base *base, char **err)
{
	struct lookup *lk = g_new0(struct lookup, 1);
	struct conn_limits cl;
	char *why = NULL;
	int i;

	g_atomic_pointer_set(&lk->cfg, cfg);
	for (i = 0; i < 3; i++) {
		lk->lat[i] = metrics_handle(METRICS_HISTOGRAM, "rebound_lookup_seconds", "proto", lookup_protos[i]);
		lk->found[i] = metrics_handle(METRICS_COUNTER, "rebound_lookup_hits_total", "proto", lookup_protos[i]);
		lk->notfound[i] = metrics_handle(METRICS_COUNTER, "rebound_lookup_misses_total", "proto", lookup_protos[i]);
	}
	lk->ix = index_new();
	/* 1. the index, before any relay can ask */
	if (cfg->store_conninfo == NULL || *cfg->store_conninfo == '\0') {
		*err = g_strdup("lookup: store.conninfo is empty; the index needs PostgreSQL");
		goto fail;
	}
	lk->notify = notify_new(base, cfg->store_conninfo, lk->ix, cfg->lookup_change_log_days);
	if (notify_start(lk->notify, &why) < 0) {
		log_warnx("index state=unloaded why=\"%s\" lookups=temp", why);
		g_free(why);
	}
	/* 2. the relay-facing listeners on the caller's loop, within the descriptor budget */
	if (conn_limits_compute(cfg, &cl, err) == -1)
		goto fail;
	if ((lk->socketmap = listener_start(base, &socketmap_proto, lk, cfg->lookup_socketmap_listen,
	    cl.socketmap, err)) == NULL ||
	    (lk->policyd = listener_start(base, &policyd_proto, lk, cfg->lookup_policy_listen,
	    cl.policy, err)) == NULL)
		goto fail;
	/* 3. the HTTP API in its own thread */
	if ((lk->http = http_api_start(lk, cl.http, err)) == NULL)
		goto fail;
	return lk;
fail:
	lookup_free(lk);
	return NULL;
}

/* Listen addresses as one string, to tell whether they changed. */
static char *
listen_key(char **a, char **b, char **c)
{
	char *x = a != NULL ? g_strjoinv(",", a) : g_strdup("");
	char *y = b != NULL ? g_strjoinv(",", b) : g_strdup("");
	char *z = c != NULL ? g_strjoinv(",", c) : g_strdup("");
	char *k = g_strjoin("|", x, y, z, NULL);

	g_free(x);
	g_free(y);
	g_free(z);
	return k;
}

void
lookup_reload(struct lookup *lk, const struct config *cfg)
{
	const struct config *old = lookup_config(lk);
	char *a, *b;

	a = listen_key(old->lookup_socketmap_listen, old->lookup_policy_listen, old->http_listen);
	b = listen_key(cfg->lookup_socketmap_listen, cfg->lookup_policy_listen, cfg->http_listen);
	if (strcmp(a, b) != 0)
		log_warnx("lookup event=reload note=\"listen address changes need a restart\"");
	if (g_strcmp0(old->store_conninfo, cfg->store_conninfo) != 0)
		log_warnx("lookup event=reload note=\"store.conninfo changes need a restart\"");
	g_free(a);
	g_free(b);
	g_atomic_pointer_set(&lk->cfg, cfg);
	log_info("lookup event=reloaded token=%s", cfg->http_token != NULL && *cfg->http_token ?
	    "set" : "none");
}

void
lookup_free(struct lookup *lk)
{
	if (lk == NULL)
		return;
	http_api_stop(lk->http);
	listener_free(lk->socketmap);
	listener_free(lk->policyd);
	notify_free(lk->notify);
	index_free(lk->ix);
	g_free(lk);
}
