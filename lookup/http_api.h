/*
 * http_api.h - the HTTP JSON API (libevent evhttp, json-glib) for relays,
 * analysts and operators.  It runs in its own thread with its own event
 * base and its own PostgreSQL connection, so slow queries never delay the
 * socketmap/policy lookups on the main loop.
 *
 *   GET    /v1/lookup/{address}       index only (fast): 200 suppressed / 404
 *   GET    /v1/suppressions/{address} the record from PostgreSQL, or 404
 *   GET    /v1/suppressions           list: tenant, class, reason, domain,
 *                                     since, cursor, limit (<= 1000)
 *   POST   /v1/suppressions           add by hand (bearer token; audited)
 *   DELETE /v1/suppressions/{address} remove (bearer token; audited)
 *   GET    /v1/events, /v1/events/{id}[/raw], /v1/addresses/{address},
 *          /v1/complaints, /v1/stats, /v1/webhooks   see http_v1.c
 *   GET    /ui/                       the analysts' page, see http_ui.c
 *   GET    /healthz                   database, index, spool backlog
 *   GET    /metrics                   Prometheus text
 *
 * "since" is "7d", "24h", "30m", "2w" or an ISO 8601 time.  Errors are
 * {"error": "..."} with 400 (bad input), 401/403 (token), 404, 405, 500,
 * 503.  Lists return {"items": [...], "next_cursor": "ID" | null}.
 *
 * http_api_stop() stops the thread and frees everything (NULL is fine).
 */
#ifndef REBOUND_HTTP_API_H
#define REBOUND_HTTP_API_H

struct http_api;
struct lookup;

/* Binds the http_listen addresses of lk's configuration (in the caller's
 * thread, so errors are reported here) and starts the API thread.
 * Requests read lk's configuration in force (the bearer tokens, hosts,
 * tenants); lk must outlive http_api_stop(). */
struct http_api *http_api_start(struct lookup *lk, long max_conns, char **err);
void http_api_stop(struct http_api *api);

#endif
