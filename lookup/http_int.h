/*
 * http_int.h - what the HTTP API's handler files share (http_api.c owns
 * the listener, the dispatch and these helpers; http_suppress.c,
 * http_v1.c and http_ui.c add routes).  Every function runs on the API thread.
 */
#ifndef REBOUND_HTTP_INT_H
#define REBOUND_HTTP_INT_H

#include <stddef.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "lookup/lookup_db.h"

struct http_api;

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

typedef void (*http_handler)(struct http_api *, struct evhttp_request *, const char *arg,
    struct evkeyvalq *q);

struct http_route {
	const char *path;
	int prefix;		/* 1: path is a prefix and the rest (no '/') is the argument;
				 * 2: the same, the rest may hold '/' */
	int methods;
	const char *params;	/* allowed query parameters, space-separated */
	http_handler fn;
};

/* Routes of http_suppress.c, http_v1.c and http_ui.c, ended by a NULL path. */
extern const struct http_route http_suppress_routes[];
extern const struct http_route http_v1_routes[];
extern const struct http_route http_ui_routes[];

void http_send(struct evhttp_request *req, int code, const char *ctype, const char *body,
    size_t len);
/* Takes ownership of root. */
void http_json(struct evhttp_request *req, int code, JsonNode *root);
void http_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Row i of r as a JSON object (ints, bools and json typed). */
JsonNode *http_row(PGresult *r, int i);
/* {"items": [...], "next_cursor": last id or null} */
JsonNode *http_list(PGresult *r, int limit);
/* The API thread's connection (reconnects), or NULL and *err. */
PGconn *http_db(struct http_api *api, char **err);
/* Answers 503 (database down) or 500 and frees err. */
void http_db_error(struct http_api *api, struct evhttp_request *req, char *err);
/* A non-empty query parameter or NULL. */
const char *http_param(struct evkeyvalq *q, const char *name);
/* Fills f from the query; on bad input replies 400 and returns -1. */
int http_filter(struct evhttp_request *req, struct evkeyvalq *q, struct lookup_db_filter *f,
    const char *default_since);
/* The write token; replies 401/403 and returns -1 without it. */
int http_authorised(struct http_api *api, struct evhttp_request *req);
/* A single-address request: *tenant from ?tenant= or the default, and the
 * normalised form of the address from the path (g_free); NULL after
 * replying 400 if the tenant is unknown or the address not valid. */
char *http_tenant_address(struct http_api *api, struct evhttp_request *req, struct evkeyvalq *q,
    const char *addr, const char **tenant);
/* The lookup handle the API answers from. */
struct lookup *http_lookup_handle(struct http_api *api);

#endif
