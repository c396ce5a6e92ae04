/*
 * store_batch.c - a batch of messages, their events and the policy's
 * effect in one transaction with a fixed number of round trips; see
 * store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/dkim.h"
#include "store/occurred.h"
#include "store/policy.h"
#include "store/provider.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/trust.h"
#include "store/webhook_outbox.h"

/*
 * The batch: a set-based transaction with a fixed number of round trips
 * however many messages it carries.  One statement names the hashes
 * already stored (duplicates) and takes ids for the others; those go
 * straight into messages by COPY (binary: every value length-prefixed, no
 * escaping).  The events go to a temporary table by COPY, whose columns
 * are the text parameters of store_event_sql()->insert, cast the same way; a few
 * INSERT ... SELECT statements move them into events and apply the policy
 * to suppressions.
 */
/* The staging table's own columns, before the events columns. */
#define STAGED_OWN \
    "seq int NOT NULL, msg_idx int NOT NULL, round int NOT NULL, policy int NOT NULL," \
    " pclass text, preason text, event_id bigint"
#define STAGED_OWN_NAMES	"seq, msg_idx, round, policy, pclass, preason, event_id"

/* The statements naming the events columns (store_event_sql), built once. */
struct batch_sql {
	char *begin;			/* BEGIN, the staging table, the actor */
	char *copy_events;		/* COPY into the staging table */
	char *events;			/* the staging table into events */
};

static struct batch_sql *
store_batch_sql_build(void)
{
	const struct store_event_sql *ev = store_event_sql();
	struct batch_sql *q = g_new0(struct batch_sql, 1);

	q->begin = g_strdup_printf("BEGIN;"
	    "SET LOCAL client_min_messages = warning;"
	    "CREATE TEMP TABLE IF NOT EXISTS rebound_batch_events (" STAGED_OWN ", %s)"
	    " ON COMMIT DELETE ROWS;"
	    "SELECT set_config('rebound.actor', 'policy', true)", ev->staged_decl);
	q->copy_events = g_strdup_printf("COPY rebound_batch_events (" STAGED_OWN_NAMES ", %s)"
	    " FROM STDIN (FORMAT binary)", ev->staged);
	/* Event ids are taken in batch order first, so that the policy can
	 * name each event and tell which ones came later in the batch. */
	q->events = g_strdup_printf("WITH ids AS (UPDATE rebound_batch_events e SET event_id = s.id"
	    " FROM (SELECT seq, nextval('events_id_seq') AS id"
	    "       FROM (SELECT seq FROM rebound_batch_events ORDER BY seq) o) s"
	    " WHERE e.seq = s.seq RETURNING e.*)"
	    " INSERT INTO events (id, %s) SELECT event_id, %s FROM ids ORDER BY seq", ev->names,
	    ev->moved);
	return q;
}

static const struct batch_sql *
store_batch_sql_text(void)
{
	static struct batch_sql *q;

	if (g_once_init_enter(&q))
		g_once_init_leave(&q, store_batch_sql_build());
	return q;
}

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

/*
 * What store_batch works out for each message before the transaction
 * opens (DKIM may wait on DNS, and the raw bytes are read once), indexed
 * like the batch.
 */
struct batch_prep {
	struct store_trust **trust;
	struct store_origin *origins;
	int64_t *msg_at;		/* when the message stands to have been sent */
	const char **tenants;
	unsigned char (*hashes)[32];
	char **hex;			/* hashes in hex, NULL-terminated */
	GString *hexes;			/* the new ones as a text[] literal, for SQL_BATCH_KNOWN */
	size_t nnew;			/* how many hexes holds */
};

/* The events being staged for the COPY into rebound_batch_events. */
struct batch_events {
	GByteArray *copy;
	GHashTable *rounds;
	GArray *pev;			/* per policy event: round, action, message index */
	int nev, maxround;
};

/*
 * Names the messages already stored (marked duplicate), takes ids for the
 * others and COPYs them into messages.
 */
static int
store_batch_messages(PGconn *conn, const struct config *cfg, const struct store_msg *msgs,
    size_t n, struct store_result *res, const struct batch_prep *bp,
    enum pg_error_class *cls, char **err)
{
	char **known = NULL, **ids = NULL, nstr[16];
	const char *kp[] = { bp->hexes->str, nstr };
	GHashTable *dup;
	GByteArray *mcopy;
	PGresult *pr;
	guint k, next = 0, nids;
	size_t i;
	int crc = 0;

	snprintf(nstr, sizeof nstr, "%zu", bp->nnew);
	pr = pg_exec(conn, SQL_BATCH_KNOWN, 2, kp, PGRES_TUPLES_OK, cls, err);
	if (pr == NULL)
		return -1;
	if (PQntuples(pr) != 1 ||
	    (known = store_split_array(PQgetvalue(pr, 0, 0))) == NULL ||
	    (ids = store_split_array(PQgetvalue(pr, 0, 1))) == NULL) {
		*err = g_strdup("batch: unexpected answer naming stored messages");
		*cls = PG_PERMANENT;
		crc = -1;
	}
	PQclear(pr);
	dup = g_hash_table_new(g_str_hash, g_str_equal);
	mcopy = store_copy_new();
	for (k = 0; crc == 0 && known[k] != NULL; k++)
		g_hash_table_add(dup, known[k]);
	nids = ids != NULL ? g_strv_length(ids) : 0;
	for (i = 0; crc == 0 && i < n; i++) {
		if (res[i].duplicate)
			continue;
		if (g_hash_table_contains(dup, bp->hex[i])) {
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
		store_copy_message(mcopy, cfg, res[i].message_id, &msgs[i], bp->hashes[i],
		    bp->trust[i]);
	}
	store_copy_finish(mcopy);
	if (crc == 0 && next > 0)
		crc = pg_copy_in(conn, SQL_BATCH_COPY_MESSAGES, mcopy->data, mcopy->len, cls, err);
	g_hash_table_destroy(dup);
	g_strfreev(known);
	g_strfreev(ids);
	g_byte_array_unref(mcopy);
	return crc;
}

/* Stages message i's events (none for a duplicate) and logs what its trust decided. */
static void
store_batch_stage_message(const struct config *cfg, const struct store_msg *m, size_t i,
    struct store_result *res, const struct batch_prep *bp, int64_t now_us,
    struct batch_events *be)
{
	const struct spool_envelope *env = m->env;
	const struct report *r = m->report;
	struct store_trust *trust = bp->trust[i];
	const char *q = env->queue_id ? env->queue_id : "-";
	guint j;

	if (res->duplicate)
		return;
	if (!store_keeps_raw(cfg, m))
		log_info("q=%s event=raw-not-kept message_id=%" G_GINT64_FORMAT " size=%zu "
		    "raw_max_mb=%" G_GINT64_FORMAT, q, res->message_id, m->len,
		    cfg->store_raw_max_mb);
	res->unsuppressible = store_trust_reason(trust);
	if (!store_trust_message(trust))
		log_info("q=%s event=unsuppressible message_id=%" G_GINT64_FORMAT " signature=%s",
		    q, res->message_id, store_trust_reason(trust));
	for (j = 0; r != NULL && r->records != NULL && j < r->records->len; j++) {
		const struct report_record *rec = r->records->pdata[j];
		/* a placeholder never reaches the policy, so it takes no room under the cap */
		gboolean counts = policy_decide(cfg, rec->class_, rec->feedback_type) !=
		    POLICY_NONE && !store_placeholder(rec, r, &bp->origins[i]);
		int64_t at = m->dated_by_report ?
		    occurred_at(r, rec, m->raw, m->len, bp->msg_at[i], now_us) : env->arrival_us;
		enum policy_action act;
		int round;

		round = store_copy_event(be->copy, cfg, be->rounds, be->nev++, i, res->message_id,
		    bp->tenants[i], at, r, &bp->origins[i], rec,
		    store_trust_take(trust, rec->recipient, counts), &act);
		if (round > 0) {
			gint32 v[3] = { round, (gint32)act, (gint32)i };
			g_array_append_vals(be->pev, v, 1);
		}
		be->maxround = MAX(be->maxround, round);
		res->events++;
	}
	res->capped = store_trust_over(trust);
	if (store_trust_over(trust) > 0) {
		char *first = log_escape(store_trust_first_over(trust),
		    strlen(store_trust_first_over(trust)), 256);
		log_warnx("q=%s event=suppression-cap message_id=%" G_GINT64_FORMAT " cap=%"
		    G_GINT64_FORMAT " over=%d first_over=\"%s\"", q, res->message_id,
		    cfg->policy_max_suppressions_per_message, store_trust_over(trust), first);
		g_free(first);
	}
}

/* Inside the open transaction: everything but BEGIN and COMMIT. */
static int
store_batch_sql(PGconn *conn, const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, const struct batch_prep *bp, enum pg_error_class *cls,
    char **err)
{
	struct batch_events be = { 0 };
	int64_t now_us = g_get_real_time();
	size_t i;
	int rc = -1;

	be.rounds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	be.pev = g_array_new(FALSE, FALSE, sizeof(gint32) * 3);
	if (store_batch_messages(conn, cfg, msgs, n, res, bp, cls, err) < 0)
		goto done;
	be.copy = store_copy_new();
	for (i = 0; i < n; i++)
		store_batch_stage_message(cfg, &msgs[i], i, &res[i], bp, now_us, &be);
	store_copy_finish(be.copy);
	if (be.nev > 0) {
		if (pg_copy_in(conn, store_batch_sql_text()->copy_events, be.copy->data, be.copy->len,
		    cls, err) < 0 ||
		    pg_command(conn, store_batch_sql_text()->events, 0, NULL, cls, err) < 0 ||
		    store_batch_webhooks(conn, cfg, cls, err) < 0)
			goto done;
		if (store_batch_policy(conn, cfg, be.pev, be.maxround, res, n, cls, err) < 0)
			goto done;
	}
	rc = 0;
done:
	if (be.copy != NULL)
		g_byte_array_unref(be.copy);
	g_hash_table_destroy(be.rounds);
	g_array_unref(be.pev);
	return rc;
}

/*
 * Before the transaction: each message's tenant, date, trust (DKIM), hash
 * and origin; a hash seen earlier in the batch marks the message duplicate.
 */
static void
store_batch_prepare(const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, struct batch_prep *bp)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	size_t i;

	bp->trust = g_new0(struct store_trust *, n);
	bp->origins = g_new0(struct store_origin, n);
	bp->msg_at = g_new0(int64_t, n);
	bp->tenants = g_new0(const char *, n);
	bp->hashes = g_malloc0((n ? n : 1) * 32);
	bp->hex = g_new0(char *, n + 1);
	bp->hexes = g_string_new("{");
	bp->nnew = 0;
	for (i = 0; i < n; i++) {
		const struct store_msg *m = &msgs[i];
		int j;

		memset(&res[i], 0, sizeof res[i]);
		bp->tenants[i] = store_tenant(cfg, m->env);
		/* a backfilled message stands for the time its notice was sent */
		bp->msg_at[i] = m->dated_by_report ? occurred_notice(m->raw, m->len,
		    m->env->arrival_us, g_get_real_time()) : m->env->arrival_us;
		bp->trust[i] = store_trust_of(cfg, m, bp->msg_at[i]);
		store_hash(m->raw, m->len, bp->hashes[i]);
		bp->hex[i] = g_malloc(65);
		for (j = 0; j < 32; j++)
			snprintf(bp->hex[i] + 2 * j, 3, "%02x", bp->hashes[i][j]);
		if (g_hash_table_contains(seen, bp->hex[i])) {
			/* the same report twice in one batch: the later one is the duplicate */
			res[i].duplicate = TRUE;
			continue;
		}
		g_hash_table_add(seen, bp->hex[i]);
		g_string_append_printf(bp->hexes, "%s%s", bp->nnew ? "," : "", bp->hex[i]);
		bp->nnew++;
		/* read from the raw message before the transaction opens, like DKIM */
		provider_origin(&bp->origins[i], m->raw, m->len, m->env->mail_from, m->report);
		if (store_trust_dkim_domain(bp->trust[i]) != NULL) {
			/* the verified signer names the provider better than any header */
			char *d = provider_registered_domain(store_trust_dkim_domain(bp->trust[i]));
			g_free(bp->origins[i].provider);
			bp->origins[i].provider = d ? d :
			    g_strdup(store_trust_dkim_domain(bp->trust[i]));
		}
	}
	g_string_append_c(bp->hexes, '}');
	g_hash_table_destroy(seen);
}

static void
store_batch_prep_clear(struct batch_prep *bp, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		store_trust_free(bp->trust[i]);
		provider_clear(&bp->origins[i]);
	}
	g_free(bp->trust);
	g_free(bp->origins);
	g_free(bp->msg_at);
	g_free(bp->tenants);
	g_free(bp->hashes);
	g_strfreev(bp->hex);
	g_string_free(bp->hexes, TRUE);
}

int
store_batch(PGconn *conn, const struct config *cfg, const struct store_msg *msgs, size_t n,
    struct store_result *res, size_t *failed, enum pg_error_class *cls, char **err)
{
	struct batch_prep bp;
	size_t i;
	int rc = -1;

	/* A set-based batch cannot name the message at fault: the caller
	 * stores each one alone (store_message) to find it. */
	*failed = n;
	store_batch_prepare(cfg, msgs, n, res, &bp);
	if (pg_exec_script(conn, store_batch_sql_text()->begin, cls, err) < 0) {
		/* BEGIN itself may have run: leave no transaction open */
		if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
			store_rollback(conn);
		goto done;
	}
	if (store_batch_sql(conn, cfg, msgs, n, res, &bp, cls, err) < 0) {
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
	store_batch_prep_clear(&bp, n);
	return rc;
}

int
store_message(PGconn *conn, const struct config *cfg, const struct store_msg *msg,
    struct store_result *res, enum pg_error_class *cls, char **err)
{
	size_t failed;

	return store_batch(conn, cfg, msg, 1, res, &failed, cls, err);
}

