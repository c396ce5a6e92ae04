/*
 * reprocess.c - "rebound reprocess -c FILE --since DATE [--until DATE]":
 * classify the stored raw messages again (after a rules change) and bring
 * the events and automatic suppressions in line with the new answers.
 *
 * Messages are taken in arrival order, [store] batch at a time, one
 * transaction per batch: their old events are replaced by the new ones, the
 * message row gets the new kind and outcome, and every address whose events
 * changed gets its automatic suppression recomputed from its whole event
 * history with policy_replay() - added, changed or removed (each audited by
 * the trigger with actor "reprocess").  Manual and imported suppressions are
 * never touched.  Messages whose raw bytes are past [store] retention_days
 * keep their events.  Interrupted, it can simply be run again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "common/log.h"
#include "common/address.h"
#include "store/classify.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/policy.h"
#include "store/store.h"
#include "store/occurred.h"
#include "store/provider.h"
#include "store/trust.h"
#include "store/reprocess.h"

struct reprocess_msg {
	int64_t id;
	int64_t arrival_us;
	char *tenant;
	char *rcpt;
	char **rcpts;			/* all envelope recipients, for store/trust.h */
	int suppressible;		/* messages.suppressible as stored */
	int imported;			/* by import-mail: dated from the report */
	unsigned char *raw;
	size_t len;
};

static const char SQL_SELECT[] =
    "SELECT id, (extract(epoch FROM received_at) * 1000000)::bigint, tenant, rcpts[1], raw,"
    " array_to_string(rcpts, chr(10)), suppressible, queue_id LIKE 'import-%'"
    " FROM messages WHERE received_at >= $1::timestamptz AND received_at < $2::timestamptz"
    " AND raw IS NOT NULL AND ($3::bigint IS NULL OR (received_at, id) >"
    " ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::bigint))"
    " ORDER BY received_at, id LIMIT $5::int";

static const char SQL_HISTORY[] =
    "SELECT (extract(epoch FROM occurred_at) * 1000000)::bigint, class, feedback_type, reason,"
    " id, message_id, recipient, domain FROM events WHERE tenant = $1 AND address_key = $2"
    " AND suppressible ORDER BY occurred_at, id";

/* Make the suppression row match st exactly; only automatic rows are ours. */
static const char SQL_SET[] =
    "INSERT INTO suppressions AS s (tenant, address, address_key, domain, class, reason,"
    " first_seen, last_seen, event_count, expires_at, origin, event_id)"
    " VALUES ($1, $2, $3, $4, $5, $6,"
    " 'epoch'::timestamptz + $7::bigint * interval '1 microsecond',"
    " 'epoch'::timestamptz + $8::bigint * interval '1 microsecond', $9::int,"
    " 'epoch'::timestamptz + $10::bigint * interval '1 microsecond', 'automatic', $11::bigint)"
    " ON CONFLICT (tenant, address_key) DO UPDATE SET class = EXCLUDED.class,"
    " reason = EXCLUDED.reason, first_seen = EXCLUDED.first_seen,"
    " last_seen = EXCLUDED.last_seen, event_count = EXCLUDED.event_count,"
    " expires_at = EXCLUDED.expires_at, event_id = EXCLUDED.event_id"
    " WHERE s.origin = 'automatic' AND (s.class, s.reason, s.first_seen, s.last_seen,"
    " s.event_count, s.expires_at, s.event_id) IS DISTINCT FROM (EXCLUDED.class,"
    " EXCLUDED.reason, EXCLUDED.first_seen, EXCLUDED.last_seen, EXCLUDED.event_count,"
    " EXCLUDED.expires_at, EXCLUDED.event_id)"
    " RETURNING (xmax = 0)";

static void
reprocess_msg_free(struct reprocess_msg *m)
{
	g_free(m->tenant);
	g_free(m->rcpt);
	g_strfreev(m->rcpts);
	PQfreemem(m->raw);
}

/* Recompute one address's automatic suppression from its events. */
static int
reprocess_reconcile(PGconn *conn, const struct config *cfg, const char *tenant,
    const char *key, struct reprocess_stats *st, char **err)
{
	const char *p[11];
	struct policy_event *ev;
	struct policy_state s;
	PGresult *res, *r2;
	char *address = NULL, *domain = NULL;
	char b[6][32];
	int i, n;

	/* events of addresses that cannot be suppressed never were */
	{
		char *k2 = store_address_key(key);
		gboolean ok = k2 != NULL && strcmp(k2, key) == 0;
		g_free(k2);
		if (!ok)
			return 0;
	}
	p[0] = tenant;
	p[1] = key;
	if ((res = pg_exec(conn, SQL_HISTORY, 2, p, PGRES_TUPLES_OK, NULL, err)) == NULL)
		return -1;
	n = PQntuples(res);
	ev = g_new0(struct policy_event, n > 0 ? n : 1);
	for (i = 0; i < n; i++) {
		ev[i].at_us = g_ascii_strtoll(PQgetvalue(res, i, 0), NULL, 10);
		ev[i].cls = report_class_from_name(PQgetvalue(res, i, 1));
		ev[i].feedback_type = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
		ev[i].reason = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
		ev[i].event_id = g_ascii_strtoll(PQgetvalue(res, i, 4), NULL, 10);
		ev[i].message_id = g_ascii_strtoll(PQgetvalue(res, i, 5), NULL, 10);
		if ((int)ev[i].cls < 0)
			ev[i].cls = REPORT_CLASS_UNKNOWN;
	}
	policy_replay(cfg, ev, n, &s);
	if (n > 0) {
		address = g_strdup(PQgetvalue(res, n - 1, 6));
		domain = g_strdup(PQgetvalue(res, n - 1, 7));
	}
	if (!s.suppressed) {
		r2 = pg_exec(conn, "DELETE FROM suppressions WHERE tenant = $1 AND address_key = $2"
		    " AND origin = 'automatic'", 2, p, PGRES_COMMAND_OK, NULL, err);
		if (r2 != NULL) {
			st->removed += atoi(PQcmdTuples(r2));
			PQclear(r2);
		}
	} else {
		snprintf(b[0], 32, "%" G_GINT64_FORMAT, s.first_us);
		snprintf(b[1], 32, "%" G_GINT64_FORMAT, s.last_us);
		snprintf(b[2], 32, "%d", s.event_count);
		snprintf(b[3], 32, "%" G_GINT64_FORMAT, s.expires_us);
		snprintf(b[4], 32, "%" G_GINT64_FORMAT, s.event_id);
		p[2] = key;
		p[0] = tenant;
		p[1] = address;
		p[3] = domain;
		p[4] = s.class_name;
		p[5] = s.reason ? s.reason : s.class_name;
		p[6] = b[0];
		p[7] = b[1];
		p[8] = b[2];
		p[9] = s.expires_us ? b[3] : NULL;
		p[10] = b[4];
		r2 = pg_exec(conn, SQL_SET, 11, p, PGRES_TUPLES_OK, NULL, err);
		if (r2 != NULL) {
			if (PQntuples(r2) == 1) {
				if (strcmp(PQgetvalue(r2, 0, 0), "t") == 0)
					st->added++;
				else
					st->changed++;
			}
			PQclear(r2);
		}
	}
	g_free(address);
	g_free(domain);
	g_free(ev);
	PQclear(res);
	return r2 ? 0 : -1;
}

/*
 * Read the message's current events: their ids are handed out again in
 * order (so unchanged events keep their ids and the suppressions pointing at
 * them do not churn), and their addresses need reconciling afterwards.
 */
static int
reprocess_old_events(PGconn *conn, const struct reprocess_msg *m, GArray *old_ids,
    GHashTable *keys, struct reprocess_stats *st, char **err)
{
	char id[32];
	const char *p[1];
	PGresult *res;
	int t;

	snprintf(id, sizeof id, "%" G_GINT64_FORMAT, m->id);
	p[0] = id;
	res = pg_exec(conn, "SELECT id, tenant || chr(9) || address_key FROM events"
	    " WHERE message_id = $1::bigint ORDER BY id", 1, p, PGRES_TUPLES_OK, NULL, err);
	if (res == NULL)
		return -1;
	g_array_set_size(old_ids, 0);
	for (t = 0; t < PQntuples(res); t++) {
		int64_t oid = g_ascii_strtoll(PQgetvalue(res, t, 0), NULL, 10);
		g_array_append_val(old_ids, oid);
		g_hash_table_add(keys, g_strdup(PQgetvalue(res, t, 1)));
	}
	st->events_old += PQntuples(res);
	PQclear(res);
	return 0;
}

/* Give the message row the new kind and outcome. */
static int
reprocess_update_message(PGconn *conn, const struct reprocess_msg *m,
    const struct classify_job *job, char **err)
{
	const struct report *r = job->report;
	char id[32], anomalies[16];
	const char *p[5];
	char *outcome, *mta;
	int t;

	snprintf(id, sizeof id, "%" G_GINT64_FORMAT, m->id);
	snprintf(anomalies, sizeof anomalies, "%u", r ? (unsigned)r->anomalies : 0u);
	outcome = pg_text(r ? (r->outcome ? r->outcome : "ok") :
	    (job->outcome ? job->outcome : "parser returned nothing"));
	mta = pg_text(r ? r->mta : NULL);
	p[0] = id;
	p[1] = r ? store_kind_name(r->kind) : "none";
	p[2] = outcome;
	p[3] = anomalies;
	p[4] = mta;
	t = pg_command(conn, "UPDATE messages SET kind = $2, outcome = $3,"
	    " anomalies = $4::int, mta = $5 WHERE id = $1::bigint", 5, p, NULL, err);
	g_free(outcome);
	g_free(mta);
	return t < 0 ? -1 : 0;
}

/*
 * Write the report's events over the old ones in order, then delete the old
 * events left over; the addresses of the new events go into keys.
 */
static int
reprocess_write_events(PGconn *conn, const struct config *cfg, const struct reprocess_msg *m,
    const struct report *r, const GArray *old_ids, GHashTable *keys,
    struct reprocess_stats *st, char **err)
{
	struct store_trust *trust;
	struct store_origin origin;
	int dummy = 0;
	guint j;

	{
		struct store_trust_in in = { 0 };
		in.rcpts = m->rcpts;
		in.arrival_us = m->arrival_us;
		in.stored = m->suppressible;
		in.arf = r != NULL && r->kind == REPORT_KIND_ARF;
		in.original_mail_from = r ? r->original_mail_from : NULL;
		trust = store_trust_new(cfg, &in);
	}
	provider_origin(&origin, (const char *)m->raw, m->len, NULL, r);
	for (j = 0; r != NULL && r->records != NULL && j < r->records->len; j++) {
		const struct report_record *rec = r->records->pdata[j];
		char *key = store_address_key(rec->recipient);
		int64_t reuse = j < old_ids->len ? g_array_index(old_ids, int64_t, j) : 0;
		/* a backfilled event keeps the date its report gives, as at import */
		int64_t at = m->imported ? occurred_at(r, rec, (const char *)m->raw,
		    m->len, occurred_notice((const char *)m->raw, m->len,
		    m->arrival_us, g_get_real_time()), g_get_real_time()) : m->arrival_us;
		if (store_event(conn, cfg, m->id, m->tenant, at, r,
		    &origin, rec, reuse, FALSE, store_trust_take(trust, rec->recipient,
		    policy_decide(cfg, rec->class_, rec->feedback_type) != POLICY_NONE &&
		    !store_placeholder(rec, r, &origin)), &dummy,
		    NULL, err) < 0) {
			g_free(key);
			provider_clear(&origin);
			store_trust_free(trust);
			return -1;
		}
		/* a placeholder's events stand for nobody: never replayed into a suppression */
		if (key != NULL && !store_placeholder(rec, r, &origin))
			g_hash_table_add(keys, g_strdup_printf("%s\t%s", m->tenant, key));
		g_free(key);
		st->events_new++;
	}
	provider_clear(&origin);
	store_trust_free(trust);
	for (; j < old_ids->len; j++) {
		char oid[32];
		const char *q[] = { oid };
		snprintf(oid, sizeof oid, "%" G_GINT64_FORMAT, g_array_index(old_ids, int64_t, j));
		if (pg_command(conn, "DELETE FROM events WHERE id = $1::bigint", 1, q, NULL,
		    err) < 0)
			return -1;
	}
	return 0;
}

/* Recompute the suppression of every address collected in keys ("tenant\tkey"). */
static int
reprocess_reconcile_keys(PGconn *conn, const struct config *cfg, GHashTable *keys,
    struct reprocess_stats *st, char **err)
{
	GHashTableIter it;
	gpointer k;

	g_hash_table_iter_init(&it, keys);
	while (g_hash_table_iter_next(&it, &k, NULL)) {
		char *tab = strchr(k, '\t');
		char *tenant = g_strndup(k, tab - (char *)k);
		int r2 = reprocess_reconcile(conn, cfg, tenant, tab + 1, st, err);
		g_free(tenant);
		if (r2 < 0)
			return -1;
	}
	return 0;
}

/* One batch in one transaction. */
static int
reprocess_batch(PGconn *conn, const struct config *cfg, struct classify *c,
    struct reprocess_msg *msgs, size_t n, struct reprocess_stats *st, char **err)
{
	const char *actor[] = { "reprocess" };
	struct classify_job *jobs = g_new0(struct classify_job, n);
	GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GArray *old_ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	PGresult *res;
	size_t i;
	int rc = -1;

	for (i = 0; i < n; i++) {
		jobs[i].data = (const char *)msgs[i].raw;
		jobs[i].len = msgs[i].len;
		jobs[i].envelope_rcpt = msgs[i].rcpt;
	}
	classify_batch(c, jobs, n);
	if (pg_command(conn, "BEGIN", 0, NULL, NULL, err) < 0)
		goto out;
	if ((res = pg_exec(conn, "SELECT set_config('rebound.actor', $1, true)", 1, actor,
	    PGRES_TUPLES_OK, NULL, err)) == NULL)
		goto rollback;
	PQclear(res);
	for (i = 0; i < n; i++) {
		if (reprocess_old_events(conn, &msgs[i], old_ids, keys, st, err) < 0 ||
		    reprocess_update_message(conn, &msgs[i], &jobs[i], err) < 0 ||
		    reprocess_write_events(conn, cfg, &msgs[i], jobs[i].report, old_ids, keys,
		    st, err) < 0)
			goto rollback;
		st->messages++;
	}
	if (reprocess_reconcile_keys(conn, cfg, keys, st, err) < 0)
		goto rollback;
	if (pg_command(conn, "COMMIT", 0, NULL, NULL, err) < 0)
		goto out;
	rc = 0;
	goto out;
rollback:
	{
		PGresult *rb = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
		PQclear(rb);
	}
out:
	classify_jobs_free(jobs, n);
	g_hash_table_unref(keys);
	g_array_unref(old_ids);
	return rc;
}

int
reprocess_run(const struct config *cfg, const char *since, const char *until,
    struct reprocess_stats *stp, char **errp)
{
	struct reprocess_stats st = { 0 };
	struct classify *c = NULL;
	PGconn *conn = NULL;
	char *err = NULL, *last_at = NULL, *last_id = g_strdup("0");
	PGresult *res;
	int i, rc = -1;

	if (*cfg->store_conninfo == '\0') {
		err = g_strdup("[store] conninfo is not set");
		goto fail;
	}
	if ((conn = pg_connect(cfg->store_conninfo, &err)) == NULL ||
	    migrate_check(conn, &err) < 0 || (c = classify_new(cfg, &err)) == NULL)
		goto fail;
	{
		/* validate the dates once, with PostgreSQL's own parser */
		const char *p[] = { since, until };
		if ((res = pg_exec(conn, "SELECT $1::timestamptz, $2::timestamptz", 2, p,
		    PGRES_TUPLES_OK, NULL, &err)) == NULL)
			goto fail;
		PQclear(res);
	}
	for (;;) {
		char lim[16];
		const char *p[5] = { since, until, last_at, last_id, lim };
		struct reprocess_msg *msgs;
		int n, k;

		snprintf(lim, sizeof lim, "%lld", (long long)cfg->store_batch);
		if ((res = pg_exec(conn, SQL_SELECT, 5, p, PGRES_TUPLES_OK, NULL, &err)) == NULL)
			goto fail;
		if ((n = PQntuples(res)) == 0) {
			PQclear(res);
			break;
		}
		msgs = g_new0(struct reprocess_msg, n);
		for (k = 0; k < n; k++) {
			msgs[k].id = g_ascii_strtoll(PQgetvalue(res, k, 0), NULL, 10);
			msgs[k].arrival_us = g_ascii_strtoll(PQgetvalue(res, k, 1), NULL, 10);
			msgs[k].tenant = g_strdup(PQgetvalue(res, k, 2));
			msgs[k].rcpt = PQgetisnull(res, k, 3) ? NULL : g_strdup(PQgetvalue(res, k, 3));
			/* SMTP addresses never hold a newline: chr(10) separates them. */
			msgs[k].rcpts = g_strsplit(PQgetvalue(res, k, 5), "\n", -1);
			msgs[k].suppressible = strcmp(PQgetvalue(res, k, 6), "t") == 0;
			msgs[k].imported = strcmp(PQgetvalue(res, k, 7), "t") == 0;
			msgs[k].raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, k, 4),
			    &msgs[k].len);
		}
		g_free(last_id);
		g_free(last_at);
		last_id = g_strdup_printf("%" G_GINT64_FORMAT, msgs[n - 1].id);
		last_at = g_strdup_printf("%" G_GINT64_FORMAT, msgs[n - 1].arrival_us);
		PQclear(res);
		k = reprocess_batch(conn, cfg, c, msgs, n, &st, &err);
		for (i = 0; i < n; i++)
			reprocess_msg_free(&msgs[i]);
		g_free(msgs);
		if (k < 0)
			goto fail;
	}
	*stp = st;
	rc = 0;
fail:
	if (rc != 0)
		*errp = err ? err : g_strdup("failed");
	classify_free(c);
	if (conn)
		PQfinish(conn);
	g_free(last_at);
	g_free(last_id);
	return rc;
}
