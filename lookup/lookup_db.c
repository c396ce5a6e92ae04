/* lookup_db.c - shared statements of the lookup side; see lookup_db.h. */
#include "lookup/lookup_db.h"

#include <stdlib.h>
#include <string.h>

#include "common/address.h"
#include "common/log.h"

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

int
lookup_db_valid_class(const char *s)
{
	return s != NULL && (strcmp(s, "hard") == 0 || strcmp(s, "soft") == 0 ||
	    strcmp(s, "complaint") == 0 || strcmp(s, "manual") == 0);
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
	char *addr = address_normalise(s->address), *key = address_key(s->address);
	const char *cls = s->cls ? s->cls : "manual";
	char expires[32];
	const char *p[9];
	PGresult *r = NULL;
	int rc = -1;

	if (addr == NULL || key == NULL) {
		*err = g_strdup_printf("not a valid address: %s", s->address);
		goto out;
	}
	if (!lookup_db_valid_class(cls)) {
		*err = g_strdup_printf("class must be hard, soft, complaint or manual, not \"%s\"", cls);
		goto out;
	}
	if (s->reason != NULL && strlen(s->reason) > 200) {
		*err = g_strdup("reason is longer than 200 characters");
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

static const char lookup_db_event_cols[] =
    "id, message_id, tenant, " ISO("occurred_at") " AS occurred_at, recipient, domain, kind,"
    " class, reason, status, replycode, action, diagnostic, remote_mta, reporting_mta, mta,"
    " feedback_type, user_agent, source_ip, rule, orig_message_id, orig_subject, campaign,"
    " correlation, suppressible";

const char *const lookup_db_stats_dimensions[] = { "day", "class", "reason", "domain", "campaign", NULL };

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
	cond = g_strdup_printf(fmt, w->params->len, w->params->len, w->params->len);
	g_string_append(w->sql, w->sql->len ? " AND " : " WHERE ");
	g_string_append(w->sql, cond);
	g_free(cond);
}

static void
lookup_db_where_common(struct lookup_db_where *w, const struct lookup_db_filter *f,
    const char *time_col)
{
	char num[32];

	if (f->tenant)
		lookup_db_where_add(w, "tenant = $%u", f->tenant);
	if (f->cls)
		lookup_db_where_add(w, "class = $%u", f->cls);
	if (f->reason)
		lookup_db_where_add(w, "reason = $%u", f->reason);
	if (f->domain) {
		char *d = g_ascii_strdown(f->domain, -1);
		lookup_db_where_add(w, "domain = $%u", d);
		g_free(d);
	}
	if (f->campaign)
		lookup_db_where_add(w, "campaign = $%u", f->campaign);
	if (f->since) {
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, f->since);
		if (strcmp(time_col, "last_seen") == 0)
			lookup_db_where_add(w, "last_seen >= to_timestamp($%u::bigint)", num);
		else
			lookup_db_where_add(w, "occurred_at >= to_timestamp($%u::bigint)", num);
	}
	if (f->cursor) {
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, f->cursor);
		lookup_db_where_add(w, "id > $%u::bigint", num);
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

static char *
lookup_db_tail(const char *order, int limit)
{
	return limit > 0 ? g_strdup_printf(" ORDER BY %s LIMIT %d", order, limit) :
	    g_strdup_printf(" ORDER BY %s", order);
}

PGresult *
lookup_db_list_suppressions(PGconn *c, const struct lookup_db_filter *f, char **err)
{
	struct lookup_db_where w = { g_string_new(NULL), g_ptr_array_new_with_free_func(g_free) };
	char *head = g_strdup_printf("SELECT %s FROM suppressions", lookup_db_supp_cols);
	char *tail = lookup_db_tail("id", f->limit);
	PGresult *r;

	lookup_db_where_common(&w, f, "last_seen");
	r = lookup_db_where_run(c, &w, head, tail, err);
	g_free(head);
	g_free(tail);
	return r;
}

PGresult *
lookup_db_list_events(PGconn *c, const struct lookup_db_filter *f, int complaints_only,
    char **err)
{
	struct lookup_db_where w = { g_string_new(NULL), g_ptr_array_new_with_free_func(g_free) };
	char *head = g_strdup_printf("SELECT %s FROM events", lookup_db_event_cols);
	char *tail = lookup_db_tail("id", f->limit);
	PGresult *r;

	lookup_db_where_common(&w, f, "occurred_at");
	if (f->suppressible)
		lookup_db_where_add(&w, "suppressible = $%u::boolean", f->suppressible);
	if (complaints_only)
		lookup_db_where_add(&w, "class = $%u", "complaint");
	if (f->recipient) {
		char *key = address_key(f->recipient);
		lookup_db_where_add(&w, "address_key = $%u", key ? key : f->recipient);
		g_free(key);
	}
	if (f->feedback_type)
		lookup_db_where_add(&w, "feedback_type = $%u", f->feedback_type);
	if (f->provider) {
		char *d = g_ascii_strdown(f->provider, -1);
		/* the reporting MTA itself or any host under the provider's domain */
		lookup_db_where_add(&w, "(lower(reporting_mta) = $%u OR"
		    " right(lower(reporting_mta), length($%u) + 1) = '.' || $%u)", d);
		g_free(d);
	}
	r = lookup_db_where_run(c, &w, head, tail, err);
	g_free(head);
	g_free(tail);
	return r;
}

PGresult *
lookup_db_stats(PGconn *c, const char *by, const struct lookup_db_filter *f, char **err)
{
	struct lookup_db_where w = { g_string_new(NULL), g_ptr_array_new_with_free_func(g_free) };
	const char *expr, *order = "2 DESC, 1";
	char *head;
	PGresult *r;

	if (strcmp(by, "day") == 0) {
		expr = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
		order = "1";
	} else if (strcmp(by, "class") == 0)
		expr = "class";
	else if (strcmp(by, "reason") == 0)
		expr = "COALESCE(reason, '')";
	else if (strcmp(by, "domain") == 0)
		expr = "domain";
	else if (strcmp(by, "campaign") == 0)
		expr = "campaign";
	else {
		*err = g_strdup_printf("cannot group by \"%s\" (day, class, reason, domain, campaign)", by);
		g_string_free(w.sql, TRUE);
		g_ptr_array_free(w.params, TRUE);
		return NULL;
	}
	lookup_db_where_common(&w, f, "occurred_at");
	if (f->suppressible)
		lookup_db_where_add(&w, "suppressible = $%u::boolean", f->suppressible);
	if (strcmp(by, "campaign") == 0)
		g_string_append(w.sql, w.sql->len ? " AND campaign IS NOT NULL" : " WHERE campaign IS NOT NULL");
	head = g_strdup_printf("SELECT %s AS key, count(*) AS count FROM events", expr);
	{
		char *tail = g_strdup_printf(" GROUP BY 1 ORDER BY %s LIMIT 1000", order);
		r = lookup_db_where_run(c, &w, head, tail, err);
		g_free(tail);
	}
	g_free(head);
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
