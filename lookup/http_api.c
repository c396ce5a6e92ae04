/* http_api.c - the HTTP JSON API; see http_api.h. */
#include "lookup/http_api.h"
#include "lookup/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "common/address.h"
#include "common/log.h"
#include "lookup/conn_gate.h"
#include "lookup/listener.h"
#include "lookup/lookup.h"
#include "lookup/lookup_db.h"
#include "common/metrics.h"
#include "store/suppression.h"

#define HTTP_MAX_BODY		65536
#define HTTP_MAX_HEADERS	16384
#define HTTP_TIMEOUT		30
#define HTTP_DEFAULT_LIMIT	100
#define HTTP_MAX_LIMIT		1000

struct http_api {
	struct lookup *lk;		/* the index, tenants and configuration in force */
	struct event_base *base;
	struct evhttp *http;
	struct event *ev_stop;
	int stop_pipe[2];
	GThread *thread;
	PGconn *db;			/* this thread's own connection */
	struct conn_gate *gate;
	GQueue conns;			/* struct http_conn *, oldest first */
	struct event *ev_reap;		/* once a second */
	struct event *ev_reap_soon;	/* after shedding: when evhttp has freed it */
	int shedding;			/* connections shut, not yet reaped */
};

/*
 * evhttp (libevent 2.1) has no connection cap, no close callback for a
 * connection that never sent a request, and its filter bufferevents cannot
 * take a socket.  So each connection's bufferevent is made here
 * (evhttp_set_bevcb) and holds one reference of ours: when evhttp frees
 * the connection, bufferevent_free() clears its callbacks, and the reaper
 * (once a second, and at the cap) drops our reference, which closes the
 * socket.  The count is then of descriptors really open.  At the cap the
 * oldest connection is shut down (evhttp sees EOF and frees it), so a
 * flood of idle connections cannot keep /healthz out; the gate stops
 * accepting while the count is at the cap.
 */
struct http_conn {
	struct bufferevent *bev;
	GList link;
	int shut;
};

/* --- replies ---------------------------------------------------------- */

void
http_send(struct evhttp_request *req, int code, const char *ctype, const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, NULL, out);
	evbuffer_free(out);
	metrics_inc("rebound_http_responses_total", "code", code == 200 ? "200" : code == 301 ? "301" :
	    code == 201 ? "201" : code == 400 ? "400" : code == 401 ? "401" : code == 403 ? "403" :
	    code == 404 ? "404" : code == 405 ? "405" : code == 503 ? "503" : "500");
}

/* Takes ownership of root. */
void
http_json(struct evhttp_request *req, int code, JsonNode *root)
{
	JsonGenerator *gen = json_generator_new();
	gsize len;
	char *text;

	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, &len);
	http_send(req, code, "application/json", text, len);
	g_free(text);
	g_object_unref(gen);
	json_node_unref(root);
}

void
http_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* peer text may be invalid UTF-8; JSON output must not be */
	if (!g_utf8_validate(msg, -1, NULL)) {
		char *v = g_utf8_make_valid(msg, -1);
		g_free(msg);
		msg = v;
	}
	json_object_set_string_member(o, "error", msg);
	json_node_take_object(n, o);
	g_free(msg);
	http_json(req, code, n);
}

JsonNode *
http_row(PGresult *r, int i)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	int j;

	for (j = 0; j < PQnfields(r); j++) {
		const char *name = PQfname(r, j), *v = PQgetvalue(r, i, j);
		if (PQgetisnull(r, i, j)) {
			json_object_set_null_member(o, name);
			continue;
		}
		switch (PQftype(r, j)) {
		case 20: case 21: case 23:	/* int8, int2, int4 */
			json_object_set_int_member(o, name, g_ascii_strtoll(v, NULL, 10));
			break;
		case 16:			/* bool */
			json_object_set_boolean_member(o, name, v[0] == 't');
			break;
		case 114: case 3802: {		/* json, jsonb */
			JsonNode *parsed = json_from_string(v, NULL);
			if (parsed)
				json_object_set_member(o, name, parsed);
			else
				json_object_set_string_member(o, name, v);
			break;
		}
		default:
			json_object_set_string_member(o, name, v);
		}
	}
	json_node_take_object(n, o);
	return n;
}

/* {"items": [...], "next_cursor": last id or null} */
JsonNode *
http_list(PGresult *r, int limit)
{
	JsonObject *o = json_object_new();
	JsonArray *a = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	int i, idcol = PQfnumber(r, "id");

	for (i = 0; i < PQntuples(r); i++)
		json_array_add_element(a, http_row(r, i));
	json_object_set_array_member(o, "items", a);
	if (limit > 0 && PQntuples(r) == limit && idcol >= 0)
		json_object_set_string_member(o, "next_cursor", PQgetvalue(r, PQntuples(r) - 1, idcol));
	else
		json_object_set_null_member(o, "next_cursor");
	json_node_take_object(n, o);
	return n;
}

/* --- database ------------------------------------------------------- */

PGconn *
http_db(struct http_api *api, char **err)
{
	if (api->db != NULL && PQstatus(api->db) != CONNECTION_OK) {
		PQfinish(api->db);
		api->db = NULL;
	}
	if (api->db == NULL)
		api->db = lookup_db_connect(lookup_config(api->lk)->store_conninfo, err);
	return api->db;
}

/* After a failed query: drop a broken connection so the next request
 * reconnects, and answer 503 (database) or 500. */
void
http_db_error(struct http_api *api, struct evhttp_request *req, char *err)
{
	int down = api->db == NULL || PQstatus(api->db) != CONNECTION_OK;

	char *e = log_escape(err ? err : "database error", err ? strlen(err) : 14, 1024);

	/* The database's own text goes to the log, not to the client. */
	log_warnx("http event=db-error error=\"%s\"", e);
	http_error(req, down ? 503 : 500, "%s", down ? "database unavailable" : "database error");
	g_free(e);
	g_free(err);
}

/* --- input ------------------------------------------------------------ */

const char *
http_param(struct evkeyvalq *q, const char *name)
{
	const char *v = evhttp_find_header(q, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Fills f from the query; on bad input replies 400 and returns -1. */
int
http_filter(struct evhttp_request *req, struct evkeyvalq *q, struct lookup_db_filter *f,
    const char *default_since)
{
	const char *v;
	char *end;

	memset(f, 0, sizeof(*f));
	f->tenant = http_param(q, "tenant");
	f->cls = http_param(q, "class");
	f->reason = http_param(q, "reason");
	f->domain = http_param(q, "domain");
	f->recipient = http_param(q, "recipient");
	f->feedback_type = http_param(q, "feedback_type");
	f->provider = http_param(q, "provider");
	f->campaign = http_param(q, "campaign");
	if (lookup_db_suppressible_arg(http_param(q, "suppressible"), &f->suppressible) < 0) {
		http_error(req, 400, "suppressible: must be true, false or any");
		return -1;
	}
	if ((v = http_param(q, "since")) == NULL)
		v = default_since;
	if (v != NULL && lookup_db_since(v, &f->since) < 0) {
		http_error(req, 400, "since: \"%s\" is neither a duration like 7d/24h/30m nor an ISO 8601 time", v);
		return -1;
	}
	if ((v = http_param(q, "until")) != NULL && lookup_db_since(v, &f->until) < 0) {
		http_error(req, 400, "until: \"%s\" is neither a duration like 7d/24h/30m nor an ISO 8601 time", v);
		return -1;
	}
	f->limit = HTTP_DEFAULT_LIMIT;
	if ((v = http_param(q, "limit")) != NULL) {
		long n = strtol(v, &end, 10);
		if (*end != '\0' || n < 1 || n > HTTP_MAX_LIMIT) {
			http_error(req, 400, "limit: must be an integer from 1 to %d", HTTP_MAX_LIMIT);
			return -1;
		}
		f->limit = (int)n;
	}
	if ((v = http_param(q, "cursor")) != NULL) {
		long long n = strtoll(v, &end, 10);
		if (*end != '\0' || n < 0) {
			http_error(req, 400, "cursor: not a cursor returned by this API");
			return -1;
		}
		f->cursor = n;
	}
	return 0;
}

/*
 * Compares a presented token with a configured one in time independent of
 * both: their SHA-256 digests are compared, so neither the position of the
 * first difference nor the token's length shows in the timing.
 */
static int
http_token_equal(const char *given, const char *tok)
{
	guint8 a[32], b[32];
	gsize alen = sizeof a, blen = sizeof b;
	GChecksum *c;

	c = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(c, (const guchar *)given, strlen(given));
	g_checksum_get_digest(c, a, &alen);
	g_checksum_free(c);
	c = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(c, (const guchar *)tok, strlen(tok));
	g_checksum_get_digest(c, b, &blen);
	g_checksum_free(c);
	return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

static int
http_bearer_is(struct evhttp_request *req, const char *tok)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	return tok != NULL && *tok != '\0' && h != NULL && g_ascii_strncasecmp(h, "Bearer ", 7) == 0 &&
	    http_token_equal(h + 7, tok);
}

/* Writes need "Authorization: Bearer TOKEN"; replies and returns -1 if not. */
int
http_authorised(struct http_api *api, struct evhttp_request *req)
{
	const struct config *cfg = lookup_config(api->lk);
	const char *tok = cfg->http_token;

	if (tok == NULL || *tok == '\0') {
		http_error(req, 403, "writes are disabled: no token in [http] of the configuration");
		return -1;
	}
	if (!http_bearer_is(req, tok)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "Bearer realm=\"rebound\"");
		http_error(req, 401, "a valid bearer token is required for writes");
		return -1;
	}
	return 0;
}

static char *
http_address(struct evhttp_request *req, const char *addr)
{
	char *norm = address_normalise(addr);

	if (norm == NULL)
		http_error(req, 400, "not a valid address: %s", addr);
	return norm;
}

struct lookup *
http_lookup_handle(struct http_api *api)
{
	return api->lk;
}

/* The tenant of a single-address request: ?tenant= or the default. */
static const char *
http_tenant(struct http_api *api, struct evhttp_request *req, struct evkeyvalq *q)
{
	const char *name = http_param(q, "tenant"), *t = lookup_tenant(api->lk, name);

	if (t == NULL)
		http_error(req, 400, "tenant: \"%s\" is not a configured tenant", name);
	return t;
}

char *
http_tenant_address(struct http_api *api, struct evhttp_request *req, struct evkeyvalq *q,
    const char *addr, const char **tenant)
{
	if ((*tenant = http_tenant(api, req, q)) == NULL)
		return NULL;
	return http_address(req, addr);
}

/* --- handlers ----------------------------------------------------------- */

static void
http_healthz(struct http_api *api, struct evhttp_request *req, const char *arg, struct evkeyvalq *q)
{
	JsonBuilder *b = json_builder_new();
	char *err = NULL;
	PGresult *r = NULL;
	PGconn *c;
	int db_ok, loaded = lookup_index_loaded(api->lk), found;
	double backlog;
	struct notify_status ist;

	(void)arg;
	(void)q;
	if ((c = http_db(api, &err)) != NULL && (r = lookup_db_exec(c, "SELECT 1", 0, NULL, &err)) == NULL &&
	    PQstatus(c) != CONNECTION_OK) {
		/* one reconnect: the server may have restarted since */
		g_free(err);
		err = NULL;
		if ((c = http_db(api, &err)) != NULL)
			r = lookup_db_exec(c, "SELECT 1", 0, NULL, &err);
	}
	db_ok = r != NULL;
	if (r)
		PQclear(r);
	backlog = metrics_value("rebound_spool_backlog", NULL, NULL, &found);
	lookup_index_status(api->lk, &ist);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "status");
	json_builder_add_string_value(b, db_ok && loaded ? "ok" : "unavailable");
	json_builder_set_member_name(b, "database");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "ok");
	json_builder_add_boolean_value(b, db_ok);
	json_builder_set_member_name(b, "error");
	if (err) {
		g_strchomp(err);
		json_builder_add_string_value(b, err);
	} else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "listening");
	json_builder_add_boolean_value(b, lookup_notify_connected(api->lk));
	json_builder_end_object(b);
	json_builder_set_member_name(b, "index");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "loaded");
	json_builder_add_boolean_value(b, loaded);
	json_builder_set_member_name(b, "entries");
	json_builder_add_int_value(b, (gint64)index_count(lookup_index(api->lk)));
	json_builder_set_member_name(b, "bytes");
	json_builder_add_int_value(b, (gint64)index_memory(lookup_index(api->lk)));
	json_builder_set_member_name(b, "change_id");
	json_builder_add_int_value(b, ist.change_id);
	json_builder_set_member_name(b, "standby");
	json_builder_add_boolean_value(b, ist.standby);
	json_builder_set_member_name(b, "lag_seconds");
	if (ist.lag_seconds >= 0)
		json_builder_add_double_value(b, ist.lag_seconds);
	else
		json_builder_add_null_value(b);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "spool_backlog");
	if (found)
		json_builder_add_int_value(b, (gint64)backlog);
	else
		json_builder_add_null_value(b);
	json_builder_end_object(b);
	http_json(req, db_ok && loaded ? 200 : 503, json_builder_get_root(b));
	g_object_unref(b);
	g_free(err);
}

static void
http_metrics(struct http_api *api, struct evhttp_request *req, const char *arg, struct evkeyvalq *q)
{
	struct notify_status ist;
	char *text;

	(void)api;
	(void)arg;
	(void)q;
	metrics_set("rebound_index_entries", NULL, NULL, (double)index_count(lookup_index(api->lk)));
	metrics_set("rebound_index_bytes", NULL, NULL, (double)index_memory(lookup_index(api->lk)));
	lookup_index_status(api->lk, &ist);
	if (ist.lag_seconds >= 0)
		metrics_set("rebound_index_lag_seconds", NULL, NULL, ist.lag_seconds);
	text = metrics_render();
	http_send(req, 200, "text/plain; version=0.0.4", text, strlen(text));
	g_free(text);
}


static const struct http_route http_routes[] = {
	{ "/healthz", 0, M_GET, "", http_healthz },
	{ "/metrics", 0, M_GET, "", http_metrics },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct http_route *const http_tables[] = { http_routes, http_suppress_routes,
    http_v1_routes, http_ui_routes };

static int
http_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return M_GET;
	case EVHTTP_REQ_HEAD: return M_GET;
	case EVHTTP_REQ_POST: return M_POST;
	case EVHTTP_REQ_DELETE: return M_DELETE;
	default: return 0;
	}
}

/* Unknown query parameters are errors: a typo must not widen a query. */
static int
http_check_params(struct evhttp_request *req, struct evkeyvalq *q, const char *allowed)
{
	char **ok = g_strsplit(allowed, " ", -1);
	struct evkeyval *kv;
	int rc = 0;

	TAILQ_FOREACH(kv, q, next)
		if (!g_strv_contains((const char *const *)ok, kv->key)) {
			http_error(req, 400, "unknown query parameter \"%s\"%s%s", kv->key,
			    *allowed ? "; known: " : "", allowed);
			rc = -1;
			break;
		}
	g_strfreev(ok);
	return rc;
}

/*
 * What every request must pass before routing: one Content-Length (two
 * that differ let a proxy and evhttp disagree on where the body ends), a
 * Host in [http] hosts when that is set (DNS rebinding), and for reads
 * other than /healthz and the page's files the read token when [http]
 * read_token is set (the write token reads too).  Replies and returns -1
 * on failure.
 */
/* The analysts' page itself (/ui/): compiled-in files without data, which
 * a browser loads without a header; the page sends the token it is given
 * with every API request it makes. */
static int
http_static_path(const char *path)
{
	return strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0;
}

static int
http_check_head(struct http_api *api, struct evhttp_request *req, const char *path, int method)
{
	const struct config *cfg = lookup_config(api->lk);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	const char *cl = NULL, *host;
	int i, ok;

	TAILQ_FOREACH(kv, h, next)
		if (g_ascii_strcasecmp(kv->key, "Content-Length") == 0) {
			if (cl != NULL && strcmp(cl, kv->value) != 0) {
				evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
				    "close");
				http_error(req, 400, "conflicting Content-Length headers");
				return -1;
			}
			cl = kv->value;
		}
	if (cfg->http_hosts != NULL && cfg->http_hosts[0] != NULL) {
		host = evhttp_find_header(h, "Host");
		for (i = 0, ok = 0; host != NULL && cfg->http_hosts[i] != NULL && !ok; i++) {
			size_t n = strlen(cfg->http_hosts[i]);
			/* "name" matches "name" and "name:port"; "name:port" only itself. */
			ok = g_ascii_strncasecmp(host, cfg->http_hosts[i], n) == 0 &&
			    (host[n] == '\0' || (host[n] == ':' && strchr(cfg->http_hosts[i], ':') == NULL &&
			    strspn(host + n + 1, "0123456789") == strlen(host + n + 1)));
		}
		if (!ok) {
			http_error(req, 403, "Host not allowed: add it to [http] hosts");
			return -1;
		}
	}
	if (method == M_GET && strcmp(path, "/healthz") != 0 && !http_static_path(path) &&
	    cfg->http_read_token != NULL &&
	    *cfg->http_read_token != '\0' && !http_bearer_is(req, cfg->http_read_token) &&
	    !http_bearer_is(req, cfg->http_token)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		    "Bearer realm=\"rebound\"");
		http_error(req, 401, "a valid bearer token is required for reads");
		return -1;
	}
	return 0;
}

static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	int method = http_method(req), path_known = 0;
	struct evkeyvalq q;
	char allow[64] = "";
	size_t t, i;

	TAILQ_INIT(&q);
	if (path == NULL || *path == '\0')
		path = "/";
	if (http_check_head(api, req, path, method) < 0)
		return;
	if (query != NULL && evhttp_parse_query_str(query, &q) < 0) {
		http_error(req, 400, "malformed query string");
		return;
	}
	for (t = 0; t < G_N_ELEMENTS(http_tables); t++)
	for (i = 0; http_tables[t][i].path != NULL; i++) {
		const struct http_route *rt = &http_tables[t][i];
		size_t n = strlen(rt->path);
		char *decoded;
		size_t dlen;
		if (rt->prefix ? (strncmp(path, rt->path, n) != 0 || path[n] == '\0' ||
		    (rt->prefix == 1 && strchr(path + n, '/') != NULL)) : strcmp(path, rt->path) != 0)
			continue;
		path_known = 1;
		if (!(rt->methods & method)) {
			g_strlcat(allow, *allow ? ", " : "", sizeof(allow));
			g_strlcat(allow, rt->methods == M_GET ? "GET" : rt->methods == M_POST ? "POST" : "DELETE",
			    sizeof(allow));
			continue;
		}
		if (http_check_params(req, &q, rt->params) < 0)
			goto out;
		if (!rt->prefix) {
			rt->fn(api, req, NULL, &q);
			goto out;
		}
		decoded = evhttp_uridecode(path + n, 0, &dlen);
		if (decoded == NULL || dlen != strlen(decoded) || dlen > SUPPRESSION_MAX_ADDRESS)
			http_error(req, 400, "malformed or overlong address in the path");
		else
			rt->fn(api, req, decoded, &q);
		free(decoded);
		goto out;
	}
	if (path_known) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		http_error(req, 405, "method not allowed; allowed: %s", allow);
	} else
		http_error(req, 404, "no such endpoint: %s", path);
out:
	evhttp_clear_headers(&q);
}

/* --- thread ----------------------------------------------------------- */

static void
http_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_api *api = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(api->base);
}

/* Drops the connections evhttp has freed; all of them with force. */
static void
http_conn_reap(struct http_api *api, int force)
{
	GList *l = api->conns.head, *next;

	for (; l != NULL; l = next) {
		struct http_conn *c = l->data;
		bufferevent_data_cb rd, wr;
		bufferevent_event_cb ev;
		void *arg;

		next = l->next;
		bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
		if (!force && (rd != NULL || wr != NULL || ev != NULL || arg != NULL))
			continue;
		if (c->shut && api->shedding > 0)
			api->shedding--;
		g_queue_unlink(&api->conns, &c->link);
		bufferevent_decref(c->bev);
		g_free(c);
		conn_gate_closed(api->gate);
	}
}

static void
http_conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_api *api = arg;
	struct timeval soon = { 0, 2000 };

	(void)fd;
	(void)what;
	http_conn_reap(api, 0);
	if (api->shedding > 0)
		evtimer_add(api->ev_reap_soon, &soon);
}

static struct bufferevent *
http_conn_bev(struct event_base *base, void *arg)
{
	struct http_api *api = arg;
	struct http_conn *c, *old;
	struct bufferevent *bev;
	GList *l;

	/*
	 * At the cap, before this one is counted: shut the oldest still open.
	 * The gate then stops accepting (which also ends libevent's accept
	 * loop) until evhttp has freed it, a loop iteration later.
	 */
	if (conn_gate_count(api->gate) + 1 >= conn_gate_max(api->gate)) {
		http_conn_reap(api, 0);
		if (conn_gate_count(api->gate) + 1 >= conn_gate_max(api->gate))
			for (l = api->conns.head; l != NULL; l = l->next) {
				struct timeval soon = { 0, 2000 };
				old = l->data;
				if (!old->shut && bufferevent_getfd(old->bev) != -1) {
					old->shut = 1;
					api->shedding++;
					shutdown(bufferevent_getfd(old->bev), SHUT_RDWR);
					evtimer_add(api->ev_reap_soon, &soon);
					break;
				}
			}
	}
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	bufferevent_incref(bev);
	c = g_new0(struct http_conn, 1);
	c->bev = bev;
	c->link.data = c;
	g_queue_push_tail_link(&api->conns, &c->link);
	conn_gate_opened(api->gate);
	return bev;
}

static gpointer
http_thread(gpointer arg)
{
	struct http_api *api = arg;

	event_base_dispatch(api->base);
	return NULL;
}

struct http_api *
http_api_start(struct lookup *lk, long max_conns, char **err)
{
	const struct config *cfg = lookup_config(lk);
	struct http_api *api = g_new0(struct http_api, 1);
	int i;

	api->lk = lk;
	g_queue_init(&api->conns);
	api->stop_pipe[0] = api->stop_pipe[1] = -1;
	api->base = event_base_new();
	api->http = evhttp_new(api->base);
	evhttp_set_max_body_size(api->http, HTTP_MAX_BODY);
	evhttp_set_max_headers_size(api->http, HTTP_MAX_HEADERS);
	evhttp_set_timeout(api->http, HTTP_TIMEOUT);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(api->http, http_request_cb, api);
	api->gate = conn_gate_new(api->base, "http", max_conns);
	evhttp_set_bevcb(api->http, http_conn_bev, api);
	{
		struct timeval sec = { 1, 0 };
		api->ev_reap = event_new(api->base, -1, EV_PERSIST, http_conn_reap_cb, api);
		api->ev_reap_soon = evtimer_new(api->base, http_conn_reap_cb, api);
		event_add(api->ev_reap, &sec);
	}
	for (i = 0; cfg->http_listen && cfg->http_listen[i]; i++) {
		struct evconnlistener *l = listener_bind(api->base, cfg->http_listen[i], NULL, NULL, err);
		if (l == NULL || evhttp_bind_listener(api->http, l) == NULL) {
			if (l != NULL) {
				evconnlistener_free(l);
				*err = g_strdup_printf("cannot serve HTTP on %s", cfg->http_listen[i]);
			}
			http_api_stop(api);
			return NULL;
		}
		conn_gate_listen(api->gate, l);
		log_info("http: listening on %s", cfg->http_listen[i]);
	}
	if (pipe2(api->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		*err = g_strdup_printf("pipe: %s", g_strerror(errno));
		http_api_stop(api);
		return NULL;
	}
	api->ev_stop = event_new(api->base, api->stop_pipe[0], EV_READ, http_stop_cb, api);
	event_add(api->ev_stop, NULL);
	api->thread = g_thread_new("http-api", http_thread, api);
	return api;
}

void
http_api_stop(struct http_api *api)
{
	if (api == NULL)
		return;
	if (api->thread != NULL) {
		if (write(api->stop_pipe[1], "x", 1) != 1)
			log_warn("http: cannot signal the API thread");
		g_thread_join(api->thread);
	}
	if (api->ev_stop)
		event_free(api->ev_stop);
	if (api->stop_pipe[0] >= 0) {
		close(api->stop_pipe[0]);
		close(api->stop_pipe[1]);
	}
	evhttp_free(api->http);
	if (api->ev_reap)
		event_free(api->ev_reap);
	if (api->ev_reap_soon)
		event_free(api->ev_reap_soon);
	if (api->gate)
		http_conn_reap(api, 1);
	conn_gate_free(api->gate);
	event_base_free(api->base);
	if (api->db)
		PQfinish(api->db);
	g_free(api);
}
