/* store.c - messages, events and suppressions in one transaction; see store.h. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>

#include "common/address.h"
#include "common/log.h"
#include "store/dkim.h"
#include "store/policy.h"
#include "store/trust.h"

#define EPOCH_US	"('epoch'::timestamptz + $%d::bigint * interval '1 microsecond')"

const char *
store_kind_name(enum report_kind k)
{
	switch (k) {
	case REPORT_KIND_DSN: return "dsn";
	case REPORT_KIND_ARF: return "arf";
	case REPORT_KIND_AUTOREPLY: return "autoreply";
	case REPORT_KIND_BOUNCE: return "bounce";
	case REPORT_KIND_NONE: return "none";
	}
	return "none";
}

const char *
store_class_name(enum report_class c)
{
	switch (c) {
	case REPORT_CLASS_HARD: return "hard";
	case REPORT_CLASS_SOFT: return "soft";
	case REPORT_CLASS_BLOCK: return "block";
	case REPORT_CLASS_COMPLAINT: return "complaint";
	case REPORT_CLASS_AUTOREPLY: return "autoreply";
	case REPORT_CLASS_DELIVERED: return "delivered";
	case REPORT_CLASS_UNKNOWN: return "unknown";
	}
	return "unknown";
}

void
store_hash(const char *raw, size_t len, unsigned char out[32])
{
	const char *p = raw, *end = raw + len;
	unsigned int olen = 32;

	/* Skip the Received: field our receiver prepends (first line plus its
	 * folded continuations): it differs for each delivery of one report. */
	if (len >= 9 && g_ascii_strncasecmp(raw, "Received:", 9) == 0) {
		const char *q = raw;
		while (q < end) {
			const char *nl = memchr(q, '\n', end - q);
			if (nl == NULL) {
				q = end;
				break;
			}
			q = nl + 1;
			if (q >= end || (*q != ' ' && *q != '\t'))
				break;
		}
		p = q;
	}
	if (EVP_Digest(p, end - p, out, &olen, EVP_sha256(), NULL) != 1 || olen != 32)
		g_error("EVP_Digest(sha256) failed");	/* can't happen */
}

const char *
store_tenant(const struct config *cfg, const struct spool_envelope *env)
{
	const char *dom = NULL;

	if (env != NULL && env->rcpts != NULL && env->rcpts[0] != NULL)
		dom = address_domain(env->rcpts[0]);
	return dom ? config_tenant_for_domain(cfg, dom) : cfg->default_tenant;
}

/* A text[] literal of the envelope recipients, valid UTF-8. */
static char *
store_array_literal(char **v)
{
	GString *s = g_string_new("{");
	int i;

	for (i = 0; v != NULL && v[i] != NULL; i++) {
		char *t = pg_text(v[i]);
		const char *c;
		if (i)
			g_string_append_c(s, ',');
		g_string_append_c(s, '"');
		for (c = t; *c; c++) {
			if (*c == '"' || *c == '\\')
				g_string_append_c(s, '\\');
			g_string_append_c(s, *c);
		}
		g_string_append_c(s, '"');
		g_free(t);
	}
	g_string_append_c(s, '}');
	return g_string_free(s, FALSE);
}

/* Collects the text parameters of one statement and frees them together. */
struct params {
	const char *v[48];
	char *owned[48];
	int n;
};

static void
params_add(struct params *p, const char *s)	/* s sanitised into a copy */
{
	g_assert(p->n < (int)G_N_ELEMENTS(p->v));
	p->owned[p->n] = pg_text(s);
	p->v[p->n] = p->owned[p->n];
	p->n++;
}

static void
params_take(struct params *p, char *s)		/* s already clean; owned */
{
	g_assert(p->n < (int)G_N_ELEMENTS(p->v));
	p->owned[p->n] = s;
	p->v[p->n] = s;
	p->n++;
}

static void
params_clear(struct params *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		g_free(p->owned[i]);
	p->n = 0;
}

static char *
store_correlation_json(const struct config *cfg, const struct report *r, char **campaign)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	char *out;
	int i;

	*campaign = NULL;
	json_builder_begin_object(b);
	if (r != NULL && r->correlation != NULL) {
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, r->correlation);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			char *kk = pg_text(k), *vv = pg_text(v);
			json_builder_set_member_name(b, kk);
			json_builder_add_string_value(b, vv);
			g_free(kk);
			g_free(vv);
		}
		/* campaign: the first configured correlation header present */
		for (i = 0; cfg->parser_correlation_headers &&
		    cfg->parser_correlation_headers[i] && *campaign == NULL; i++) {
			GHashTableIter it2;
			g_hash_table_iter_init(&it2, r->correlation);
			while (g_hash_table_iter_next(&it2, &k, &v))
				if (g_ascii_strcasecmp(k, cfg->parser_correlation_headers[i]) == 0 &&
				    v != NULL && *(char *)v != '\0') {
					*campaign = pg_text(v);
					break;
				}
		}
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	out = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
	return out;
}

char *
store_address_key(const char *recipient)
{
	char *key = address_key(recipient);

	/* A mangled address would suppress nobody real: record it only. */
	if (key != NULL && !g_utf8_validate(key, -1, NULL)) {
		g_free(key);
		key = NULL;
	}
	return key;
}

static const char SQL_EVENT[] =
    "INSERT INTO events (message_id, tenant, occurred_at, recipient, address_key, domain, kind,"
    " class, reason, status, replycode, action, diagnostic, remote_mta, reporting_mta, mta,"
    " feedback_type, user_agent, source_ip, rule, orig_message_id, orig_subject, campaign,"
    " correlation, original_recipient, last_attempt, smtp_command, arrival_date,"
    " original_mail_from, reported_domain, auth_results, orig_from, orig_to, orig_list_id,"
    " orig_date, suppressible)"
    " VALUES ($1::bigint, $2, ('epoch'::timestamptz + $3::bigint * interval '1 microsecond'),"
    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,"
    " $23, $24::jsonb, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36::boolean)"
    " RETURNING id";

static const char SQL_EVENT_REPLACE[] =
    "UPDATE events SET (message_id, tenant, occurred_at, recipient, address_key, domain, kind,"
    " class, reason, status, replycode, action, diagnostic, remote_mta, reporting_mta, mta,"
    " feedback_type, user_agent, source_ip, rule, orig_message_id, orig_subject, campaign,"
    " correlation, original_recipient, last_attempt, smtp_command, arrival_date,"
    " original_mail_from, reported_domain, auth_results, orig_from, orig_to, orig_list_id,"
    " orig_date, suppressible)"
    " = ($1::bigint, $2, ('epoch'::timestamptz + $3::bigint * interval '1 microsecond'),"
    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,"
    " $23, $24::jsonb, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36::boolean)"
    " WHERE id = $37::bigint RETURNING id";

/* Soft failures of this address from distinct reports within the window
 * ending at this event, after the last delivery. */
static const char SQL_SOFT_COUNT[] =
    "SELECT count(DISTINCT message_id) FROM events"
    " WHERE tenant = $1 AND address_key = $2 AND class = 'soft' AND suppressible"
    " AND occurred_at <= ('epoch'::timestamptz + $3::bigint * interval '1 microsecond')"
    " AND occurred_at > ('epoch'::timestamptz + $3::bigint * interval '1 microsecond')"
    "     - $4::int * interval '1 day'"
    " AND occurred_at > coalesce((SELECT max(occurred_at) FROM events"
    "     WHERE tenant = $1 AND address_key = $2 AND class = 'delivered' AND suppressible"
    "     AND occurred_at <= ('epoch'::timestamptz + $3::bigint * interval '1 microsecond')),"
    "     '-infinity')";

/* Same rules as policy.c's policy_apply(); manual and imported entries keep
 * their class and origin. */
static const char SQL_SUPPRESS[] =
    "INSERT INTO suppressions AS s (tenant, address, address_key, domain, class, reason,"
    " first_seen, last_seen, event_count, expires_at, origin, event_id)"
    " VALUES ($1, $2, $3, $4, $5, $6,"
    " ('epoch'::timestamptz + $7::bigint * interval '1 microsecond'),"
    " ('epoch'::timestamptz + $7::bigint * interval '1 microsecond'), $8::int,"
    " ('epoch'::timestamptz + $7::bigint * interval '1 microsecond') + $9::int * interval '1 day',"
    " 'automatic', $10::bigint)"
    " ON CONFLICT (tenant, address_key) DO UPDATE SET"
    " last_seen = greatest(s.last_seen, EXCLUDED.last_seen),"
    " event_count = s.event_count + 1,"
    " class = CASE WHEN s.origin <> 'automatic' THEN s.class"
    "   WHEN EXCLUDED.expires_at IS NULL OR s.expires_at IS NOT NULL THEN EXCLUDED.class"
    "   ELSE s.class END,"
    " reason = CASE WHEN s.origin <> 'automatic' THEN s.reason"
    "   WHEN EXCLUDED.expires_at IS NULL OR s.expires_at < EXCLUDED.last_seen THEN EXCLUDED.reason"
    "   ELSE s.reason END,"
    " event_id = CASE WHEN EXCLUDED.expires_at IS NULL OR s.expires_at < EXCLUDED.last_seen"
    "   THEN EXCLUDED.event_id ELSE s.event_id END,"
    " expires_at = CASE WHEN s.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL"
    "   ELSE greatest(s.expires_at, EXCLUDED.expires_at) END";

static const char SQL_LIFT_SOFT[] =
    "DELETE FROM suppressions WHERE tenant = $1 AND address_key = $2 AND origin = 'automatic'"
    " AND class = 'soft' AND expires_at IS NOT NULL"
    " AND last_seen <= ('epoch'::timestamptz + $3::bigint * interval '1 microsecond')";

static int
store_policy(PGconn *conn, const struct config *cfg, const char *tenant, const char *address,
    const char *key, const char *domain, int64_t at_us, int64_t event_id,
    const struct report_record *rec, int *suppressions, enum pg_error_class *cls, char **err)
{
	enum policy_action act = policy_decide(cfg, rec->class_, rec->feedback_type);
	char at[32], days[32], count[32], evid[32];
	PGresult *res;
	int n = 1;

	snprintf(at, sizeof at, "%" G_GINT64_FORMAT, at_us);
	snprintf(evid, sizeof evid, "%" G_GINT64_FORMAT, event_id);
	switch (act) {
	case POLICY_NONE:
		return 0;
	case POLICY_RESET: {
		const char *p[] = { tenant, key, at };
		res = pg_exec(conn, SQL_LIFT_SOFT, 3, p, PGRES_COMMAND_OK, cls, err);
		if (res == NULL)
			return -1;
		*suppressions += atoi(PQcmdTuples(res));
		PQclear(res);
		return 0;
	}
	case POLICY_SOFT: {
		const char *p[] = { tenant, key, at, days };
		snprintf(days, sizeof days, "%" G_GINT64_FORMAT, cfg->policy_soft_window_days);
		res = pg_exec(conn, SQL_SOFT_COUNT, 4, p, PGRES_TUPLES_OK, cls, err);
		if (res == NULL)
			return -1;
		n = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (n < cfg->policy_soft_threshold)
			return 0;
		break;
	}
	case POLICY_SUPPRESS:
		break;
	}
	{
		char *reason = pg_text(rec->reason ? rec->reason : store_class_name(rec->class_));
		const char *p[10];
		snprintf(count, sizeof count, "%d", n);
		snprintf(days, sizeof days, "%" G_GINT64_FORMAT, cfg->policy_soft_expire_days);
		p[0] = tenant;
		p[1] = address;
		p[2] = key;
		p[3] = domain;
		p[4] = policy_class_name(rec->class_);
		p[5] = reason;
		p[6] = at;
		p[7] = count;
		p[8] = act == POLICY_SOFT ? days : NULL;
		p[9] = evid;
		res = pg_exec(conn, SQL_SUPPRESS, 10, p, PGRES_COMMAND_OK, cls, err);
		g_free(reason);
		if (res == NULL)
			return -1;
		*suppressions += atoi(PQcmdTuples(res));
		PQclear(res);
	}
	return 0;
}

int
store_event(PGconn *conn, const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t arrival_us, const struct report *r, const struct report_record *rec,
    int64_t replace_id, gboolean apply_policy, gboolean suppressible, int *suppressions,
    enum pg_error_class *cls, char **err)
{
	struct params p = { 0 };
	char *address, *key, *campaign = NULL;
	const char *dom;
	int64_t event_id;
	PGresult *res;
	int rc = -1;

	address = address_normalise(rec->recipient);
	key = store_address_key(rec->recipient);
	if (address == NULL || key == NULL) {
		/* kept as an event for the record; never a suppression */
		g_free(address);
		g_free(key);
		address = pg_text(rec->recipient ? rec->recipient : "");
		key = g_ascii_strdown(address, -1);
		apply_policy = FALSE;
	}
	dom = address_domain(key);
	params_take(&p, g_strdup_printf("%" G_GINT64_FORMAT, message_id));
	params_add(&p, tenant);
	params_take(&p, g_strdup_printf("%" G_GINT64_FORMAT, arrival_us));
	params_add(&p, address);
	params_add(&p, key);
	params_add(&p, dom ? dom : "");
	params_add(&p, store_kind_name(r->kind));
	params_add(&p, store_class_name(rec->class_));
	params_add(&p, rec->reason);
	params_add(&p, rec->status);
	params_add(&p, rec->replycode);
	params_add(&p, rec->action);
	params_add(&p, rec->diagnostic);
	params_add(&p, rec->remote_mta);
	params_add(&p, r->reporting_mta);
	params_add(&p, r->mta);
	params_add(&p, rec->feedback_type);
	params_add(&p, r->user_agent);
	params_add(&p, r->source_ip);
	params_add(&p, rec->rule);
	params_add(&p, r->orig_message_id);
	params_add(&p, r->orig_subject);
	{
		char *json = store_correlation_json(cfg, r, &campaign);
		params_take(&p, campaign);
		params_take(&p, json);
	}
	params_add(&p, rec->original_recipient);
	params_add(&p, rec->last_attempt);
	params_add(&p, rec->smtp_command);
	params_add(&p, r->arrival_date);
	params_add(&p, r->original_mail_from);
	params_add(&p, r->reported_domain);
	params_add(&p, r->auth_results);
	params_add(&p, r->orig_from);
	params_add(&p, r->orig_to);
	params_add(&p, r->orig_list_id);
	params_add(&p, r->orig_date);
	params_add(&p, suppressible ? "true" : "false");
	if (!suppressible)
		apply_policy = FALSE;
	if (replace_id > 0)
		params_take(&p, g_strdup_printf("%" G_GINT64_FORMAT, replace_id));
	res = pg_exec(conn, replace_id > 0 ? SQL_EVENT_REPLACE : SQL_EVENT, p.n, p.v,
	    PGRES_TUPLES_OK, cls, err);
	if (res == NULL)
		goto done;
	if (PQntuples(res) != 1) {
		*err = g_strdup_printf("event %" G_GINT64_FORMAT " not found", replace_id);
		if (cls)
			*cls = PG_PERMANENT;
		PQclear(res);
		goto done;
	}
	event_id = g_ascii_strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (apply_policy && store_policy(conn, cfg, tenant, address, key, dom ? dom : "",
	    arrival_us, event_id, rec, suppressions, cls, err) < 0)
		goto done;
	rc = 0;
done:
	params_clear(&p);
	g_free(address);
	g_free(key);
	return rc;
}

static const char SQL_MESSAGE[] =
    "INSERT INTO messages (queue_id, received_at, client_addr, helo, tls, mail_from, rcpts,"
    " size, sha256, tenant, kind, outcome, anomalies, mta, attempts, quarantined, raw,"
    " suppressible)"
    " VALUES ($1, ('epoch'::timestamptz + $2::bigint * interval '1 microsecond'), $3, $4, $5,"
    " $6, $7::text[], $8::bigint, $9::bytea, $10, $11, $12, $13::int, $14, $15::int,"
    " $16::boolean, $17::bytea, $18::boolean)"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id";

/*
 * What the envelope, the report's kind and (for a complaint) its DKIM
 * signature let m's records do.  Runs before the transaction opens: DKIM
 * may wait on DNS, and only complaints pay for it.
 */
static struct store_trust *
store_trust_of(const struct config *cfg, const struct store_msg *m)
{
	const struct report *r = m->report;
	struct store_trust_in in = { 0 };
	struct store_trust *t;
	char *domain = NULL, *detail = NULL;

	in.rcpts = m->env->rcpts;
	in.arrival_us = m->env->arrival_us;
	in.stored = -1;
	in.arf = r != NULL && r->kind == REPORT_KIND_ARF;
	in.original_mail_from = r ? r->original_mail_from : NULL;
	if (in.arf && cfg->fbl_require_dkim && m->raw != NULL) {
		in.dkim_pass = store_dkim_provider(cfg, m->raw, m->len, &domain, &detail);
		if (in.dkim_pass)
			log_info("q=%s event=dkim result=pass d=%s", m->env->queue_id ?
			    m->env->queue_id : "-", domain);
		else {
			char *e = log_escape(detail, strlen(detail), 200);
			log_info("q=%s event=dkim result=fail detail=\"%s\"", m->env->queue_id ?
			    m->env->queue_id : "-", e);
			g_free(e);
		}
		g_free(domain);
		g_free(detail);
	}
	t = store_trust_new(cfg, &in);
	return t;
}

/* Inside the open transaction: one message, its events and policy. */
static int
store_one(PGconn *conn, const struct config *cfg, const struct store_msg *m,
    struct store_trust *trust, struct store_result *res, enum pg_error_class *cls, char **err)
{
	const struct spool_envelope *env = m->env;
	const struct report *r = m->report;
	const char *tenant = store_tenant(cfg, env);
	unsigned char hash[32];
	struct params p = { 0 };
	int lengths[18] = { 0 }, formats[18] = { 0 };
	PGresult *pr;
	guint i;
	int rc = -1;

	memset(res, 0, sizeof *res);
	store_hash(m->raw, m->len, hash);
	params_add(&p, env->queue_id);
	params_take(&p, g_strdup_printf("%" G_GINT64_FORMAT, env->arrival_us));
	params_add(&p, env->client_addr);
	params_add(&p, env->helo);
	params_add(&p, env->tls);
	params_add(&p, env->mail_from);
	params_take(&p, store_array_literal(env->rcpts));
	params_take(&p, g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)m->len));
	params_take(&p, NULL);			/* $9 hash, binary */
	params_add(&p, tenant);
	params_add(&p, r ? store_kind_name(r->kind) : "none");
	params_add(&p, m->outcome ? m->outcome : (r && r->outcome ? r->outcome : "ok"));
	params_take(&p, g_strdup_printf("%u", r ? (unsigned)r->anomalies : 0u));
	params_add(&p, r ? r->mta : NULL);
	params_take(&p, g_strdup_printf("%d", env->attempts > 0 ? env->attempts : 1));
	params_add(&p, m->quarantined ? "true" : "false");
	params_take(&p, NULL);			/* $17 raw, binary */
	params_add(&p, store_trust_message(trust) ? "true" : "false");
	p.v[8] = (const char *)hash;
	lengths[8] = 32;
	formats[8] = 1;
	/* Raw bytes are kept for reprocess and quarantine --show, up to a size:
	 * a bounce carrying a whole original is mostly that original. */
	if ((uint64_t)m->len <= (uint64_t)cfg->store_raw_max_mb << 20) {
		p.v[16] = m->raw ? m->raw : "";
		lengths[16] = (int)m->len;
	} else
		p.v[16] = NULL;
	formats[16] = 1;
	pr = pg_exec_bin(conn, SQL_MESSAGE, p.n, p.v, lengths, formats, PGRES_TUPLES_OK, cls, err);
	if (pr == NULL)
		goto done;
	if (PQntuples(pr) == 0) {
		/* already stored: the same report again, or a retry after COMMIT */
		res->duplicate = TRUE;
		PQclear(pr);
		rc = 0;
		goto done;
	}
	res->message_id = g_ascii_strtoll(PQgetvalue(pr, 0, 0), NULL, 10);
	PQclear(pr);
	if (p.v[16] == NULL)
		log_info("q=%s event=raw-not-kept message_id=%" G_GINT64_FORMAT " size=%zu "
		    "raw_max_mb=%" G_GINT64_FORMAT, env->queue_id ? env->queue_id : "-",
		    res->message_id, m->len, cfg->store_raw_max_mb);
	if (!store_trust_message(trust))
		log_info("q=%s event=unsuppressible message_id=%" G_GINT64_FORMAT " signature=%s",
		    env->queue_id ? env->queue_id : "-", res->message_id, store_trust_reason(trust));
	for (i = 0; r != NULL && r->records != NULL && i < r->records->len; i++) {
		const struct report_record *rec = r->records->pdata[i];
		gboolean counts = policy_decide(cfg, rec->class_, rec->feedback_type) != POLICY_NONE;
		if (store_event(conn, cfg, res->message_id, tenant, env->arrival_us, r, rec, 0, TRUE,
		    store_trust_take(trust, rec->recipient, counts), &res->suppressions, cls,
		    err) < 0)
			goto done;
		res->events++;
	}
	if (store_trust_over(trust) > 0) {
		char *e = log_escape(store_trust_first_over(trust),
		    strlen(store_trust_first_over(trust)), 256);
		log_warnx("q=%s event=suppression-cap message_id=%" G_GINT64_FORMAT " cap=%"
		    G_GINT64_FORMAT " over=%d first_over=\"%s\"", env->queue_id ? env->queue_id :
		    "-", res->message_id, cfg->policy_max_suppressions_per_message,
		    store_trust_over(trust), e);
		g_free(e);
	}
	rc = 0;
done:
	params_clear(&p);
	return rc;
}

static void
store_rollback(PGconn *conn)
{
	PGresult *res = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);

	/* Failure here means the connection is gone; the caller reconnects. */
	PQclear(res);
}

int
store_batch(PGconn *conn, const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, size_t *failed, enum pg_error_class *cls, char **err)
{
	const char *actor[] = { "policy" };
	struct store_trust **trust = g_new0(struct store_trust *, n ? n : 1);
	PGresult *r;
	size_t i;
	int rc = -1;

	*failed = 0;
	for (i = 0; i < n; i++)
		trust[i] = store_trust_of(cfg, &msgs[i]);
	if (pg_command(conn, "BEGIN", 0, NULL, cls, err) < 0)
		goto out;
	r = pg_exec(conn, "SELECT set_config('rebound.actor', $1, true)", 1, actor,
	    PGRES_TUPLES_OK, cls, err);
	if (r == NULL)
		goto rollback;
	PQclear(r);
	for (i = 0; i < n; i++) {
		if (store_one(conn, cfg, &msgs[i], trust[i], &res[i], cls, err) < 0) {
			*failed = i;
			goto rollback;
		}
	}
	/* A COMMIT that fails to answer is ambiguous: report transient, keep
	 * the spool entries, and the dedupe makes the retry harmless. */
	if (pg_command(conn, "COMMIT", 0, NULL, cls, err) < 0) {
		*cls = PG_TRANSIENT;
		goto out;
	}
	rc = 0;
	goto out;
rollback:
	store_rollback(conn);
out:
	for (i = 0; i < n; i++)
		store_trust_free(trust[i]);
	g_free(trust);
	return rc;
}

int
store_message(PGconn *conn, const struct config *cfg, const struct store_msg *msg,
    struct store_result *res, enum pg_error_class *cls, char **err)
{
	size_t failed;

	return store_batch(conn, cfg, msg, 1, res, &failed, cls, err);
}
