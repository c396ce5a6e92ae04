/*
 * http_suppress.c - the relay and operator side of the HTTP API: one
 * lookup in the index, and the suppression list read and written by hand
 * (routes in http_api.h).  Every text member of a POST is bounded before
 * it goes anywhere; what a suppression must satisfy is store/suppression.h.
 */
#include <string.h>
#include <time.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <event2/buffer.h>

#include "common/log.h"
#include "lookup/http_int.h"
#include "lookup/lookup.h"
#include "lookup/lookup_db.h"
#include "store/suppression.h"

/* A manual suppression's note, octets. */
#define HTTP_MAX_NOTE		2000

static void
http_lookup(struct http_api *api, struct evhttp_request *req, const char *addr, struct evkeyvalq *q)
{
	const char *tenant;
	struct index_hit hit;
	JsonBuilder *b;
	char *action = NULL, *norm;
	enum lookup_result r;

	if ((norm = http_tenant_address(api, req, q, addr, &tenant)) == NULL)
		return;
	r = lookup_query(http_lookup_handle(api), "http", tenant, addr, &hit, &action);
	if (r == LOOKUP_UNAVAILABLE) {
		http_error(req, 503, "the suppression index is not loaded yet");
		g_free(norm);
		return;
	}
	b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "address");
	json_builder_add_string_value(b, norm);
	json_builder_set_member_name(b, "tenant");
	json_builder_add_string_value(b, tenant);
	json_builder_set_member_name(b, "suppressed");
	json_builder_add_boolean_value(b, r == LOOKUP_FOUND);
	if (r == LOOKUP_FOUND) {
		json_builder_set_member_name(b, "class");
		json_builder_add_string_value(b, index_class_name(hit.cls));
		json_builder_set_member_name(b, "reason");
		json_builder_add_string_value(b, hit.reason);
		json_builder_set_member_name(b, "expires_at");
		if (hit.expires) {
			GDateTime *dt = g_date_time_new_from_unix_utc(hit.expires);
			char *iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
			json_builder_add_string_value(b, iso);
			g_free(iso);
			g_date_time_unref(dt);
		} else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "action");
		json_builder_add_string_value(b, action);
	}
	json_builder_end_object(b);
	http_json(req, r == LOOKUP_FOUND ? 200 : 404, json_builder_get_root(b));
	g_object_unref(b);
	g_free(action);
	g_free(norm);
}

static void
http_get_suppression(struct http_api *api, struct evhttp_request *req, const char *addr,
    struct evkeyvalq *q)
{
	const char *tenant;
	char *err = NULL, *norm;
	PGresult *r;
	PGconn *c;

	if ((norm = http_tenant_address(api, req, q, addr, &tenant)) == NULL)
		return;
	g_free(norm);
	if ((c = http_db(api, &err)) == NULL || (r = lookup_db_get_suppression(c, tenant, addr, &err)) == NULL) {
		http_db_error(api, req, err);
		return;
	}
	if (PQntuples(r) == 0)
		http_error(req, 404, "%s is not suppressed for tenant %s", addr, tenant);
	else
		http_json(req, 200, http_row(r, 0));
	PQclear(r);
}

static void
http_delete_suppression(struct http_api *api, struct evhttp_request *req, const char *addr,
    struct evkeyvalq *q)
{
	const char *tenant;
	char *err = NULL, *norm;
	PGconn *c;
	int rc;

	if (http_authorised(api, req) < 0 ||
	    (norm = http_tenant_address(api, req, q, addr, &tenant)) == NULL)
		return;
	g_free(norm);
	if ((c = http_db(api, &err)) == NULL ||
	    (rc = lookup_db_unsuppress(c, tenant, addr, "api", &err)) < 0) {
		http_db_error(api, req, err);
		return;
	}
	if (rc == 0) {
		http_error(req, 404, "%s is not suppressed for tenant %s", addr, tenant);
		return;
	}
	{
		char *e = log_escape(addr, strlen(addr), SUPPRESSION_MAX_ADDRESS);
		log_info("http event=unsuppressed tenant=%s address=\"%s\"", tenant, e);
		g_free(e);
	}
	{
		JsonBuilder *b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "deleted");
		json_builder_add_boolean_value(b, TRUE);
		json_builder_set_member_name(b, "tenant");
		json_builder_add_string_value(b, tenant);
		json_builder_set_member_name(b, "address");
		json_builder_add_string_value(b, addr);
		json_builder_end_object(b);
		http_json(req, 200, json_builder_get_root(b));
		g_object_unref(b);
	}
}

/* A string member or NULL; -1 if present but not a string. */
static int
http_member_string(JsonObject *o, const char *name, const char **out)
{
	JsonNode *n = json_object_get_member(o, name);

	*out = NULL;
	if (n == NULL || JSON_NODE_HOLDS_NULL(n))
		return 0;
	if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		return -1;
	*out = json_node_get_string(n);
	return 0;
}

/*
 * json-glib decodes \u0000 and then cuts the string there, so the NUL
 * cannot be seen in the member: look for the escape in the body.
 */
static int
http_body_has_nul(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (p[i] != '\\')
			continue;
		if (p[i + 1] == 'u' && i + 5 < len && memcmp(p + i + 2, "0000", 4) == 0)
			return 1;
		i++;		/* the escaped character */
	}
	return 0;
}

/* Bound every text member before it goes anywhere: UTF-8, no controls, length. */
static int
http_text_bad(struct evhttp_request *req, const char *name, const char *v, size_t max)
{
	const char *p;

	if (v == NULL)
		return 0;
	if (strlen(v) > max) {
		http_error(req, 400, "%s: longer than %zu octets", name, max);
		return 1;
	}
	if (!g_utf8_validate(v, -1, NULL)) {
		http_error(req, 400, "%s: not valid UTF-8", name);
		return 1;
	}
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			http_error(req, 400, "%s: control characters (such as a newline) are not allowed",
			    name);
			return 1;
		}
	return 0;
}

/* The request body as a JSON object of known members, or NULL after replying 400. */
static JsonObject *
http_suppression_body(struct evhttp_request *req, JsonParser *parser)
{
	static const char *members[] = { "address", "reason", "class", "tenant", "note", "expires_at", NULL };
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	GError *gerr = NULL;
	JsonObjectIter it;
	const char *mname;
	JsonNode *root, *mnode;
	JsonObject *o;
	int i;

	if (len == 0 || !json_parser_load_from_data(parser, (const char *)evbuffer_pullup(in, len), len, &gerr)) {
		http_error(req, 400, "body is not JSON: %s", gerr ? gerr->message : "empty body");
		if (gerr)
			g_error_free(gerr);
		return NULL;
	}
	if (http_body_has_nul(evbuffer_pullup(in, len), len)) {
		http_error(req, 400, "body: a \\u0000 in a string is not allowed");
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		http_error(req, 400, "body must be a JSON object");
		return NULL;
	}
	o = json_node_get_object(root);
	json_object_iter_init(&it, o);
	while (json_object_iter_next(&it, &mname, &mnode)) {
		for (i = 0; members[i] && strcmp(members[i], mname) != 0; i++)
			;
		if (members[i] == NULL) {
			http_error(req, 400, "unknown member \"%s\" (known: address, reason, class, tenant, note, expires_at)", mname);
			return NULL;
		}
	}
	return o;
}

/* Fills s from the body's members (pointers into o), checked as
 * store/suppression.h says; -1 after replying 400. */
static int
http_suppression_fields(struct http_api *api, struct evhttp_request *req, JsonObject *o,
    struct lookup_db_suppression *s)
{
	const char *tenant_name = NULL, *expires = NULL;
	char *key = NULL;

	if (http_member_string(o, "address", &s->address) < 0 || http_member_string(o, "reason", &s->reason) < 0 ||
	    http_member_string(o, "class", &s->cls) < 0 || http_member_string(o, "tenant", &tenant_name) < 0 ||
	    http_member_string(o, "note", &s->note) < 0 || http_member_string(o, "expires_at", &expires) < 0) {
		http_error(req, 400, "address, reason, class, tenant, note and expires_at must be strings");
		return -1;
	}
	if (s->address == NULL) {
		http_error(req, 400, "address is required");
		return -1;
	}
	if (http_text_bad(req, "address", s->address, SUPPRESSION_MAX_ADDRESS) ||
	    http_text_bad(req, "reason", s->reason, SUPPRESSION_MAX_REASON) ||
	    http_text_bad(req, "note", s->note, HTTP_MAX_NOTE) ||
	    http_text_bad(req, "class", s->cls, 32) || http_text_bad(req, "tenant", tenant_name, 256) ||
	    http_text_bad(req, "expires_at", expires, 64))
		return -1;
	if (suppression_address(s->address, NULL, &key) < 0) {
		http_error(req, 400, "not a valid address: %s", s->address);
		return -1;
	}
	g_free(key);
	if ((s->tenant = lookup_tenant(http_lookup_handle(api), tenant_name)) == NULL) {
		http_error(req, 400, "tenant: \"%s\" is not a configured tenant", tenant_name);
		return -1;
	}
	if (s->cls != NULL && !suppression_class_valid(s->cls)) {
		http_error(req, 400, "class must be hard, soft, complaint or manual");
		return -1;
	}
	if (expires != NULL && lookup_db_expires(expires, &s->expires) < 0) {
		http_error(req, 400, "expires_at must be a future ISO 8601 time or a duration like 30d");
		return -1;
	}
	s->origin = "manual";
	return 0;
}

static void
http_post_suppression(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	struct lookup_db_suppression s;
	JsonParser *parser;
	JsonObject *o;
	char *err = NULL;
	int64_t id = 0;
	PGresult *r;
	PGconn *c;
	int rc;

	(void)arg;
	(void)q;
	if (http_authorised(api, req) < 0)
		return;
	memset(&s, 0, sizeof(s));
	parser = json_parser_new();
	if ((o = http_suppression_body(req, parser)) == NULL || http_suppression_fields(api, req, o, &s) < 0)
		goto out;
	if ((c = http_db(api, &err)) == NULL) {
		http_db_error(api, req, err);
		goto out;
	}
	if ((rc = lookup_db_suppress(c, &s, "api", &id, &err)) < 0) {
		/* input was checked above, so this is the database */
		http_db_error(api, req, err);
		goto out;
	}
	{
		char *e = log_escape(s.address, strlen(s.address), SUPPRESSION_MAX_ADDRESS);
		log_info("http event=suppressed tenant=%s address=\"%s\" class=%s", s.tenant, e,
		    s.cls ? s.cls : "manual");
		g_free(e);
	}
	if ((r = lookup_db_get_suppression(c, s.tenant, s.address, &err)) == NULL) {
		http_db_error(api, req, err);
		goto out;
	}
	if (PQntuples(r) == 1)
		http_json(req, rc == 1 ? 201 : 200, http_row(r, 0));
	else
		http_error(req, 500, "the suppression was written but cannot be read back");
	PQclear(r);
out:
	g_object_unref(parser);
}

static void
http_list_suppressions(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	struct lookup_db_filter f;
	char *err = NULL, *bad = NULL;
	PGresult *r;
	PGconn *c;

	(void)arg;
	if (http_filter(req, q, &f, NULL) < 0)
		return;
	if (f.cls && !lookup_db_valid_list(f.cls, lookup_db_suppression_classes, &bad)) {
		http_error(req, 400, "class: \"%s\" is not hard, soft, complaint or manual", bad);
		g_free(bad);
		return;
	}
	if ((c = http_db(api, &err)) == NULL || (r = lookup_db_list_suppressions(c, &f, &err)) == NULL) {
		http_db_error(api, req, err);
		return;
	}
	http_json(req, 200, http_list(r, f.limit));
	PQclear(r);
}

const struct http_route http_suppress_routes[] = {
	{ "/v1/lookup/", 1, M_GET, "tenant", http_lookup },
	{ "/v1/suppressions", 0, M_GET, "tenant class reason domain since until cursor limit", http_list_suppressions },
	{ "/v1/suppressions", 0, M_POST, "", http_post_suppression },
	{ "/v1/suppressions/", 1, M_GET, "tenant", http_get_suppression },
	{ "/v1/suppressions/", 1, M_DELETE, "tenant", http_delete_suppression },
	{ NULL, 0, 0, NULL, NULL },
};
