/* lookup_db.c - shared statements of the lookup side; see lookup_db.h. */
#include "lookup/lookup_db.h"

#include <stdlib.h>
#include <string.h>

#include "common/address.h"
#include "common/log.h"
#include "store/suppression.h"

PGconn *
lookup_db_connect(const char *conninfo, char **err)
{
	/* conninfo may be "key=value" or a URI: let libpq expand it as dbname,
	 * then add our settings after it.  UTC keeps timestamps comparable
	 * and the statement timeout bounds an analyst query. */
	const char *keys[] = { "dbname", "connect_timeout", "options", "application_name", NULL };
	const char *vals[] = { conninfo, "5", "-c TimeZone=UTC -c statement_timeout=30000",
	    "rebound-lookup", NULL };
	PGconn *c;

	if (conninfo == NULL || *conninfo == '\0') {
		*err = g_strdup("store.conninfo is empty");
		return NULL;
	}
	c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		*err = g_strdup_printf("database connection failed: %s", g_strchomp(PQerrorMessage(c)));
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGresult *
lookup_db_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char **err)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (err != NULL) {
		char *m = g_strdup(PQresultErrorMessage(r));
		*err = g_strdup_printf("database error: %s", g_strchomp(m));
		g_free(m);
	}
	PQclear(r);
	return NULL;
}

int
lookup_db_duration(const char *s, int64_t *secs)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	char *end;
	long long n;
	size_t i;

	if (s == NULL || !g_ascii_isdigit(s[0]))
		return -1;
	n = strtoll(s, &end, 10);
	if (end[0] != '\0' && end[1] == '\0' && n >= 0 && n <= 100000)
		for (i = 0; i < G_N_ELEMENTS(units); i++)
			if (end[0] == units[i].unit) {
				*secs = n * units[i].secs;
				return 0;
			}
	return -1;
}

int
lookup_db_time(const char *s, int64_t *epoch)
{
	GDateTime *dt;
	GTimeZone *utc;

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return -1;
	utc = g_time_zone_new_utc();
	dt = g_date_time_new_from_iso8601(s, utc);
	if (dt == NULL && strlen(s) == 10) {
		/* a bare date means its midnight, UTC */
		char *full = g_strdup_printf("%sT00:00:00Z", s);
		dt = g_date_time_new_from_iso8601(full, utc);
		g_free(full);
	}
	g_time_zone_unref(utc);
	if (dt == NULL)
		return -1;
	*epoch = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return 0;
}

int
lookup_db_since(const char *s, int64_t *epoch)
{
	int64_t secs;

	if (s != NULL && lookup_db_duration(s, &secs) == 0) {
		*epoch = (int64_t)time(NULL) - secs;
		return 0;
	}
	return lookup_db_time(s, epoch);
}

int
lookup_db_expires(const char *s, int64_t *epoch)
{
	int64_t secs;

	if (lookup_db_duration(s, &secs) == 0) {
		*epoch = (int64_t)time(NULL) + secs;
		return 0;
	}
	if (lookup_db_time(s, epoch) < 0 || *epoch <= time(NULL))
		return -1;
	return 0;
}

char *
lookup_db_array(char *const *v, guint n)
{
	GString *out = g_string_new("{");
	const char *p;
	guint i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		g_string_append_c(out, '"');
		for (p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(out, '\\');
			g_string_append_c(out, *p);
		}
		g_string_append_c(out, '"');
	}
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

static void
lookup_db_rollback(PGconn *c)
{
	PGresult *r = lookup_db_exec(c, "ROLLBACK", 0, NULL, NULL);

	if (r != NULL)
		PQclear(r);
}

/* BEGIN + actor; -1 on error (connection left outside a transaction). */
static int
lookup_db_begin(PGconn *c, const char *actor, char **err)
{
	const char *p[1] = { actor };
	PGresult *r;

	if ((r = lookup_db_exec(c, "BEGIN", 0, NULL, err)) == NULL)
		return -1;
	PQclear(r);
	/* set_config(..., true) is SET LOCAL, but takes a parameter. */
	if ((r = lookup_db_exec(c, "SELECT set_config('rebound.actor', $1, true)", 1, p, err)) == NULL) {
		lookup_db_rollback(c);
		return -1;
	}
	PQclear(r);
	return 0;
}

static int
lookup_db_commit(PGconn *c, char **err)
{
	PGresult *r;

	if ((r = lookup_db_exec(c, "COMMIT", 0, NULL, err)) == NULL) {
		lookup_db_rollback(c);
		return -1;
	}
	PQclear(r);
	return 0;
}

int
lookup_db_suppress(PGconn *c, const struct lookup_db_suppression *s, const char *actor,
    int64_t *id, char **err)
{
	static const char sql[] =
	    "INSERT INTO suppressions (tenant, address, address_key, domain, class, reason,"
	    " expires_at, origin, note)"
	    " VALUES ($1, $2, $3, $4, $5, $6,"
	    " CASE WHEN $7::bigint = 0 THEN NULL ELSE to_timestamp($7::bigint) END, $8, $9)"
	    " ON CONFLICT (tenant, address_key) DO UPDATE SET"
	    " address = EXCLUDED.address, class = EXCLUDED.class, reason = EXCLUDED.reason,"
	    " expires_at = EXCLUDED.expires_at, origin = EXCLUDED.origin,"
	    " note = COALESCE(EXCLUDED.note, suppressions.note), last_seen = now(),"
	    " event_count = suppressions.event_count + 1"
	    " RETURNING id, (xmax = 0) AS inserted";
	const char *cls = s->cls ? s->cls : "manual";
	char expires[32], *addr = NULL, *key = NULL;
	const char *p[9];
	PGresult *r = NULL;
	int rc = -1;

	if (suppression_address(s->address, &addr, &key) < 0) {
		*err = g_strdup_printf("not a valid address: %s", s->address);
		goto out;
	}
	if (!suppression_class_valid(cls)) {
		*err = g_strdup_printf("class must be hard, soft, complaint or manual, not \"%s\"", cls);
		goto out;
	}
	if (s->reason != NULL && strlen(s->reason) > SUPPRESSION_MAX_REASON) {
		*err = g_strdup("reason is longer than " G_STRINGIFY(SUPPRESSION_MAX_REASON) " characters");
		goto out;
	}
	g_snprintf(expires, sizeof(expires), "%" G_GINT64_FORMAT, s->expires);
	p[0] = s->tenant;
	p[1] = addr;
	p[2] = key;
	p[3] = address_domain(addr);
	p[4] = cls;
	p[5] = s->reason && *s->reason ? s->reason : "manual";
	p[6] = expires;
	p[7] = s->origin ? s->origin : "manual";
	p[8] = s->note;
	if (lookup_db_begin(c, actor, err) < 0)
		goto out;
	if ((r = lookup_db_exec(c, sql, 9, p, err)) == NULL) {
		lookup_db_rollback(c);
		goto out;
	}
	if (lookup_db_commit(c, err) < 0)
		goto out;
	if (id != NULL)
		*id = g_ascii_strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	rc = strcmp(PQgetvalue(r, 0, 1), "t") == 0 ? 1 : 0;
out:
	if (r != NULL)
		PQclear(r);
	g_free(addr);
	g_free(key);
	return rc;
}

int
lookup_db_unsuppress(PGconn *c, const char *tenant, const char *address, const char *actor,
    char **err)
{
	char *key = address_key(address);
	const char *p[2];
	PGresult *r;
	int rc = -1;

	if (key == NULL) {
		*err = g_strdup_printf("not a valid address: %s", address);
		return -1;
	}
	p[0] = tenant;
	p[1] = key;
	if (lookup_db_begin(c, actor, err) < 0)
		goto out;
	r = lookup_db_exec(c, "DELETE FROM suppressions WHERE tenant = $1 AND address_key = $2", 2, p, err);
	if (r == NULL) {
		lookup_db_rollback(c);
		goto out;
	}
	rc = atoi(PQcmdTuples(r)) > 0 ? 1 : 0;
	PQclear(r);
	if (lookup_db_commit(c, err) < 0)
		rc = -1;
out:
	g_free(key);
	return rc;
}

#define ISO(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char lookup_db_supp_cols[] =
    "id, tenant, address, address_key, domain, class, reason, "
    ISO("first_seen") " AS first_seen, " ISO("last_seen") " AS last_seen, event_count, "
    ISO("expires_at") " AS expires_at, origin, event_id, note";

/* Every column of events (address_key aside, which is recipient folded). */
#define EVENT_COLS(p) \
    p "id, " p "message_id, " p "tenant, " ISO(p "occurred_at") " AS occurred_at, " p "recipient," \
    " " p "domain, " p "kind, " p "class, " p "reason, " p "status, " p "replycode, " p "action," \
    " " p "diagnostic, " p "remote_mta, " p "reporting_mta, " p "provider, " p "mta," \
    " " p "feedback_type, " p "user_agent, " p "source_ip, " p "rule, " p "orig_message_id," \
    " " p "orig_subject, " p "campaign, " p "correlation, " p "original_recipient," \
    " " p "last_attempt, " p "smtp_command, " p "arrival_date, " p "original_mail_from," \
    " " p "reported_domain, " p "auth_results, " p "orig_from, " p "orig_to, " p "orig_list_id," \
    " " p "orig_date, " p "suppressible"

static const char lookup_db_event_cols[] = EVENT_COLS("");

const char *const lookup_db_stats_dimensions[] = { "day", "class", "reason", "domain", "provider",
    "campaign", NULL };
const char *const lookup_db_event_classes[] = { "hard", "soft", "block", "complaint", "autoreply",
    "delivered", "unknown", NULL };
const char *const lookup_db_suppression_classes[] = { "hard", "soft", "complaint", "manual", NULL };

int
lookup_db_valid_list(const char *s, const char *const *names, char **bad)
{
	char **v = g_strsplit(s, ",", -1);
	int i, ok = 1;

	for (i = 0; v[i] != NULL && ok; i++) {
		char *item = g_strstrip(v[i]);
		if (!g_strv_contains(names, item)) {
			*bad = g_strdup(item);
			ok = 0;
		}
	}
	if (ok && i == 0) {
		*bad = g_strdup("");
		ok = 0;
	}
	g_strfreev(v);
	return ok;
}

int
lookup_db_suppressible_arg(const char *v, const char **out)
{
	*out = NULL;
	if (v == NULL || strcmp(v, "any") == 0)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		*out = strcmp(v, "true") == 0 ? "true" : "false";
		return 0;
	}
	return -1;
}

PGresult *
lookup_db_get_suppression(PGconn *c, const char *tenant, const char *address, char **err)
{
	char *key = address_key(address), *sql;
	const char *p[2] = { tenant, key };
	PGresult *r;

	if (key == NULL) {
		*err = g_strdup_printf("not a valid address: %s", address);
		return NULL;
	}
	sql = g_strdup_printf("SELECT %s FROM suppressions WHERE tenant = $1 AND address_key = $2",
	    lookup_db_supp_cols);
	r = lookup_db_exec(c, sql, 2, p, err);
	g_free(sql);
	g_free(key);
	return r;
}

/* WHERE-clause builder: conditions with $N placeholders and their values. */
struct lookup_db_where {
	GString *sql;
	GPtrArray *params;	/* owned strings */
};

static void
lookup_db_where_add(struct lookup_db_where *w, const char *fmt, const char *value)
{
	char *cond;

	g_ptr_array_add(w->params, g_strdup(value));
	cond = g_strdup_printf(fmt, w->params->len, w->params->len, w->params->len, w->params->len);
	g_string_append(w->sql, w->sql->len ? " AND " : " WHERE ");
	g_string_append(w->sql, cond);
	g_free(cond);
}

/* col = any item of the ','-separated list (lowered when fold). */
static void
lookup_db_where_list(struct lookup_db_where *w, const char *col, const char *list, int fold)
{
	char *l = fold ? g_ascii_strdown(list, -1) : g_strdup(list);
	char **v = g_strsplit(l, ",", -1);
	GPtrArray *items = g_ptr_array_new();
	char *arr, *fmt;
	int i;

	for (i = 0; v[i] != NULL; i++)
		if (*g_strstrip(v[i]) != '\0')
			g_ptr_array_add(items, v[i]);
	if (items->len == 1) {
		fmt = g_strdup_printf("%s = $%%u", col);
		lookup_db_where_add(w, fmt, items->pdata[0]);
	} else {
		arr = lookup_db_array((char *const *)items->pdata, items->len);
		fmt = g_strdup_printf("%s = ANY($%%u::text[])", col);
		lookup_db_where_add(w, fmt, arr);
		g_free(arr);
	}
	g_free(fmt);
	g_ptr_array_free(items, TRUE);
	g_strfreev(v);
	g_free(l);
}

static void
lookup_db_where_common(struct lookup_db_where *w, const struct lookup_db_filter *f,
    const char *time_col)
{
	char num[32], *cond;

	if (f->tenant)
		lookup_db_where_list(w, "tenant", f->tenant, 0);
	if (f->cls)
		lookup_db_where_list(w, "class", f->cls, 0);
	if (f->reason)
		lookup_db_where_list(w, "reason", f->reason, 0);
	if (f->domain)
		lookup_db_where_list(w, "domain", f->domain, 1);
	if (f->campaign)
		lookup_db_where_list(w, "campaign", f->campaign, 0);
	if (f->since) {
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, f->since);
		cond = g_strdup_printf("%s >= to_timestamp($%%u::bigint)", time_col);
		lookup_db_where_add(w, cond, num);
		g_free(cond);
	}
	if (f->until) {
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, f->until);
		cond = g_strdup_printf("%s < to_timestamp($%%u::bigint)", time_col);
		lookup_db_where_add(w, cond, num);
		g_free(cond);
	}
}

/* The filters only events have. */
static void
lookup_db_where_events(struct lookup_db_where *w, const struct lookup_db_filter *f)
{
	if (f->recipient) {
		char *key = address_key(f->recipient);
		lookup_db_where_add(w, "address_key = $%u", key ? key : f->recipient);
		g_free(key);
	}
	if (f->suppressible)
		lookup_db_where_add(w, "suppressible = $%u::boolean", f->suppressible);
	if (f->feedback_type)
		lookup_db_where_list(w, "feedback_type", f->feedback_type, 0);
	if (f->provider) {
		char *l = g_ascii_strdown(f->provider, -1);
		char **v = g_strsplit(l, ",", -1);
		char *arr;
		int i;
		for (i = 0; v[i] != NULL; i++)
			g_strstrip(v[i]);
		arr = lookup_db_array(v, g_strv_length(v));
		/* the provider (or reporting MTA) itself or a host under it */
		lookup_db_where_add(w, "EXISTS (SELECT 1 FROM unnest($%u::text[]) AS p(d)"
		    " WHERE lower(provider) = p.d OR right(lower(provider), length(p.d) + 1) = '.' || p.d"
		    " OR lower(reporting_mta) = p.d"
		    " OR right(lower(reporting_mta), length(p.d) + 1) = '.' || p.d)", arr);
		g_free(arr);
		g_strfreev(v);
		g_free(l);
	}
}

static PGresult *
lookup_db_where_run(PGconn *c, struct lookup_db_where *w, const char *head, const char *tail,
    char **err)
{
	char *sql = g_strdup_printf("%s%s%s", head, w->sql->str, tail);
	PGresult *r = lookup_db_exec(c, sql, w->params->len,
	    (const char *const *)w->params->pdata, err);

	g_free(sql);
	g_string_free(w->sql, TRUE);
	g_ptr_array_free(w->params, TRUE);
	return r;
}

/* A list: "SELECT cols FROM table", w's conditions, in order, at most limit
 * rows when limit > 0. */
static PGresult *
lookup_db_list_run(PGconn *c, struct lookup_db_where *w, const char *cols, const char *table,
    const char *order, int limit, char **err)
{
	char *head = g_strdup_printf("SELECT %s FROM %s", cols, table);
	char *tail = limit > 0 ? g_strdup_printf(" ORDER BY %s LIMIT %d", order, limit) :
	    g_strdup_printf(" ORDER BY %s", order);
	PGresult *r = lookup_db_where_run(c, w, head, tail, err);

	g_free(head);
	g_free(tail);
	return r;
}

PGresult *
lookup_db_list_suppressions(PGconn *c, const struct lookup_db_filter *f, char **err)
{
	struct lookup_db_where w = { g_string_new(NULL), g_ptr_array_new_with_free_func(g_free) };
	char num[32];

	lookup_db_where_common(&w, f, "last_seen");
	if (f->cursor) {
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, f->cursor);
		lookup_db_where_add(&w, "id > $%u::bigint", num);
	}
	return lookup_db_list_run(c, &w, lookup_db_supp_cols, "suppressions", "id", f->limit, err);
}

PGresult *
lookup_db_list_events(PGconn *c, const struct lookup_db_filter *f, int complaints_only,
    char **err)
{
	struct lookup_db_where w = { g_string_new(NULL), g_ptr_array_new_with_free_func(g_free) };
	char num[32];

	lookup_db_where_common(&w, f, "occurred_at");
	lookup_db_where_events(&w, f);
	if (complaints_only)
		lookup_db_where_add(&w, "class = $%u", "complaint");
	if (f->cursor) {
		/* keyset: the page after the cursor's event in (occurred_at, id) order */
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, f->cursor);
		lookup_db_where_add(&w, "(occurred_at, id) < (SELECT c.occurred_at, c.id FROM events c"
		    " WHERE c.id = $%u::bigint)", num);
	}
	return lookup_db_list_run(c, &w, lookup_db_event_cols, "events",
	    "events.occurred_at DESC, events.id DESC", f->limit, err);
}

PGresult *
lookup_db_get_event(PGconn *c, int64_t id, char **err)
{
	static const char sql[] =
	    "SELECT " EVENT_COLS("e.") ", m.queue_id, " ISO("m.received_at") " AS received_at,"
	    " m.client_addr, m.helo, m.tls, m.mail_from, m.rcpts, m.size, m.kind AS message_kind,"
	    " m.outcome, m.mta AS message_mta, m.quarantined, (m.raw IS NOT NULL) AS has_raw"
	    " FROM events e JOIN messages m ON m.id = e.message_id WHERE e.id = $1::bigint";
	char num[32];
	const char *p[1] = { num };

	g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, id);
	return lookup_db_exec(c, sql, 1, p, err);
}

PGresult *
lookup_db_event_raw(PGconn *c, int64_t id, char **err)
{
	char num[32];
	const char *p[1] = { num };
	PGresult *r;

	g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, id);
	r = PQexecParams(c, "SELECT m.raw FROM events e JOIN messages m ON m.id = e.message_id"
	    " WHERE e.id = $1::bigint", 1, NULL, p, NULL, NULL, 1);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	*err = g_strdup_printf("database error: %s", PQresultErrorMessage(r));
	g_strchomp(*err);
	PQclear(r);
	return NULL;
}

PGresult *
lookup_db_address_events(PGconn *c, const char *tenant, const char *address, int limit,
    char **err)
{
	char *key = address_key(address), *sql, num[32];
	const char *p[3] = { tenant, key, num };
	PGresult *r;

	if (key == NULL) {
		*err = g_strdup_printf("not a valid address: %s", address);
		return NULL;
	}
	g_snprintf(num, sizeof(num), "%d", limit);
	sql = g_strdup_printf("SELECT %s FROM events WHERE tenant = $1 AND address_key = $2"
	    " ORDER BY occurred_at DESC, id DESC LIMIT $3::int", lookup_db_event_cols);
	r = lookup_db_exec(c, sql, 3, p, err);
	g_free(sql);
	g_free(key);
	return r;
}

PGresult *
lookup_db_address_audit(PGconn *c, const char *tenant, const char *address, char **err)
{
	char *key = address_key(address);
	const char *p[2] = { tenant, key };
	PGresult *r;

	if (key == NULL) {
		*err = g_strdup_printf("not a valid address: %s", address);
		return NULL;
	}
	r = lookup_db_exec(c, "SELECT id, " ISO("at") " AS at, op, origin, actor, old, new"
	    " FROM suppression_audit WHERE tenant = $1 AND address_key = $2"
	    " ORDER BY at DESC, id DESC LIMIT 1000", 2, p, err);
	g_free(key);
	return r;
}

int
lookup_db_address_history(PGconn *c, const char *tenant, const char *address, int limit,
    struct lookup_db_history *h, char **err)
{
	memset(h, 0, sizeof(*h));
	if ((h->suppression = lookup_db_get_suppression(c, tenant, address, err)) == NULL ||
	    (h->events = lookup_db_address_events(c, tenant, address, limit, err)) == NULL ||
	    (h->audit = lookup_db_address_audit(c, tenant, address, err)) == NULL) {
		lookup_db_history_clear(h);
		return -1;
	}
	return 0;
}

void
lookup_db_history_clear(struct lookup_db_history *h)
{
	PQclear(h->suppression);
	PQclear(h->events);
	PQclear(h->audit);
	memset(h, 0, sizeof(*h));
}

/* What each of lookup_db_stats_dimensions[] groups by, in its order. */
static const char *const lookup_db_dimension_sql[] = {
	"to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "class", "COALESCE(reason, '')",
	"domain", "provider", "campaign",
};
G_STATIC_ASSERT(G_N_ELEMENTS(lookup_db_dimension_sql) + 1 ==
    G_N_ELEMENTS(lookup_db_stats_dimensions));

/* The SQL expression a stats dimension groups by, or NULL. */
static const char *
lookup_db_dimension(const char *by)
{
	size_t i;

	for (i = 0; lookup_db_stats_dimensions[i] != NULL; i++)
		if (strcmp(by, lookup_db_stats_dimensions[i]) == 0)
			return lookup_db_dimension_sql[i];
	return NULL;
}

static PGresult *
lookup_db_grouped(PGconn *c, const char *select, const char *by, const struct lookup_db_filter *f,
    const char *tail, char **err)
{
	struct lookup_db_where w = { g_string_new(NULL), g_ptr_array_new_with_free_func(g_free) };
	char *head = g_strdup_printf("SELECT %s FROM events", select);
	PGresult *r;

	lookup_db_where_common(&w, f, "occurred_at");
	lookup_db_where_events(&w, f);
	/* rows without the dimension are not a group of their own */
	if (by != NULL && strcmp(by, "campaign") == 0)
		g_string_append(w.sql, w.sql->len ? " AND campaign IS NOT NULL" : " WHERE campaign IS NOT NULL");
	if (by != NULL && strcmp(by, "provider") == 0)
		g_string_append(w.sql, w.sql->len ? " AND provider IS NOT NULL" : " WHERE provider IS NOT NULL");
	r = lookup_db_where_run(c, &w, head, tail, err);
	g_free(head);
	return r;
}

PGresult *
lookup_db_stats(PGconn *c, const char *by, const struct lookup_db_filter *f, char **err)
{
	const char *expr = lookup_db_dimension(by);
	char *select, *tail;
	PGresult *r;

	if (expr == NULL) {
		*err = g_strdup_printf("cannot group by \"%s\"", by);
		return NULL;
	}
	select = g_strdup_printf("%s AS key, count(*) AS count", expr);
	tail = g_strdup_printf(" GROUP BY 1 ORDER BY %s LIMIT 1000",
	    strcmp(by, "day") == 0 ? "1" : "2 DESC, 1");
	r = lookup_db_grouped(c, select, by, f, tail, err);
	g_free(select);
	g_free(tail);
	return r;
}

PGresult *
lookup_db_series(PGconn *c, const char *interval, const char *by,
    const struct lookup_db_filter *f, char **err)
{
	const char *expr = by ? lookup_db_dimension(by) : "''";
	char *select;
	PGresult *r;

	if (expr == NULL || (strcmp(interval, "hour") != 0 && strcmp(interval, "day") != 0)) {
		*err = g_strdup_printf("cannot count by \"%s\" per \"%s\"", by ? by : "", interval);
		return NULL;
	}
	/* interval is one of two literals checked above, never input text */
	select = g_strdup_printf(ISO("date_trunc('%s', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
	    " AS t, %s AS key, count(*) AS count", interval, expr);
	r = lookup_db_grouped(c, select, by, f, " GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 10000", err);
	g_free(select);
	return r;
}

PGresult *
lookup_db_suppression_counts(PGconn *c, const char *tenant, char **err)
{
	const char *p[1] = { tenant };

	return lookup_db_exec(c, "SELECT class, count(*) FROM suppressions"
	    " WHERE ($1::text IS NULL OR tenant = $1)"
	    " AND (expires_at IS NULL OR expires_at > now()) GROUP BY 1 ORDER BY 1", 1, p, err);
}

PGresult *
lookup_db_webhooks(PGconn *c, const char *state, int64_t cursor, int limit, char **err)
{
	char cur[32], lim[16];
	const char *p[3] = { state, cur, lim };

	g_snprintf(cur, sizeof(cur), "%" G_GINT64_FORMAT, cursor);
	g_snprintf(lim, sizeof(lim), "%d", limit);
	return lookup_db_exec(c, "SELECT o.id, o.event_id, o.tenant, o.url, o.state, "
	    ISO("o.created_at") " AS created_at, " ISO("o.next_at") " AS next_at, o.attempts,"
	    " o.last_status, o.last_error, " ISO("o.delivered_at") " AS delivered_at,"
	    " e.recipient, e.class"
	    " FROM webhook_outbox o JOIN events e ON e.id = o.event_id"
	    " WHERE ($1::text IS NULL OR o.state = $1) AND ($2::bigint = 0 OR o.id < $2::bigint)"
	    " ORDER BY o.id DESC LIMIT $3::int", 3, p, err);
}

PGresult *
lookup_db_webhook_counts(PGconn *c, char **err)
{
	return lookup_db_exec(c, "SELECT state, count(*) FROM webhook_outbox GROUP BY 1 ORDER BY 1",
	    0, NULL, err);
}

int
lookup_db_webhook_retry(PGconn *c, int64_t id, char **err)
{
	char num[32];
	const char *p[1] = { num };
	PGresult *r;
	int n;

	g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, id);
	/* created_at restarts too, or a dead row would die again at once */
	r = lookup_db_exec(c, "UPDATE webhook_outbox SET state = 'pending', next_at = now(),"
	    " created_at = now() WHERE id = $1::bigint AND state <> 'delivered'", 1, p, err);
	if (r == NULL)
		return -1;
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	return n > 0 ? 1 : 0;
}
