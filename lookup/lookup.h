/*
 * lookup.h - the relay-facing side of Rebound: the in-memory suppression
 * index (kept current from the change log, see notify.h: on the primary
 * or a hot standby), the Postfix socketmap and policy
 * servers, and the HTTP JSON API.
 *
 * All of it hangs off one handle: cli/cmd_serve.c calls lookup_start()
 * once its event base exists and lookup_free() before freeing the base.
 * The socketmap and policy servers (on lookup/listener.h) and the notify
 * follower run on that base; the HTTP API runs in its own thread with its
 * own event base and database connection, so a slow analyst query never
 * delays a relay's lookup.  cfg must outlive lookup_free().
 *
 * lookup_start() loads the index before it opens the lookup listeners
 * (blocking; about 1-2 s per million suppressions).  If the database is
 * unreachable it still starts: lookups answer "temporarily unavailable"
 * (socketmap TEMP, policy DEFER_IF_PERMIT) until the first load succeeds.
 * Returns NULL and *err (g_free) only if a listener cannot be opened.
 *
 * "rebound lookupd -c FILE" runs only these servers (for a relay host that
 * wants lookups and the API but receives no bounces).
 *
 * The spool backlog in GET /healthz and /metrics is the gauge
 * "rebound_spool_backlog" (see metrics.h): whoever owns the spool sets it.
 */
#ifndef REBOUND_LOOKUP_H
#define REBOUND_LOOKUP_H

#include "common/config.h"
#include "lookup/index.h"
#include "lookup/notify.h"

struct event_base;
struct lookup;

struct lookup *lookup_start(const struct config *cfg, struct event_base *base, char **err);
/* Closes every server and frees the index; NULL is fine. */
void lookup_free(struct lookup *lk);

/*
 * A new configuration (SIGHUP) for what the lookup side reads per request:
 * the action texts, tenants, and the HTTP API's bearer token.  Listen
 * addresses and store.conninfo keep their start-up values (a change is
 * logged as needing a restart).  cfg, and every one given before it, must
 * outlive lookup_free(): requests on other threads may still read the old
 * one.  From the thread that called lookup_start().
 */
void lookup_reload(struct lookup *lk, const struct config *cfg);

/* For the lookup servers themselves; any thread unless said otherwise. */
enum lookup_result {
	LOOKUP_NOTFOUND,
	LOOKUP_FOUND,		/* *action set (g_free) */
	LOOKUP_UNAVAILABLE,	/* index not loaded yet */
};

/* Is address suppressed for tenant?  proto labels the metrics
 * ("socketmap", "policy", "http"). */
enum lookup_result lookup_query(struct lookup *lk, const char *proto, const char *tenant,
    const char *address, struct index_hit *hit, char **action);

/* "suppressed" or NULL -> the default tenant; a configured tenant name ->
 * itself; anything else -> NULL.  Not a copy. */
const char *lookup_tenant(struct lookup *lk, const char *name);

/* The configuration in force (see lookup_reload()). */
const struct config *lookup_config(struct lookup *lk);

struct index *lookup_index(struct lookup *lk);
int lookup_notify_connected(struct lookup *lk);	/* the notify connection is up */
int lookup_index_loaded(struct lookup *lk);
/* Where the index is in the change log and how far behind it may be. */
void lookup_index_status(struct lookup *lk, struct notify_status *st);

#endif
