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
#include "store/occurred.h"
#include "store/policy.h"
#include "store/provider.h"
#include "store/trust.h"
#include "store/webhook_outbox.h"

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
    " orig_date, suppressible, provider)"
    " VALUES ($1::bigint, $2, ('epoch'::timestamptz + $3::bigint * interval '1 microsecond'),"
    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,"
    " $23, $24::jsonb, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36::boolean, $37)"
    " RETURNING id";

/* A complaint keeps the provider it was stored with: like the message's
 * trust, it was settled at arrival (a verified DKIM d= is not checked
 * again), and a rules change does not move a report's origin. */
static const char SQL_EVENT_REPLACE[] =
    "UPDATE events SET (message_id, tenant, occurred_at, recipient, address_key, domain, kind,"
    " class, reason, status, replycode, action, diagnostic, remote_mta, reporting_mta, mta,"
    " feedback_type, user_agent, source_ip, rule, orig_message_id, orig_subject, campaign,"
    " correlation, original_recipient, last_attempt, smtp_command, arrival_date,"
    " original_mail_from, reported_domain, auth_results, orig_from, orig_to, orig_list_id,"
    " orig_date, suppressible, provider)"
    " = ($1::bigint, $2, ('epoch'::timestamptz + $3::bigint * interval '1 microsecond'),"
    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,"
    " $23, $24::jsonb, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36::boolean,"
    " CASE WHEN $37::text IS NULL THEN NULL ELSE coalesce(events.provider, $37::text) END)"
    " WHERE id = $38::bigint RETURNING id";

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
 * their class and origin.  Shared by the per-event and the batch upsert. */
#define SUPPRESS_ON_CONFLICT \
    " ON CONFLICT (tenant, address_key) DO UPDATE SET" \
    " last_seen = greatest(s.last_seen, EXCLUDED.last_seen)," \
    " event_count = s.event_count + 1," \
    " class = CASE WHEN s.origin <> 'automatic' THEN s.class" \
    "   WHEN EXCLUDED.expires_at IS NULL OR s.expires_at IS NOT NULL THEN EXCLUDED.class" \
    "   ELSE s.class END," \
    " reason = CASE WHEN s.origin <> 'automatic' THEN s.reason" \
    "   WHEN EXCLUDED.expires_at IS NULL OR s.expires_at < EXCLUDED.last_seen THEN EXCLUDED.reason" \
    "   ELSE s.reason END," \
    " event_id = CASE WHEN EXCLUDED.expires_at IS NULL OR s.expires_at < EXCLUDED.last_seen" \
    "   THEN EXCLUDED.event_id ELSE s.event_id END," \
    " expires_at = CASE WHEN s.expires_at IS NULL OR EXCLUDED.expires_at IS NULL THEN NULL" \
    "   ELSE greatest(s.expires_at, EXCLUDED.expires_at) END"

static const char SQL_SUPPRESS[] =
    "INSERT INTO suppressions AS s (tenant, address, address_key, domain, class, reason,"
    " first_seen, last_seen, event_count, expires_at, origin, event_id)"
    " VALUES ($1, $2, $3, $4, $5, $6,"
    " ('epoch'::timestamptz + $7::bigint * interval '1 microsecond'),"
    " ('epoch'::timestamptz + $7::bigint * interval '1 microsecond'), $8::int,"
    " ('epoch'::timestamptz + $7::bigint * interval '1 microsecond') + $9::int * interval '1 day',"
    " 'automatic', $10::bigint)"
    SUPPRESS_ON_CONFLICT;

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

/*
 * The 37 parameters of SQL_EVENT for one record, in its column order (the
 * batch writes the same values through COPY).  *address, *key and *dom
 * (pointing into *key) are what a suppression would use; FALSE in
 * *policy_ok when the recipient cannot be suppressed: not suppressible,
 * not a usable address, or a placeholder that stands for nobody.
 * occurred_us is when the event happened (the arrival, or the report's
 * date for a backfilled message); origin (may be NULL) names a
 * complaint's provider.
 */
static void
store_event_params(const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t occurred_us, const struct report *r, const struct store_origin *origin,
    const struct report_record *rec, gboolean suppressible, struct params *p, char **address,
    char **key, const char **dom, gboolean *policy_ok)
{
	char *campaign = NULL, *json;

	*policy_ok = suppressible;
	*address = address_normalise(rec->recipient);
	*key = store_address_key(rec->recipient);
	if (*address == NULL || *key == NULL) {
		/* kept as an event for the record; never a suppression */
		g_free(*address);
		g_free(*key);
		*address = pg_text(rec->recipient ? rec->recipient : "");
		*key = g_ascii_strdown(*address, -1);
		*policy_ok = FALSE;
	}
	/* stored and shown like any other, but it stands for nobody */
	if (placeholder_address(*address, r, origin != NULL && origin->redacted))
		*policy_ok = FALSE;
	*dom = address_domain(*key);
	params_take(p, g_strdup_printf("%" G_GINT64_FORMAT, message_id));
	params_add(p, tenant);
	params_take(p, g_strdup_printf("%" G_GINT64_FORMAT, occurred_us));
	params_add(p, *address);
	params_add(p, *key);
	params_add(p, *dom ? *dom : "");
	params_add(p, store_kind_name(r->kind));
	params_add(p, store_class_name(rec->class_));
	params_add(p, rec->reason);
	params_add(p, rec->status);
	params_add(p, rec->replycode);
	params_add(p, rec->action);
	params_add(p, rec->diagnostic);
	params_add(p, rec->remote_mta);
	params_add(p, r->reporting_mta);
	params_add(p, r->mta);
	params_add(p, rec->feedback_type);
	params_add(p, r->user_agent);
	params_add(p, r->source_ip);
	params_add(p, rec->rule);
	params_add(p, r->orig_message_id);
	params_add(p, r->orig_subject);
	json = store_correlation_json(cfg, r, &campaign);
	params_take(p, campaign);
	params_take(p, json);
	params_add(p, rec->original_recipient);
	params_add(p, rec->last_attempt);
	params_add(p, rec->smtp_command);
	params_add(p, r->arrival_date);
	params_add(p, r->original_mail_from);
	params_add(p, r->reported_domain);
	params_add(p, r->auth_results);
	params_add(p, r->orig_from);
	params_add(p, r->orig_to);
	params_add(p, r->orig_list_id);
	params_add(p, r->orig_date);
	params_add(p, suppressible ? "true" : "false");
	params_add(p, rec->class_ == REPORT_CLASS_COMPLAINT && origin ? origin->provider : NULL);
}

int
store_event(PGconn *conn, const struct config *cfg, int64_t message_id, const char *tenant,
    int64_t arrival_us, const struct report *r, const struct store_origin *origin,
    const struct report_record *rec, int64_t replace_id, gboolean apply_policy,
    gboolean suppressible, int *suppressions, enum pg_error_class *cls, char **err)
{
	struct params p = { 0 };
	char *address, *key;
	const char *dom;
	gboolean policy_ok;
	int64_t event_id;
	PGresult *res;
	int rc = -1;

	store_event_params(cfg, message_id, tenant, arrival_us, r, origin, rec, suppressible, &p,
	    &address, &key, &dom, &policy_ok);
	if (!policy_ok)
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
	/* a rewrite by reprocess is not news to the webhooks */
	if (replace_id <= 0 && webhook_outbox_add(conn, cfg, event_id, tenant, cls, err) < 0)
		goto done;
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

/*
 * The batch: a set-based transaction with a fixed number of round trips
 * however many messages it carries.  One statement names the hashes
 * already stored (duplicates) and takes ids for the others; those go
 * straight into messages by COPY (binary: every value length-prefixed, no
 * escaping).  The events go to a temporary table by COPY, whose columns
 * are the text parameters SQL_EVENT takes, cast the same way; a few
 * INSERT ... SELECT statements move them into events and apply the policy
 * to suppressions.
 */
static const char SQL_BATCH_BEGIN[] =
    "BEGIN;"
    "SET LOCAL client_min_messages = warning;"
    "CREATE TEMP TABLE IF NOT EXISTS rebound_batch_events (seq int NOT NULL, msg_idx int NOT NULL,"
    " round int NOT NULL, policy int NOT NULL, pclass text, preason text, event_id bigint,"
    " message_id text, tenant text, occurred_us text, recipient text, address_key text,"
    " domain text, kind text, class text, reason text, status text, replycode text, action text,"
    " diagnostic text, remote_mta text, reporting_mta text, mta text, feedback_type text,"
    " user_agent text, source_ip text, rule text, orig_message_id text, orig_subject text,"
    " campaign text, correlation text, original_recipient text, last_attempt text,"
    " smtp_command text, arrival_date text, original_mail_from text, reported_domain text,"
    " auth_results text, orig_from text, orig_to text, orig_list_id text, orig_date text,"
    " suppressible text, provider text)"
    " ON COMMIT DELETE ROWS;"
    "SELECT set_config('rebound.actor', 'policy', true)";

#define BATCH_MESSAGE_FIELDS	19
#define BATCH_EVENT_FIELDS	(7 + 37)

/*
 * $1: the batch's hashes (hex), $2: how many.  Returns the hashes already
 * stored and an id for each of the others.  A message stored by someone
 * else between this and the COPY makes the COPY fail on the unique sha256
 * (a permanent error: the pipeline then stores each message alone, and
 * this statement finds it).
 */
static const char SQL_BATCH_KNOWN[] =
    "WITH known AS (SELECT h FROM unnest($1::text[]) h"
    "   WHERE EXISTS (SELECT 1 FROM messages m WHERE m.sha256 = decode(h, 'hex')))"
    " SELECT array(SELECT h FROM known),"
    " array(SELECT nextval('messages_id_seq')"
    "   FROM generate_series(1, $2::int - (SELECT count(*) FROM known)::int))";
static const char SQL_BATCH_COPY_MESSAGES[] =
    "COPY messages (id, queue_id, received_at, client_addr, helo, tls, mail_from, rcpts, size,"
    " sha256, tenant, kind, outcome, anomalies, mta, attempts, quarantined, raw, suppressible)"
    " FROM STDIN (FORMAT binary)";
static const char SQL_BATCH_COPY_EVENTS[] =
    "COPY rebound_batch_events (seq, msg_idx, round, policy, pclass, preason, event_id,"
    " message_id, tenant, occurred_us, recipient, address_key, domain, kind, class, reason,"
    " status, replycode, action, diagnostic, remote_mta, reporting_mta, mta, feedback_type,"
    " user_agent, source_ip, rule, orig_message_id, orig_subject, campaign, correlation,"
    " original_recipient, last_attempt, smtp_command, arrival_date, original_mail_from,"
    " reported_domain, auth_results, orig_from, orig_to, orig_list_id, orig_date, suppressible,"
    " provider) FROM STDIN (FORMAT binary)";

/* Event ids are taken in batch order first, so that the policy below can
 * name each event and tell which ones came later in the batch. */
static const char SQL_BATCH_EVENTS[] =
    "WITH ids AS (UPDATE rebound_batch_events e SET event_id = s.id"
    " FROM (SELECT seq, nextval('events_id_seq') AS id"
    "       FROM (SELECT seq FROM rebound_batch_events ORDER BY seq) o) s"
    " WHERE e.seq = s.seq RETURNING e.*)"
    " INSERT INTO events (id, message_id, tenant, occurred_at, recipient, address_key, domain,"
    " kind, class, reason, status, replycode, action, diagnostic, remote_mta, reporting_mta, mta,"
    " feedback_type, user_agent, source_ip, rule, orig_message_id, orig_subject, campaign,"
    " correlation, original_recipient, last_attempt, smtp_command, arrival_date,"
    " original_mail_from, reported_domain, auth_results, orig_from, orig_to, orig_list_id,"
    " orig_date, suppressible, provider)"
    " SELECT event_id, message_id::bigint, tenant,"
    " ('epoch'::timestamptz + occurred_us::bigint * interval '1 microsecond'), recipient,"
    " address_key, domain, kind, class, reason, status, replycode, action, diagnostic,"
    " remote_mta, reporting_mta, mta, feedback_type, user_agent, source_ip, rule,"
    " orig_message_id, orig_subject, campaign, correlation::jsonb, original_recipient,"
    " last_attempt, smtp_command, arrival_date, original_mail_from, reported_domain,"
    " auth_results, orig_from, orig_to, orig_list_id, orig_date, suppressible::boolean,"
    " provider FROM ids ORDER BY seq";

/* Every new event of the batch, queued for the [webhook] endpoints of its
 * tenant ($1 tenants, NULL = every tenant; $2 their URLs): one statement
 * for the batch, in the transaction that writes the events, so a delivery
 * is never lost and never queued for an event that was rolled back. */
static const char SQL_BATCH_WEBHOOKS[] =
    "INSERT INTO webhook_outbox (event_id, tenant, url)"
    " SELECT e.event_id, e.tenant, w.url FROM rebound_batch_events e"
    " JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(tenant, url, ord)"
    "   ON w.tenant IS NULL OR w.tenant = e.tenant"
    " WHERE e.event_id IS NOT NULL ORDER BY e.seq, w.ord ON CONFLICT DO NOTHING";

/*
 * The policy of one round: the round-th event of each address in this
 * batch that reaches the policy (rounds are numbered in batch order per
 * address, so each address appears at most once per round and sees the
 * effect of its earlier events, as when the events were applied one at a
 * time).  Its time is the event's occurred_at (the report's date for a
 * backfilled message), which places it in the soft window.  Policy
 * numbers are enum policy_action's.  The soft count is
 * SQL_SOFT_COUNT's, leaving out the events that come later in the batch:
 * they are already in the table but did not exist for this event when
 * applied one at a time.  Returns one row (the message's index) per
 * suppression row added, changed or lifted.
 */
static const char SQL_BATCH_POLICY[] =
    "WITH r AS (SELECT e.*,"
    "   ('epoch'::timestamptz + e.occurred_us::bigint * interval '1 microsecond') AS at"
    "   FROM rebound_batch_events e WHERE e.round = $1::int AND e.event_id IS NOT NULL),"
    " lifted AS (DELETE FROM suppressions s USING r"
    "   WHERE r.policy = 3 AND s.tenant = r.tenant AND s.address_key = r.address_key"
    "   AND s.origin = 'automatic' AND s.class = 'soft' AND s.expires_at IS NOT NULL"
    "   AND s.last_seen <= r.at RETURNING r.msg_idx),"
    " c AS (SELECT r.*, CASE WHEN r.policy = 2 THEN"
    "   (SELECT count(DISTINCT ev.message_id) FROM events ev"
    "    WHERE ev.tenant = r.tenant AND ev.address_key = r.address_key AND ev.class = 'soft'"
    "    AND ev.suppressible AND ev.occurred_at <= r.at"
    "    AND ev.occurred_at > r.at - $2::int * interval '1 day'"
    "    AND NOT EXISTS (SELECT 1 FROM rebound_batch_events l"
    "        WHERE l.event_id = ev.id AND l.seq > r.seq)"
    "    AND ev.occurred_at > coalesce((SELECT max(d.occurred_at) FROM events d"
    "        WHERE d.tenant = r.tenant AND d.address_key = r.address_key"
    "        AND d.class = 'delivered' AND d.suppressible AND d.occurred_at <= r.at"
    "        AND NOT EXISTS (SELECT 1 FROM rebound_batch_events l"
    "            WHERE l.event_id = d.id AND l.seq > r.seq)), '-infinity'))"
    "   ELSE 1 END AS n FROM r WHERE r.policy IN (1, 2)),"
    " up AS (INSERT INTO suppressions AS s (tenant, address, address_key, domain, class, reason,"
    "   first_seen, last_seen, event_count, expires_at, origin, event_id)"
    "   SELECT tenant, recipient, address_key, domain, pclass, preason, at, at, n::int,"
    "   CASE WHEN policy = 2 THEN at + $4::int * interval '1 day' END, 'automatic', event_id"
    "   FROM c WHERE policy = 1 OR n >= $3::int ORDER BY seq"
    SUPPRESS_ON_CONFLICT
    "   RETURNING tenant, address_key)"
    " SELECT msg_idx FROM lifted"
    " UNION ALL SELECT c.msg_idx FROM up JOIN c USING (tenant, address_key)";

/* A round of permanent suppressions only (hard failures, complaints): each
 * event adds or changes exactly one row, so nothing needs to come back. */
static const char SQL_BATCH_SUPPRESS[] =
    "INSERT INTO suppressions AS s (tenant, address, address_key, domain, class, reason,"
    " first_seen, last_seen, event_count, expires_at, origin, event_id)"
    " SELECT tenant, recipient, address_key, domain, pclass, preason,"
    " ('epoch'::timestamptz + occurred_us::bigint * interval '1 microsecond'),"
    " ('epoch'::timestamptz + occurred_us::bigint * interval '1 microsecond'), 1, NULL,"
    " 'automatic', event_id FROM rebound_batch_events"
    " WHERE round = $1::int AND policy = 1 AND event_id IS NOT NULL ORDER BY seq"
    SUPPRESS_ON_CONFLICT;

G_STATIC_ASSERT(POLICY_SUPPRESS == 1 && POLICY_SOFT == 2 && POLICY_RESET == 3);

/*
 * What the envelope, the report's kind and (for a complaint) its DKIM
 * signature let m's records do.  Runs before the transaction opens: DKIM
 * may wait on DNS, and only complaints pay for it.
 */
static struct store_trust *
store_trust_of(const struct config *cfg, const struct store_msg *m, int64_t msg_at)
{
	const struct report *r = m->report;
	struct store_trust_in in = { 0 };
	struct store_trust *t;
	char *domain = NULL, *detail = NULL;

	in.rcpts = m->env->rcpts;
	in.arrival_us = msg_at;		/* a signed path is checked when the notice was sent */
	in.stored = -1;
	in.arf = r != NULL && r->kind == REPORT_KIND_ARF;
	in.original_mail_from = r ? r->original_mail_from : NULL;
	if (in.arf && cfg->fbl_require_dkim && m->raw != NULL) {
		/* No signature helps a complaint no recipient vouches for (sent
		 * to an unsigned path, say): skip the verification then. */
		in.dkim_pass = TRUE;
		t = store_trust_new(cfg, &in);
		if (!store_trust_message(t))
			return t;
		store_trust_free(t);
		in.dkim_pass = store_dkim_provider(cfg, m->raw, m->len, &domain, &detail);
		in.dkim_domain = domain;
		if (in.dkim_pass)
			log_info("q=%s event=dkim result=pass d=%s", m->env->queue_id ?
			    m->env->queue_id : "-", domain);
		else {
			char *e = log_escape(detail, strlen(detail), 200);
			log_info("q=%s event=dkim result=fail detail=\"%s\"", m->env->queue_id ?
			    m->env->queue_id : "-", e);
			g_free(e);
		}
		g_free(detail);
	}
	t = store_trust_new(cfg, &in);		/* copies in.dkim_domain */
	g_free(domain);
	return t;
}

/* Raw bytes are kept for reprocess and quarantine --show, up to a size:
 * a bounce carrying a whole original is mostly that original. */
static gboolean
store_keeps_raw(const struct config *cfg, const struct store_msg *m)
{
	return (uint64_t)m->len <= (uint64_t)cfg->store_raw_max_mb << 20;
}

/* COPY's binary format: a header, rows of length-prefixed fields, a trailer. */
static void
copy_u16(GByteArray *b, guint16 v)
{
	guint8 x[2] = { v >> 8, v };
	g_byte_array_append(b, x, 2);
}

static void
copy_u32(GByteArray *b, guint32 v)
{
	guint8 x[4] = { v >> 24, v >> 16, v >> 8, v };
	g_byte_array_append(b, x, 4);
}

static GByteArray *
copy_new(void)
{
	static const guint8 sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0 };
	GByteArray *b = g_byte_array_new();

	g_byte_array_append(b, sig, sizeof sig);
	copy_u32(b, 0);		/* flags */
	copy_u32(b, 0);		/* header extension length */
	return b;
}

static void
copy_bytes(GByteArray *b, const void *v, size_t len)
{
	if (v == NULL) {
		copy_u32(b, 0xffffffffu);	/* NULL */
		return;
	}
	copy_u32(b, (guint32)len);
	g_byte_array_append(b, v, (guint)len);
}

static void
copy_text(GByteArray *b, const char *s)
{
	copy_bytes(b, s, s ? strlen(s) : 0);
}

static void
copy_int4(GByteArray *b, gint32 v)
{
	copy_u32(b, 4);
	copy_u32(b, (guint32)v);
}

static void
copy_finish(GByteArray *b)
{
	copy_u16(b, 0xffff);
}

static void
copy_int8(GByteArray *b, gint64 v)
{
	copy_u32(b, 8);
	copy_u32(b, (guint32)((guint64)v >> 32));
	copy_u32(b, (guint32)v);
}

static void
copy_bool(GByteArray *b, gboolean v)
{
	guint8 x = v ? 1 : 0;

	copy_bytes(b, &x, 1);
}

/* timestamptz: microseconds since 2000-01-01 UTC */
static void
copy_ts(GByteArray *b, gint64 unix_us)
{
	copy_int8(b, unix_us - G_GINT64_CONSTANT(946684800000000));
}

/* Text made valid UTF-8 without NUL, as for a parameter. */
static void
copy_clean(GByteArray *b, const char *s)
{
	char *t = pg_text(s);

	copy_text(b, t);
	g_free(t);
}

/* text[], one dimension, no NULL elements */
static void
copy_text_array(GByteArray *b, char *const *v)
{
	GByteArray *a = g_byte_array_new();
	guint32 n = 0;
	int i;

	for (i = 0; v != NULL && v[i] != NULL; i++, n++)
		copy_clean(a, v[i]);
	copy_u32(b, n > 0 ? 20 + a->len : 12);
	copy_u32(b, n > 0 ? 1 : 0);	/* dimensions */
	copy_u32(b, 0);			/* no NULLs */
	copy_u32(b, 25);		/* text */
	if (n > 0) {
		copy_u32(b, n);
		copy_u32(b, 1);		/* lower bound */
		g_byte_array_append(b, a->data, a->len);
	}
	g_byte_array_unref(a);
}

/* One message's COPY row, in SQL_BATCH_COPY_MESSAGES's column order. */
static void
store_copy_message(GByteArray *b, const struct config *cfg, int64_t id,
    const struct store_msg *m, const unsigned char hash[32], const struct store_trust *trust)
{
	const struct spool_envelope *env = m->env;
	const struct report *r = m->report;

	copy_u16(b, BATCH_MESSAGE_FIELDS);
	copy_int8(b, id);
	copy_clean(b, env->queue_id);
	copy_ts(b, env->arrival_us);
	copy_clean(b, env->client_addr);
	copy_clean(b, env->helo);
	copy_clean(b, env->tls);
	copy_clean(b, env->mail_from);
	copy_text_array(b, env->rcpts);
	copy_int8(b, (gint64)m->len);
	copy_bytes(b, hash, 32);
	copy_clean(b, store_tenant(cfg, env));
	copy_text(b, r ? store_kind_name(r->kind) : "none");
	copy_clean(b, m->outcome ? m->outcome : (r && r->outcome ? r->outcome : "ok"));
	copy_int4(b, r ? (gint32)r->anomalies : 0);
	copy_clean(b, r ? r->mta : NULL);
	copy_int4(b, env->attempts > 0 ? env->attempts : 1);
	copy_bool(b, m->quarantined);
	if (store_keeps_raw(cfg, m))
		copy_bytes(b, m->raw ? m->raw : "", m->len);
	else
		copy_bytes(b, NULL, 0);
	copy_bool(b, store_trust_message(trust));
}

/* The elements of a one-dimensional array of hex strings or integers in text form. */
static char **
store_split_array(const char *v)
{
	size_t len = strlen(v);
	char *inner;
	char **out;

	if (len < 2 || v[0] != '{' || v[len - 1] != '}')
		return NULL;
	if (len == 2)
		return g_new0(char *, 1);
	inner = g_strndup(v + 1, len - 2);
	out = g_strsplit(inner, ",", -1);
	g_free(inner);
	return out;
}

/* Per (tenant, address key): how many of its events in this batch reached the policy so far. */
static int
store_next_round(GHashTable *rounds, const char *tenant, const char *key)
{
	char *k = g_strconcat(tenant, "\n", key, NULL);
	int n = GPOINTER_TO_INT(g_hash_table_lookup(rounds, k)) + 1;

	g_hash_table_replace(rounds, k, GINT_TO_POINTER(n));
	return n;
}

/*
 * One event's COPY row; returns its policy round, 0 when it does not reach
 * the policy (POLICY_NONE: unsuppressible, capped, or a placeholder
 * address), and its policy action in *actp.
 */
static int
store_copy_event(GByteArray *b, const struct config *cfg, GHashTable *rounds, int seq,
    size_t idx, int64_t message_id, const char *tenant, int64_t occurred_us,
    const struct report *r, const struct store_origin *origin, const struct report_record *rec,
    gboolean suppressible, enum policy_action *actp)
{
	struct params p = { 0 };
	char *address, *key, *reason;
	const char *dom;
	gboolean policy_ok;
	enum policy_action act = POLICY_NONE;
	int i, round = 0;

	store_event_params(cfg, message_id, tenant, occurred_us, r, origin, rec, suppressible, &p,
	    &address, &key, &dom, &policy_ok);
	if (policy_ok)
		act = policy_decide(cfg, rec->class_, rec->feedback_type);
	if (act != POLICY_NONE)
		round = store_next_round(rounds, tenant, key);
	reason = pg_text(rec->reason ? rec->reason : store_class_name(rec->class_));
	g_assert(p.n + 7 == BATCH_EVENT_FIELDS);
	copy_u16(b, BATCH_EVENT_FIELDS);
	copy_int4(b, seq);
	copy_int4(b, (gint32)idx);
	copy_int4(b, round);
	copy_int4(b, (gint32)act);
	copy_text(b, policy_class_name(rec->class_));
	copy_text(b, reason);
	copy_bytes(b, NULL, 0);			/* event_id: taken by SQL_BATCH_EVENTS */
	for (i = 0; i < p.n; i++)
		copy_text(b, p.v[i]);
	g_free(reason);
	params_clear(&p);
	g_free(address);
	g_free(key);
	*actp = act;
	return round;
}

gboolean
store_placeholder(const struct report_record *rec, const struct report *r,
    const struct store_origin *origin)
{
	char *address = address_normalise(rec->recipient);
	gboolean hit = placeholder_address(address ? address : rec->recipient, r,
	    origin != NULL && origin->redacted);

	g_free(address);
	return hit;
}

/* Queues the batch's events for the webhooks, when any endpoint is configured. */
static int
store_batch_webhooks(PGconn *conn, const struct config *cfg, enum pg_error_class *cls,
    char **err)
{
	char *tenants = NULL, *urls = NULL;
	int rc;

	if (!webhook_outbox_endpoints(cfg, &tenants, &urls))
		return 0;
	{
		const char *p[] = { tenants, urls };
		rc = pg_command(conn, SQL_BATCH_WEBHOOKS, 2, p, cls, err);
	}
	g_free(tenants);
	g_free(urls);
	return rc;
}

static void
store_rollback(PGconn *conn)
{
	PGresult *res = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);

	/* Failure here means the connection is gone; the caller reconnects. */
	PQclear(res);
}

/* Inside the open transaction, after the COPYs: everything but BEGIN and COMMIT. */
static int
store_batch_sql(PGconn *conn, const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, struct store_trust **trust, const char **tenants,
    const int64_t *msg_at, const struct store_origin *origins,
    unsigned char (*hashes)[32], char **hex, const char *hexes, size_t nnew,
    enum pg_error_class *cls, char **err)
{
	GByteArray *ecopy = NULL;
	GHashTable *rounds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	PGresult *pr;
	int64_t now_us = g_get_real_time();
	size_t i;
	/* per policy event: round, action, message index */
	GArray *pev = g_array_new(FALSE, FALSE, sizeof(gint32) * 3);
	gint32 *mixed = NULL;		/* per round: anything but POLICY_SUPPRESS */
	int rc = -1, nev = 0, maxround = 0, round;
	guint e;

	{
		char **known = NULL, **ids = NULL, nstr[16];
		const char *kp[] = { hexes, nstr };
		GHashTable *dup = g_hash_table_new(g_str_hash, g_str_equal);
		GByteArray *mcopy = copy_new();
		guint k, next = 0, nids;
		int crc = 0;

		snprintf(nstr, sizeof nstr, "%zu", nnew);
		pr = pg_exec(conn, SQL_BATCH_KNOWN, 2, kp, PGRES_TUPLES_OK, cls, err);
		if (pr == NULL) {
			g_hash_table_destroy(dup);
			g_byte_array_unref(mcopy);
			goto done;
		}
		if (PQntuples(pr) != 1 ||
		    (known = store_split_array(PQgetvalue(pr, 0, 0))) == NULL ||
		    (ids = store_split_array(PQgetvalue(pr, 0, 1))) == NULL) {
			*err = g_strdup("batch: unexpected answer naming stored messages");
			*cls = PG_PERMANENT;
			crc = -1;
		}
		PQclear(pr);
		for (k = 0; crc == 0 && known[k] != NULL; k++)
			g_hash_table_add(dup, known[k]);
		nids = ids != NULL ? g_strv_length(ids) : 0;
		for (i = 0; crc == 0 && i < n; i++) {
			if (res[i].duplicate)
				continue;
			if (g_hash_table_contains(dup, hex[i])) {
				/* already stored: the same report again, or a retry after COMMIT */
				res[i].duplicate = TRUE;
				continue;
			}
			if (next >= nids) {
				*err = g_strdup("batch: fewer message ids than messages");
				*cls = PG_PERMANENT;
				crc = -1;
				break;
			}
			res[i].message_id = g_ascii_strtoll(ids[next++], NULL, 10);
			store_copy_message(mcopy, cfg, res[i].message_id, &msgs[i], hashes[i], trust[i]);
		}
		copy_finish(mcopy);
		if (crc == 0 && next > 0)
			crc = pg_copy_in(conn, SQL_BATCH_COPY_MESSAGES, mcopy->data, mcopy->len, cls, err);
		g_hash_table_destroy(dup);
		g_strfreev(known);
		g_strfreev(ids);
		g_byte_array_unref(mcopy);
		if (crc < 0)
			goto done;
	}

	ecopy = copy_new();
	for (i = 0; i < n; i++) {
		const struct spool_envelope *env = msgs[i].env;
		const struct report *r = msgs[i].report;
		guint j;

		if (res[i].duplicate)
			continue;
		if (!store_keeps_raw(cfg, &msgs[i]))
			log_info("q=%s event=raw-not-kept message_id=%" G_GINT64_FORMAT " size=%zu "
			    "raw_max_mb=%" G_GINT64_FORMAT, env->queue_id ? env->queue_id : "-",
			    res[i].message_id, msgs[i].len, cfg->store_raw_max_mb);
		res[i].unsuppressible = store_trust_reason(trust[i]);
		if (!store_trust_message(trust[i]))
			log_info("q=%s event=unsuppressible message_id=%" G_GINT64_FORMAT " signature=%s",
			    env->queue_id ? env->queue_id : "-", res[i].message_id,
			    store_trust_reason(trust[i]));
		for (j = 0; r != NULL && r->records != NULL && j < r->records->len; j++) {
			const struct report_record *rec = r->records->pdata[j];
			/* a placeholder never reaches the policy, so it takes no room under the cap */
			gboolean counts = policy_decide(cfg, rec->class_, rec->feedback_type) !=
			    POLICY_NONE && !store_placeholder(rec, r, &origins[i]);
			int64_t at = msgs[i].dated_by_report ?
			    occurred_at(r, rec, msgs[i].raw, msgs[i].len, msg_at[i], now_us) :
			    env->arrival_us;
			enum policy_action act;

			round = store_copy_event(ecopy, cfg, rounds, nev++, i, res[i].message_id,
			    tenants[i], at, r, &origins[i], rec,
			    store_trust_take(trust[i], rec->recipient, counts), &act);
			if (round > 0) {
				gint32 v[3] = { round, (gint32)act, (gint32)i };
				g_array_append_vals(pev, v, 1);
			}
			maxround = MAX(maxround, round);
			res[i].events++;
		}
		res[i].capped = store_trust_over(trust[i]);
		if (store_trust_over(trust[i]) > 0) {
			char *first = log_escape(store_trust_first_over(trust[i]),
			    strlen(store_trust_first_over(trust[i])), 256);
			log_warnx("q=%s event=suppression-cap message_id=%" G_GINT64_FORMAT " cap=%"
			    G_GINT64_FORMAT " over=%d first_over=\"%s\"", env->queue_id ?
			    env->queue_id : "-", res[i].message_id,
			    cfg->policy_max_suppressions_per_message, store_trust_over(trust[i]), first);
			g_free(first);
		}
	}
	copy_finish(ecopy);
	if (nev > 0) {
		char srnd[16], window[32], threshold[32], expire[32];
		const char *pp[] = { srnd, window, threshold, expire };

		if (pg_copy_in(conn, SQL_BATCH_COPY_EVENTS, ecopy->data, ecopy->len, cls, err) < 0 ||
		    pg_command(conn, SQL_BATCH_EVENTS, 0, NULL, cls, err) < 0 ||
		    store_batch_webhooks(conn, cfg, cls, err) < 0)
			goto done;
		snprintf(window, sizeof window, "%" G_GINT64_FORMAT, cfg->policy_soft_window_days);
		snprintf(threshold, sizeof threshold, "%" G_GINT64_FORMAT, cfg->policy_soft_threshold);
		snprintf(expire, sizeof expire, "%" G_GINT64_FORMAT, cfg->policy_soft_expire_days);
		mixed = g_new0(gint32, maxround + 1);
		for (e = 0; e < pev->len; e++) {
			gint32 *v = &g_array_index(pev, gint32, e * 3);
			if (v[1] != POLICY_SUPPRESS)
				mixed[v[0]] = 1;
		}
		for (round = 1; round <= maxround; round++) {
			snprintf(srnd, sizeof srnd, "%d", round);
			if (!mixed[round]) {
				if (pg_command(conn, SQL_BATCH_SUPPRESS, 1, pp, cls, err) < 0)
					goto done;
				for (e = 0; e < pev->len; e++) {
					gint32 *v = &g_array_index(pev, gint32, e * 3);
					if (v[0] == round)
						res[v[2]].suppressions++;
				}
				continue;
			}
			pr = pg_exec(conn, SQL_BATCH_POLICY, 4, pp, PGRES_TUPLES_OK, cls, err);
			if (pr == NULL)
				goto done;
			for (i = 0; i < (size_t)PQntuples(pr); i++) {
				gint64 idx = g_ascii_strtoll(PQgetvalue(pr, (int)i, 0), NULL, 10);
				if (idx >= 0 && (size_t)idx < n)
					res[idx].suppressions++;
			}
			PQclear(pr);
		}
	}
	rc = 0;
done:
	if (ecopy != NULL)
		g_byte_array_unref(ecopy);
	g_hash_table_destroy(rounds);
	g_array_unref(pev);
	g_free(mixed);
	return rc;
}

int
store_batch(PGconn *conn, const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, size_t *failed, enum pg_error_class *cls, char **err)
{
	struct store_trust **trust = g_new0(struct store_trust *, n);
	struct store_origin *origins = g_new0(struct store_origin, n);
	int64_t *msg_at = g_new0(int64_t, n);
	const char **tenants = g_new0(const char *, n);
	unsigned char (*hashes)[32] = g_malloc0((n ? n : 1) * 32);
	char **hex = g_new0(char *, n + 1);
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	GString *hexes = g_string_new("{");
	size_t i, nnew = 0;
	int rc = -1;

	/* A set-based batch cannot name the message at fault: the caller
	 * stores each one alone (store_message) to find it. */
	*failed = n;
	for (i = 0; i < n; i++) {
		const struct store_msg *m = &msgs[i];
		int j;

		memset(&res[i], 0, sizeof res[i]);
		tenants[i] = store_tenant(cfg, m->env);
		/* a backfilled message stands for the time its notice was sent */
		msg_at[i] = m->dated_by_report ? occurred_notice(m->raw, m->len, m->env->arrival_us,
		    g_get_real_time()) : m->env->arrival_us;
		trust[i] = store_trust_of(cfg, m, msg_at[i]);
		store_hash(m->raw, m->len, hashes[i]);
		hex[i] = g_malloc(65);
		for (j = 0; j < 32; j++)
			snprintf(hex[i] + 2 * j, 3, "%02x", hashes[i][j]);
		if (g_hash_table_contains(seen, hex[i])) {
			/* the same report twice in one batch: the later one is the duplicate */
			res[i].duplicate = TRUE;
			continue;
		}
		g_hash_table_add(seen, hex[i]);
		g_string_append_printf(hexes, "%s%s", nnew ? "," : "", hex[i]);
		nnew++;
		/* read from the raw message before the transaction opens, like DKIM */
		provider_origin(&origins[i], m->raw, m->len, m->env->mail_from, m->report);
		if (store_trust_dkim_domain(trust[i]) != NULL) {
			/* the verified signer names the provider better than any header */
			char *d = provider_registered_domain(store_trust_dkim_domain(trust[i]));
			g_free(origins[i].provider);
			origins[i].provider = d ? d : g_strdup(store_trust_dkim_domain(trust[i]));
		}
	}
	g_string_append_c(hexes, '}');

	if (pg_exec_script(conn, SQL_BATCH_BEGIN, cls, err) < 0) {
		/* BEGIN itself may have run: leave no transaction open */
		if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
			store_rollback(conn);
		goto done;
	}
	if (store_batch_sql(conn, cfg, msgs, n, res, trust, tenants, msg_at, origins, hashes, hex,
	    hexes->str, nnew, cls, err) < 0) {
		store_rollback(conn);
		goto done;
	}
	/* A COMMIT that fails to answer is ambiguous: report transient, keep
	 * the spool entries, and the dedupe makes the retry harmless. */
	if (pg_command(conn, "COMMIT", 0, NULL, cls, err) < 0) {
		*cls = PG_TRANSIENT;
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		for (i = 0; i < n; i++)
			memset(&res[i], 0, sizeof res[i]);
	for (i = 0; i < n; i++) {
		store_trust_free(trust[i]);
		provider_clear(&origins[i]);
	}
	g_free(trust);
	g_free(origins);
	g_free(msg_at);
	g_free(tenants);
	g_free(hashes);
	g_strfreev(hex);
	g_hash_table_destroy(seen);
	g_string_free(hexes, TRUE);
	return rc;
}

int
store_message(PGconn *conn, const struct config *cfg, const struct store_msg *msg,
    struct store_result *res, enum pg_error_class *cls, char **err)
{
	size_t failed;

	return store_batch(conn, cfg, msg, 1, res, &failed, cls, err);
}
