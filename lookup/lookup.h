/*
 * lookup.h - the relay-facing side of Rebound: the in-memory suppression
 * index (kept current from the change log, see notify.h: on the primary
 * or a hot standby), the Postfix socketmap and policy
 * servers, and the HTTP JSON API.
 *
 * cli/cmd_serve.c calls lookup_start() once its event base exists and lookup_stop()
 * before freeing it.  The socketmap and policy servers and the notify
 * listener run on that base; the HTTP API runs in its own thread with its
 * own event base and database connection, so a slow analyst query never
 * delays a relay's lookup.  cfg must outlive lookup_stop().
 *
 * lookup_start() loads the index before it opens the lookup listeners
 * (blocking; about 1-2 s per million suppressions).  If the database is
 * unreachable it still starts: lookups answer "temporarily unavailable"
 * (socketmap TEMP, policy DEFER_IF_PERMIT) until the first load succeeds.
 * Returns -1 and *err (g_free) only if a listener cannot be opened.
 *
 * "rebound lookupd -c FILE" runs only these servers (for a relay host that
 * wants lookups and the API but receives no bounces).
 *
 * The spool backlog in GET /healthz and /metrics is the gauge
 * "rebound_spool_backlog" (see metrics.h): whoever owns the spool sets it.
 */
#ifndef REBOUND_LOOKUP_H
#define REBOUND_LOOKUP_H

#include <event2/event.h>
#include <event2/listener.h>

#include "common/config.h"
#include "lookup/index.h"
#include "lookup/notify.h"

int lookup_start(const struct config *cfg, struct event_base *base, char **err);
void lookup_stop(void);

/*
 * A new configuration (SIGHUP) for what the lookup side reads per request:
 * the action texts, tenants, and the HTTP API's bearer token.  Listen
 * addresses and store.conninfo keep their start-up values (a change is
 * logged as needing a restart).  cfg, and every one given before it, must
 * outlive lookup_stop(): requests on other threads may still read the old
 * one.  From the thread that called lookup_start().
 */
void lookup_reload(const struct config *cfg);

/* For the lookup servers themselves. */
enum lookup_result {
	LOOKUP_NOTFOUND,
	LOOKUP_FOUND,		/* *action set (g_free) */
	LOOKUP_UNAVAILABLE,	/* index not loaded yet */
};

/* Is address suppressed for tenant?  proto labels the metrics
 * ("socketmap", "policy", "http").  Any thread. */
enum lookup_result lookup_query(const char *proto, const char *tenant, const char *address,
    struct index_hit *hit, char **action);

/* "suppressed" or NULL -> the default tenant; a configured tenant name ->
 * itself; anything else -> NULL.  Not a copy. */
const char *lookup_tenant(const char *name);

/* A listener on "addr:port" / "[v6]:port"; NULL and *err (g_free). */
struct evconnlistener *lookup_listen(struct event_base *base, const char *spec,
    evconnlistener_cb cb, void *arg, char **err);

struct index *lookup_index(void);
int lookup_notify_connected(void);	/* the notify connection is up */
int lookup_index_loaded(void);
/* Where the index is in the change log and how far behind it may be. */
void lookup_index_status(struct notify_status *st);

#endif
