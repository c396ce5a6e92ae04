/*
 * store_policy.c - the policy's effect on suppressions in SQL: one event at a
 * time (store_event) and a batch's events round by round (store_batch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/policy.h"
#include "store/store.h"
#include "store/store_int.h"

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

int
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
 * The policy of a batch whose events are in rebound_batch_events, round by
 * round (pev: per event reaching the policy, its round, action and message
 * index; rounds 1..maxround); counts each message's suppressions in res[].
 */
int
store_batch_policy(PGconn *conn, const struct config *cfg, const GArray *pev, int maxround,
    struct store_result *res, size_t n, enum pg_error_class *cls, char **err)
{
	char srnd[16], window[32], threshold[32], expire[32];
	const char *pp[] = { srnd, window, threshold, expire };
	gint32 *mixed;			/* per round: anything but POLICY_SUPPRESS */
	PGresult *pr;
	size_t i;
	guint e;
	int round, rc = -1;

	snprintf(window, sizeof window, "%" G_GINT64_FORMAT, cfg->policy_soft_window_days);
	snprintf(threshold, sizeof threshold, "%" G_GINT64_FORMAT, cfg->policy_soft_threshold);
	snprintf(expire, sizeof expire, "%" G_GINT64_FORMAT, cfg->policy_soft_expire_days);
	mixed = g_new0(gint32, maxround + 1);
	for (e = 0; e < pev->len; e++) {
		const gint32 *v = &g_array_index(pev, gint32, e * 3);
		if (v[1] != POLICY_SUPPRESS)
			mixed[v[0]] = 1;
	}
	for (round = 1; round <= maxround; round++) {
		snprintf(srnd, sizeof srnd, "%d", round);
		if (!mixed[round]) {
			if (pg_command(conn, SQL_BATCH_SUPPRESS, 1, pp, cls, err) < 0)
				goto done;
			for (e = 0; e < pev->len; e++) {
				const gint32 *v = &g_array_index(pev, gint32, e * 3);
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
	rc = 0;
done:
	g_free(mixed);
	return rc;
}
