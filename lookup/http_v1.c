/*
 * http_v1.c - the analyst side of the HTTP API: events (newest first, every
 * stored field), one event and its raw message, one address with its
 * state, events and audit trail, complaints, and counts.
 *
 *   GET /v1/events?recipient=&tenant=&class=&reason=&domain=&campaign=
 *                  &feedback_type=&provider=&since=&until=&cursor=&limit=
 *   GET /v1/events/{id}         the event with its message's envelope
 *   GET /v1/events/{id}/raw     the message as received (bearer token)
 *   GET /v1/addresses/{address}?tenant=   state + events + audit
 *   GET /v1/complaints?...      the same filters, class complaint
 *   GET /v1/stats?by=&class=&since=&until=&interval=hour|day&...
 *   GET /v1/webhooks?state=pending|delivered|dead   the outbox, and counts
 *   POST /v1/webhooks/{id}/retry  a dead delivery due again (bearer token)
 *
 * Filters other than recipient take lists ("class=hard,soft").
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <event2/buffer.h>

#include "common/address.h"
#include "lookup/http_int.h"
#include "lookup/lookup.h"

#define HTTP_ADDRESS_EVENTS 1000

/* Class lists are checked: an unknown class must not silently match nothing. */
static int
http_v1_check_classes(struct http_api *api, struct evhttp_request *req,
    const struct lookup_db_filter *f)
{
	char *bad = NULL;

	if (f->cls != NULL && !lookup_db_valid_list(f->cls, lookup_db_event_classes, &bad)) {
		http_error(req, 400, "class: \"%s\" is not one of hard, soft, block, complaint,"
		    " autoreply, delivered, unknown", bad);
		g_free(bad);
		return -1;
	}
	if (f->tenant != NULL) {
		char **v = g_strsplit(f->tenant, ",", -1);
		int i, ok = 1;
		for (i = 0; v[i] && ok; i++)
			if (lookup_tenant(http_lookup_handle(api), g_strstrip(v[i])) == NULL) {
				http_error(req, 400, "tenant: \"%s\" is not a configured tenant", v[i]);
				ok = 0;
			}
		g_strfreev(v);
		if (!ok)
			return -1;
	}
	return 0;
}

static void
http_v1_events_common(struct http_api *api, struct evhttp_request *req, struct evkeyvalq *q,
    int complaints)
{
	struct lookup_db_filter f;
	char *err = NULL;
	PGresult *r;
	PGconn *c;

	if (http_filter(req, q, &f, NULL) < 0 || http_v1_check_classes(api, req, &f) < 0)
		return;
	if (f.recipient != NULL && address_domain(f.recipient) == NULL) {
		http_error(req, 400, "recipient: not an address: %s", f.recipient);
		return;
	}
	if ((c = http_db(api, &err)) == NULL || (r = lookup_db_list_events(c, &f, complaints, &err)) == NULL) {
		http_db_error(api, req, err);
		return;
	}
	http_json(req, 200, http_list(r, f.limit));
	PQclear(r);
}

static void
http_v1_events(struct http_api *api, struct evhttp_request *req, const char *arg, struct evkeyvalq *q)
{
	(void)arg;
	http_v1_events_common(api, req, q, 0);
}

static void
http_v1_complaints(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	(void)arg;
	http_v1_events_common(api, req, q, 1);
}

/* "ID" or "ID/raw": the id, *raw set for the second; -1 if neither. */
static int64_t
http_v1_event_id(const char *arg, int *raw)
{
	char *end;
	long long id;

	if (!g_ascii_isdigit(arg[0]))
		return -1;
	id = strtoll(arg, &end, 10);
	*raw = strcmp(end, "/raw") == 0;
	if ((*end != '\0' && !*raw) || id <= 0)
		return -1;
	return id;
}

static void
http_v1_event(struct http_api *api, struct evhttp_request *req, const char *arg, struct evkeyvalq *q)
{
	char *err = NULL;
	PGresult *r;
	PGconn *c;
	int raw;
	int64_t id = http_v1_event_id(arg, &raw);

	(void)q;
	if (id < 0) {
		http_error(req, 404, "no such endpoint: /v1/events/%s (an event id, or ID/raw)", arg);
		return;
	}
	if (raw && http_authorised(api, req) < 0)
		return;
	if ((c = http_db(api, &err)) == NULL) {
		http_db_error(api, req, err);
		return;
	}
	r = raw ? lookup_db_event_raw(c, id, &err) : lookup_db_get_event(c, id, &err);
	if (r == NULL) {
		http_db_error(api, req, err);
		return;
	}
	if (PQntuples(r) == 0)
		http_error(req, 404, "no event %" G_GINT64_FORMAT, id);
	else if (!raw)
		http_json(req, 200, http_row(r, 0));
	else if (PQgetisnull(r, 0, 0))
		http_error(req, 404, "the raw message of event %" G_GINT64_FORMAT " is past retention", id);
	else
		http_send(req, 200, "message/rfc822", PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
}

static JsonArray *
http_v1_rows(PGresult *r)
{
	JsonArray *a = json_array_new();
	int i;

	for (i = 0; i < PQntuples(r); i++)
		json_array_add_element(a, http_row(r, i));
	return a;
}

static void
http_v1_address(struct http_api *api, struct evhttp_request *req, const char *addr,
    struct evkeyvalq *q)
{
	const char *tenant;
	struct lookup_db_history h = { 0 };
	char *err = NULL, *norm;
	JsonObject *o;
	JsonNode *root;
	PGconn *c;

	if ((norm = http_tenant_address(api, req, q, addr, &tenant)) == NULL)
		return;
	if ((c = http_db(api, &err)) == NULL ||
	    lookup_db_address_history(c, tenant, norm, HTTP_ADDRESS_EVENTS, &h, &err) < 0) {
		http_db_error(api, req, err);
		goto out;
	}
	o = json_object_new();
	json_object_set_string_member(o, "address", norm);
	json_object_set_string_member(o, "tenant", tenant);
	json_object_set_boolean_member(o, "suppressed", PQntuples(h.suppression) > 0);
	if (PQntuples(h.suppression) > 0)
		json_object_set_member(o, "suppression", http_row(h.suppression, 0));
	else
		json_object_set_null_member(o, "suppression");
	json_object_set_array_member(o, "events", http_v1_rows(h.events));
	json_object_set_boolean_member(o, "events_truncated",
	    PQntuples(h.events) == HTTP_ADDRESS_EVENTS);
	json_object_set_array_member(o, "audit", http_v1_rows(h.audit));
	root = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(root, o);
	http_json(req, 200, root);
out:
	lookup_db_history_clear(&h);
	g_free(norm);
}

static void
http_v1_set_time(JsonObject *o, const char *name, int64_t t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");

	json_object_set_string_member(o, name, iso);
	g_free(iso);
	g_date_time_unref(dt);
}

/* The counts into o: by each dimension (or only by), per interval if
 * asked, and the suppressions in force.  -1 and *err on a database error. */
static int
http_v1_stats_fill(PGconn *c, const struct lookup_db_filter *f, const char *by,
    const char *interval, JsonObject *o, char **err)
{
	JsonObject *so, *bc;
	gint64 total = 0;
	PGresult *r;
	int i, j;

	for (i = 0; lookup_db_stats_dimensions[i]; i++) {
		const char *dim = lookup_db_stats_dimensions[i];
		char *member;
		if (by != NULL && strcmp(by, dim) != 0)
			continue;
		if ((r = lookup_db_stats(c, dim, f, err)) == NULL)
			return -1;
		member = g_strdup_printf("by_%s", dim);
		json_object_set_array_member(o, member, http_v1_rows(r));
		g_free(member);
		PQclear(r);
	}
	if (interval != NULL) {
		if ((r = lookup_db_series(c, interval, by, f, err)) == NULL)
			return -1;
		json_object_set_string_member(o, "interval", interval);
		json_object_set_array_member(o, "series", http_v1_rows(r));
		PQclear(r);
	}
	if ((r = lookup_db_suppression_counts(c, f->tenant, err)) == NULL)
		return -1;
	so = json_object_new();
	bc = json_object_new();
	for (j = 0; j < PQntuples(r); j++) {
		gint64 n = g_ascii_strtoll(PQgetvalue(r, j, 1), NULL, 10);
		json_object_set_int_member(bc, PQgetvalue(r, j, 0), n);
		total += n;
	}
	json_object_set_int_member(so, "total", total);
	json_object_set_object_member(so, "by_class", bc);
	json_object_set_object_member(o, "suppressions", so);
	PQclear(r);
	return 0;
}

static void
http_v1_stats(struct http_api *api, struct evhttp_request *req, const char *arg, struct evkeyvalq *q)
{
	const char *by = http_param(q, "by"), *interval = http_param(q, "interval");
	struct lookup_db_filter f;
	JsonObject *o;
	JsonNode *root;
	char *err = NULL;
	PGconn *c;

	(void)arg;
	if (http_filter(req, q, &f, "30d") < 0 || http_v1_check_classes(api, req, &f) < 0)
		return;
	/* Counts are of what could suppress unless asked otherwise: the rest
	 * are reports nothing vouched for (lists show them, each row saying). */
	if (http_param(q, "suppressible") == NULL)
		f.suppressible = "true";
	if (by != NULL && !g_strv_contains((const char *const *)lookup_db_stats_dimensions, by)) {
		http_error(req, 400, "by: \"%s\" is not one of day, class, reason, domain, provider, campaign", by);
		return;
	}
	if (interval != NULL && strcmp(interval, "hour") != 0 && strcmp(interval, "day") != 0) {
		http_error(req, 400, "interval: \"%s\" is not hour or day", interval);
		return;
	}
	if (f.until != 0 && f.until <= f.since) {
		http_error(req, 400, "until must be later than since");
		return;
	}
	if ((c = http_db(api, &err)) == NULL) {
		http_db_error(api, req, err);
		return;
	}
	o = json_object_new();
	http_v1_set_time(o, "since", f.since);
	if (f.until)
		http_v1_set_time(o, "until", f.until);
	if (f.tenant)
		json_object_set_string_member(o, "tenant", f.tenant);
	if (f.cls)
		json_object_set_string_member(o, "class", f.cls);
	json_object_set_string_member(o, "suppressible", f.suppressible ? f.suppressible : "any");
	if (http_v1_stats_fill(c, &f, by, interval, o, &err) < 0) {
		json_object_unref(o);
		http_db_error(api, req, err);
		return;
	}
	root = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(root, o);
	http_json(req, 200, root);
}

static void
http_v1_webhooks(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	static const char *const states[] = { "pending", "delivered", "dead", NULL };
	struct lookup_db_filter f;
	const char *state = http_param(q, "state");
	PGresult *r, *cr;
	JsonNode *list;
	char *err = NULL;
	PGconn *c;
	int i;

	(void)arg;
	if (http_filter(req, q, &f, NULL) < 0)
		return;
	if (state != NULL && !g_strv_contains(states, state)) {
		http_error(req, 400, "state: \"%s\" is not pending, delivered or dead", state);
		return;
	}
	if ((c = http_db(api, &err)) == NULL ||
	    (r = lookup_db_webhooks(c, state, f.cursor, f.limit, &err)) == NULL) {
		http_db_error(api, req, err);
		return;
	}
	if ((cr = lookup_db_webhook_counts(c, &err)) == NULL) {
		PQclear(r);
		http_db_error(api, req, err);
		return;
	}
	list = http_list(r, f.limit);
	{
		JsonObject *counts = json_object_new();
		for (i = 0; states[i]; i++)
			json_object_set_int_member(counts, states[i], 0);
		for (i = 0; i < PQntuples(cr); i++)
			json_object_set_int_member(counts, PQgetvalue(cr, i, 0),
			    g_ascii_strtoll(PQgetvalue(cr, i, 1), NULL, 10));
		json_object_set_object_member(json_node_get_object(list), "counts", counts);
	}
	PQclear(r);
	PQclear(cr);
	http_json(req, 200, list);
}

static void
http_v1_webhook_retry(struct http_api *api, struct evhttp_request *req, const char *arg,
    struct evkeyvalq *q)
{
	char *err = NULL, *end;
	long long id;
	PGconn *c;
	int rc;

	(void)q;
	if (http_authorised(api, req) < 0)
		return;
	id = g_ascii_isdigit(arg[0]) ? strtoll(arg, &end, 10) : -1;
	if (id <= 0 || strcmp(end, "/retry") != 0) {
		http_error(req, 404, "no such endpoint: /v1/webhooks/%s (ID/retry)", arg);
		return;
	}
	if ((c = http_db(api, &err)) == NULL || (rc = lookup_db_webhook_retry(c, id, &err)) < 0) {
		http_db_error(api, req, err);
		return;
	}
	if (rc == 0) {
		http_error(req, 404, "no undelivered webhook delivery %lld", id);
		return;
	}
	{
		JsonObject *o = json_object_new();
		JsonNode *n = json_node_new(JSON_NODE_OBJECT);
		json_object_set_int_member(o, "id", id);
		json_object_set_string_member(o, "state", "pending");
		json_node_take_object(n, o);
		http_json(req, 200, n);
	}
}

#define EVENT_FILTERS "recipient tenant class reason domain campaign feedback_type provider suppressible" \
    " since until cursor limit"

const struct http_route http_v1_routes[] = {
	{ "/v1/events", 0, M_GET, EVENT_FILTERS, http_v1_events },
	{ "/v1/events/", 2, M_GET, "", http_v1_event },
	{ "/v1/complaints", 0, M_GET, EVENT_FILTERS, http_v1_complaints },
	{ "/v1/addresses/", 1, M_GET, "tenant", http_v1_address },
	{ "/v1/stats", 0, M_GET, "since until by interval tenant class reason domain campaign"
	    " feedback_type provider suppressible", http_v1_stats },
	{ "/v1/webhooks", 0, M_GET, "state cursor limit", http_v1_webhooks },
	{ "/v1/webhooks/", 2, M_POST, "", http_v1_webhook_retry },
	{ NULL, 0, 0, NULL, NULL },
};
