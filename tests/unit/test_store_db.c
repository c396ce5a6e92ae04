/*
 * test_store_db.c - migrations, store_batch() and the suppression policy
 * against a real PostgreSQL (a throw-away cluster, see pgtest.h), with
 * hand-built reports so storage is tested independently of the parsers.
 */
#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/store.h"
#include "pgtest.h"

#define DAY_US	(G_GINT64_CONSTANT(86400) * 1000000)
#define T0	(G_GINT64_CONSTANT(1790000000) * 1000000)	/* a fixed arrival time */

struct fx {
	PGconn *conn;
	struct config *cfg;
	int seq;
};

static int dbseq;

static void
fx_setup(struct fx *f, gconstpointer data)
{
	char name[32], *ci, *err = NULL;
	int applied = -1;

	(void)data;
	snprintf(name, sizeof name, "t%d", ++dbseq);
	ci = pgtest_createdb(name);
	f->conn = pg_connect(ci, &err);
	if (f->conn == NULL)
		g_error("connect: %s", err);
	if (migrate_apply(f->conn, &applied, &err) < 0)
		g_error("migrate: %s", err);
	g_assert_cmpint(applied, ==, MIGRATE_LATEST);
	f->cfg = config_defaults();
	g_hash_table_replace(f->cfg->tenants, g_strdup("acme.example"), g_strdup("acme"));
	f->seq = 0;
	g_free(ci);
}

static void
fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	PQfinish(f->conn);
	config_free(f->cfg);
}

/* One-value query as a string (g_free). */
static char *
q1(struct fx *f, const char *sql)
{
	char *err = NULL, *v;
	PGresult *r = pg_exec(f->conn, sql, 0, NULL, PGRES_TUPLES_OK, NULL, &err);

	if (r == NULL)
		g_error("%s: %s", sql, err);
	g_assert_cmpint(PQntuples(r), ==, 1);
	v = PQgetisnull(r, 0, 0) ? NULL : g_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static int
q1i(struct fx *f, const char *sql)
{
	char *v = q1(f, sql);
	int n = v ? atoi(v) : -1;

	g_free(v);
	return n;
}

static struct report *
rep_new(enum report_kind kind)
{
	struct report *r = report_new(kind);

	r->outcome = g_strdup("ok");
	return r;
}

static struct report_record *
rep_add(struct report *r, const char *rcpt, enum report_class cls, const char *reason)
{
	struct report_record *rec = report_add_record(r);

	rec->recipient = g_strdup(rcpt);
	rec->class_ = cls;
	rec->reason = g_strdup(reason);
	rec->status = g_strdup(cls == REPORT_CLASS_SOFT ? "4.2.2" : "5.1.1");
	rec->action = g_strdup("failed");
	return rec;
}

/* Store report r as a message arriving at at_us to rcpt; returns the result. */
static struct store_result
put_full(struct fx *f, struct report *r, int64_t at_us, const char *rcpt, const char *body,
    int expect_rc, enum pg_error_class *cls_out)
{
	char qid[32], *raw, *err = NULL;
	char *rcpts[] = { (char *)rcpt, NULL };
	struct spool_envelope env = { 0 };
	struct store_msg m = { 0 };
	struct store_result res;
	enum pg_error_class cls = PG_OK;
	int rc;

	snprintf(qid, sizeof qid, "Q%015d", ++f->seq);
	env.queue_id = qid;
	env.arrival_us = at_us;
	env.client_addr = (char *)"192.0.2.7";
	env.helo = (char *)"mx.remote.example";
	env.mail_from = (char *)"";
	env.rcpts = rcpts;
	env.attempts = 1;
	/* our receiver's Received: line differs per delivery; the body does not */
	raw = g_strdup_printf("Received: from mx.remote.example\r\n\tby mx.test id %s;\r\n"
	    "Subject: test\r\n\r\n%s\r\n", qid, body ? body : qid);
	env.size = strlen(raw);
	m.env = &env;
	m.raw = raw;
	m.len = strlen(raw);
	m.report = r;
	m.outcome = r ? NULL : "unparsed";
	rc = store_message(f->conn, f->cfg, &m, &res, &cls, &err);
	if (rc != expect_rc)
		g_error("store_message rc=%d: %s", rc, err ? err : "");
	if (cls_out)
		*cls_out = cls;
	g_free(err);
	g_free(raw);
	return res;
}

static struct store_result
put(struct fx *f, const char *rcpt, enum report_class cls, int64_t at_us)
{
	struct report *r = rep_new(cls == REPORT_CLASS_COMPLAINT ? REPORT_KIND_ARF : REPORT_KIND_DSN);
	struct store_result res;

	rep_add(r, rcpt, cls, cls == REPORT_CLASS_HARD ? "userunknown" : "mailboxfull");
	res = put_full(f, r, at_us, "bounce@bounces.example.com", NULL, 0, NULL);
	report_free(r);
	return res;
}

static void
test_migrate_idempotent(struct fx *f, gconstpointer data)
{
	char *err = NULL;
	int applied = -1;

	(void)data;
	g_assert_cmpint(migrate_apply(f->conn, &applied, &err), ==, 0);
	g_assert_cmpint(applied, ==, 0);
	g_assert_cmpint(migrate_check(f->conn, &err), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM rebound_migrations"), ==, MIGRATE_LATEST);
	/* a database from a newer binary is refused, and left untouched */
	g_assert_cmpint(pg_command(f->conn, "INSERT INTO rebound_migrations VALUES (9999, 'x')",
	    0, NULL, NULL, &err), ==, 0);
	g_assert_cmpint(migrate_apply(f->conn, &applied, &err), ==, -1);
	g_assert_nonnull(strstr(err, "newer"));
	g_free(err);
	err = NULL;
	g_assert_cmpint(migrate_check(f->conn, &err), ==, -1);
	g_free(err);
}

static void
test_hard(struct fx *f, gconstpointer data)
{
	struct store_result res;

	(void)data;
	res = put(f, "<John.Doe@Example.COM>", REPORT_CLASS_HARD, T0);
	g_assert_false(res.duplicate);
	g_assert_cmpint(res.events, ==, 1);
	g_assert_cmpint(res.suppressions, ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE tenant = 'default'"
	    " AND address = 'John.Doe@example.com' AND address_key = 'john.doe@example.com'"
	    " AND class = 'hard' AND reason = 'userunknown' AND expires_at IS NULL"
	    " AND origin = 'automatic' AND event_id IS NOT NULL"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppression_audit WHERE op = 'add'"
	    " AND actor = 'policy' AND address_key = 'john.doe@example.com'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE class = 'hard'"
	    " AND status = '5.1.1' AND domain = 'example.com'"), ==, 1);
	/* the message row as the envelope and the report gave it */
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages WHERE id = (SELECT message_id FROM events)"
	    " AND queue_id = 'Q000000000000001' AND received_at = to_timestamp(1790000000)"
	    " AND client_addr = '192.0.2.7' AND helo = 'mx.remote.example' AND tls IS NULL"
	    " AND mail_from = '' AND rcpts = '{bounce@bounces.example.com}'::text[]"
	    " AND size = length(raw) AND length(sha256) = 32 AND tenant = 'default' AND kind = 'dsn'"
	    " AND outcome = 'ok' AND anomalies = 0 AND mta IS NULL AND attempts = 1"
	    " AND NOT quarantined AND suppressible AND raw LIKE 'Received: %'"), ==, 1);
	/* a second hard bounce (another report) updates the same row */
	res = put(f, "john.doe@EXAMPLE.com", REPORT_CLASS_HARD, T0 + 1000);
	g_assert_cmpint(q1i(f, "SELECT event_count FROM suppressions"), ==, 2);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppression_audit WHERE op = 'update'"), ==, 1);
}

static void
test_complaint(struct fx *f, gconstpointer data)
{
	struct report *r;
	struct report_record *rec;
	struct store_result res;

	(void)data;
	r = rep_new(REPORT_KIND_ARF);
	rec = rep_add(r, "a@example.net", REPORT_CLASS_COMPLAINT, "feedback");
	rec->feedback_type = g_strdup("abuse");
	res = put_full(f, r, T0, "fbl@bounces.example.com", NULL, 0, NULL);
	report_free(r);
	g_assert_cmpint(res.suppressions, ==, 1);

	r = rep_new(REPORT_KIND_ARF);
	rec = rep_add(r, "b@example.net", REPORT_CLASS_COMPLAINT, "feedback");
	rec->feedback_type = g_strdup("not-spam");
	res = put_full(f, r, T0, "fbl@bounces.example.com", NULL, 0, NULL);
	report_free(r);
	g_assert_cmpint(res.events, ==, 1);
	g_assert_cmpint(res.suppressions, ==, 0);

	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address_key = 'a@example.net'"
	    " AND class = 'complaint' AND expires_at IS NULL"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE feedback_type = 'not-spam'"), ==, 1);
}

static void
test_soft_threshold(struct fx *f, gconstpointer data)
{
	char *exp;

	(void)data;
	put(f, "s@example.org", REPORT_CLASS_SOFT, T0);
	put(f, "s@example.org", REPORT_CLASS_SOFT, T0 + 2 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);
	put(f, "S@example.org", REPORT_CLASS_SOFT, T0 + 5 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'soft'"
	    " AND event_count = 3"), ==, 1);
	exp = q1(f, "SELECT extract(epoch FROM expires_at - last_seen)::bigint FROM suppressions");
	g_assert_cmpstr(exp, ==, "2592000");	/* 30 days after the third */
	g_free(exp);
	/* a hard bounce makes it permanent */
	put(f, "s@example.org", REPORT_CLASS_HARD, T0 + 6 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'hard'"
	    " AND expires_at IS NULL"), ==, 1);
	/* and a later soft one does not make it temporary again */
	put(f, "s@example.org", REPORT_CLASS_SOFT, T0 + 7 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'hard'"
	    " AND expires_at IS NULL"), ==, 1);
}

static void
test_soft_window(struct fx *f, gconstpointer data)
{
	(void)data;
	/* three soft failures, but never three within 7 days */
	put(f, "w@example.org", REPORT_CLASS_SOFT, T0);
	put(f, "w@example.org", REPORT_CLASS_SOFT, T0 + 4 * DAY_US);
	put(f, "w@example.org", REPORT_CLASS_SOFT, T0 + 8 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);
	/* a delivery resets the count */
	put(f, "d@example.org", REPORT_CLASS_SOFT, T0);
	put(f, "d@example.org", REPORT_CLASS_SOFT, T0 + DAY_US);
	put(f, "d@example.org", REPORT_CLASS_DELIVERED, T0 + 2 * DAY_US);
	put(f, "d@example.org", REPORT_CLASS_SOFT, T0 + 3 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);
	put(f, "d@example.org", REPORT_CLASS_SOFT, T0 + 3 * DAY_US + 1);
	put(f, "d@example.org", REPORT_CLASS_SOFT, T0 + 3 * DAY_US + 2);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'soft'"), ==, 1);
	/* and a later delivery lifts the temporary suppression (audited) */
	put(f, "d@example.org", REPORT_CLASS_DELIVERED, T0 + 4 * DAY_US);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppression_audit WHERE op = 'remove'"
	    " AND actor = 'policy'"), ==, 1);
}

static void
test_never_suppress(struct fx *f, gconstpointer data)
{
	(void)data;
	put(f, "b@example.org", REPORT_CLASS_BLOCK, T0);
	put(f, "b@example.org", REPORT_CLASS_BLOCK, T0 + 1);
	put(f, "b@example.org", REPORT_CLASS_BLOCK, T0 + 2);
	put(f, "b@example.org", REPORT_CLASS_BLOCK, T0 + 3);
	put(f, "r@example.org", REPORT_CLASS_AUTOREPLY, T0);
	put(f, "u@example.org", REPORT_CLASS_UNKNOWN, T0);
	put(f, "v@example.org", REPORT_CLASS_DELIVERED, T0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events"), ==, 7);
	g_assert_cmpint(q1i(f, "SELECT count(DISTINCT class) FROM events"), ==, 4);
}

static void
test_dedupe(struct fx *f, gconstpointer data)
{
	struct report *r = rep_new(REPORT_KIND_DSN);
	struct store_result a, b;

	(void)data;
	rep_add(r, "x@example.org", REPORT_CLASS_SOFT, "mailboxfull");
	/* same body, different Received: line (queue id) and arrival */
	a = put_full(f, r, T0, "bounce@bounces.example.com", "same body", 0, NULL);
	b = put_full(f, r, T0 + 1, "bounce@bounces.example.com", "same body", 0, NULL);
	g_assert_false(a.duplicate);
	g_assert_true(b.duplicate);
	g_assert_cmpint(b.events, ==, 0);
	put_full(f, r, T0 + 2, "bounce@bounces.example.com", "same body", 0, NULL);
	report_free(r);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);
}

static void
test_unparsed_and_hostile(struct fx *f, gconstpointer data)
{
	struct report *r;
	char *v;

	(void)data;
	put_full(f, NULL, T0, "bounce@bounces.example.com", "not a bounce \x01\xff", 0, NULL);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages WHERE kind = 'none'"
	    " AND outcome = 'unparsed' AND position('\\xff'::bytea in raw) > 0"), ==, 1);
	/* invalid UTF-8 everywhere text goes: stored, sanitised, not looping */
	r = rep_new(REPORT_KIND_DSN);
	rep_add(r, "ok@example.org", REPORT_CLASS_HARD, "user\xfeunknown");
	rep_add(r, "bad\xc3\x28@example.org", REPORT_CLASS_HARD, "userunknown");
	r->mta = g_strdup("\xff\xfe");
	g_hash_table_replace(r->correlation, g_strdup("X-Campaign-Id"), g_strdup("c-\"42\"\xff"));
	put_full(f, r, T0, "b\xe9@bounces.example.com", NULL, 0, NULL);
	report_free(r);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address = 'ok@example.org'"
	    " AND reason = 'user\xef\xbf\xbdunknown'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE recipient LIKE 'bad%'"), ==, 1);
	v = q1(f, "SELECT DISTINCT campaign || '|' || (correlation->>'X-Campaign-Id') FROM events");
	g_assert_cmpstr(v, ==, "c-\"42\"\xef\xbf\xbd|c-\"42\"\xef\xbf\xbd");
	g_free(v);
	/* an address that does not parse is an event, never a suppression */
	r = rep_new(REPORT_KIND_DSN);
	rep_add(r, "no-at-sign", REPORT_CLASS_HARD, "userunknown");
	put_full(f, r, T0, "bounce@bounces.example.com", NULL, 0, NULL);
	report_free(r);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE recipient = 'no-at-sign'"), ==, 1);
}

static void
test_tenant(struct fx *f, gconstpointer data)
{
	struct report *r = rep_new(REPORT_KIND_DSN);

	(void)data;
	rep_add(r, "t@example.org", REPORT_CLASS_HARD, "userunknown");
	put_full(f, r, T0, "bounce+x@mail.ACME.example", "one", 0, NULL);
	put_full(f, r, T0, "bounce@bounces.example.com", "two", 0, NULL);
	report_free(r);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 2);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE tenant = 'acme'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages WHERE tenant = 'acme'"), ==, 1);
}

static void
test_errors(struct fx *f, gconstpointer data)
{
	struct report *r = rep_new(REPORT_KIND_DSN);
	struct spool_envelope env = { 0 };
	struct store_msg m[2] = { { 0 }, { 0 } };
	struct store_result res[2];
	enum pg_error_class cls;
	char *err = NULL, *pid;
	size_t failed = 99;
	PGconn *other;

	(void)data;
	rep_add(r, "e@example.org", REPORT_CLASS_HARD, "userunknown");
	/* permanent: the database refuses this message's data (no queue id) */
	env.arrival_us = T0;
	m[0].env = &env;
	m[0].raw = "a";
	m[0].len = 1;
	m[0].report = r;
	m[1] = m[0];
	m[1].raw = "b";
	{
		struct spool_envelope env0 = env;
		env0.queue_id = (char *)"OK";
		m[0].env = &env0;
		g_assert_cmpint(store_batch(f->conn, f->cfg, m, 2, res, &failed, &cls, &err), ==, -1);
	}
	g_assert_cmpint(cls, ==, PG_PERMANENT);
	/* a set-based batch cannot name the message at fault: n, each is then stored alone */
	g_assert_cmpint(failed, ==, 2);
	g_assert_nonnull(strstr(err, "23502"));
	g_free(err);
	err = NULL;
	/* nothing of the batch was committed */
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions"), ==, 0);

	/* transient: the server drops our connection */
	pid = g_strdup_printf("%d", PQbackendPID(f->conn));
	{
		char *ci = pgtest_conninfo("postgres");
		const char *p[] = { pid };
		PGresult *pr;
		other = pg_connect(ci, &err);
		g_assert_nonnull(other);
		pr = pg_exec(other, "SELECT pg_terminate_backend($1::int)", 1, p, PGRES_TUPLES_OK,
		    NULL, &err);
		g_assert_nonnull(pr);
		PQclear(pr);
		PQfinish(other);
		g_free(ci);
	}
	g_usleep(100000);
	env.queue_id = (char *)"Q2";
	m[0].env = &env;
	g_assert_cmpint(store_message(f->conn, f->cfg, &m[0], res, &cls, &err), ==, -1);
	g_assert_cmpint(cls, ==, PG_TRANSIENT);
	g_free(err);
	g_free(pid);
	report_free(r);
}

static void
test_batch(struct fx *f, gconstpointer data)
{
	struct report *r = rep_new(REPORT_KIND_DSN);
	struct spool_envelope env[3];
	struct store_msg m[3];
	struct store_result res[3];
	char *rc[] = { (char *)"b@bounces.example.com", NULL };
	char raw[3][8];
	enum pg_error_class cls;
	char *err = NULL;
	size_t failed, i;

	(void)data;
	rep_add(r, "m@example.org", REPORT_CLASS_SOFT, "mailboxfull");
	for (i = 0; i < 3; i++) {
		memset(&env[i], 0, sizeof env[i]);
		memset(&m[i], 0, sizeof m[i]);
		env[i].queue_id = (char *)"QB";
		env[i].arrival_us = T0 + (int64_t)i;
		env[i].rcpts = rc;
		snprintf(raw[i], sizeof raw[i], "r%zu", i);
		m[i].env = &env[i];
		m[i].raw = raw[i];
		m[i].len = strlen(raw[i]);
		m[i].report = r;
	}
	/* three soft bounces inside one transaction see each other */
	g_assert_cmpint(store_batch(f->conn, f->cfg, m, 3, res, &failed, &cls, &err), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 3);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'soft'"), ==, 1);
	g_assert_cmpint(res[2].suppressions, ==, 1);
	report_free(r);
}

/*
 * The suppression rows, their audit trail and the events, as one comparable
 * text.  The audit trail is compared per address: a batch keeps the order
 * of each address's changes, not how changes of different addresses
 * interleave.
 */
static char *
state_text(PGconn *conn)
{
	static const char *const sql[] = {
		"SELECT string_agg(concat_ws('|', tenant, address, address_key, domain, class, reason,"
		" first_seen, last_seen, event_count, expires_at, origin, event_id), E'\\n'"
		" ORDER BY tenant, address_key) FROM suppressions",
		"SELECT string_agg(concat_ws('|', tenant, address_key, op, origin, actor,"
		" new->>'class', new->>'event_count', new->>'expires_at', new->>'event_id'), E'\\n'"
		" ORDER BY tenant, address_key, id) FROM suppression_audit",
		"SELECT string_agg(concat_ws('|', id, message_id, recipient, class, occurred_at,"
		" suppressible), E'\\n' ORDER BY id) FROM events",
		"SELECT string_agg(concat_ws('|', id, queue_id, kind), E'\\n' ORDER BY id) FROM messages",
	};
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(sql); i++) {
		char *err = NULL;
		PGresult *r = pg_exec(conn, sql[i], 0, NULL, PGRES_TUPLES_OK, NULL, &err);
		if (r == NULL)
			g_error("%s: %s", sql[i], err);
		g_string_append_printf(s, "%s\n--\n", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return g_string_free(s, FALSE);
}

/*
 * One batch gives what the same messages stored one at a time give: the
 * events of one address interleave soft failures, deliveries, a hard
 * failure and a complaint, one message names an address twice, and one
 * message is in the batch twice.
 */
static void
test_batch_as_one_at_a_time(struct fx *f, gconstpointer data)
{
	static const struct { const char *rcpt; enum report_class cls; int at_day; } ev[] = {
		{ "s@example.org", REPORT_CLASS_SOFT, 0 }, { "S@example.org", REPORT_CLASS_SOFT, 1 },
		{ "d@example.org", REPORT_CLASS_HARD, 1 }, { "s@example.org", REPORT_CLASS_DELIVERED, 2 },
		{ "s@example.org", REPORT_CLASS_SOFT, 3 }, { "s@example.org", REPORT_CLASS_SOFT, 3 },
		{ "s@example.org", REPORT_CLASS_SOFT, 4 }, { "d@example.org", REPORT_CLASS_SOFT, 4 },
		{ "c@example.org", REPORT_CLASS_COMPLAINT, 4 }, { "s@example.org", REPORT_CLASS_SOFT, 5 },
		{ "s@example.org", REPORT_CLASS_DELIVERED, 6 }, { "c@example.org", REPORT_CLASS_HARD, 6 },
		/* spool order is not arrival order: a later message may have arrived earlier */
		{ "o@example.org", REPORT_CLASS_SOFT, 9 }, { "o@example.org", REPORT_CLASS_SOFT, 8 },
		{ "o@example.org", REPORT_CLASS_SOFT, 7 },
	};
	enum { N = G_N_ELEMENTS(ev) + 1 };
	struct report *r[N];
	struct spool_envelope env[N];
	struct store_msg m[N];
	struct store_result res[N], one;
	char *rc[] = { (char *)"b@bounces.example.com", NULL };
	char raw[N][16], qid[N][16], *ci, *err = NULL, *a, *b;
	enum pg_error_class cls;
	PGconn *other;
	size_t failed, i;
	int applied, sup_batch = 0, sup_one = 0;

	(void)data;
	for (i = 0; i < N; i++) {
		size_t e = i < G_N_ELEMENTS(ev) ? i : 4;	/* the last repeats message 4 */
		r[i] = rep_new(ev[e].cls == REPORT_CLASS_COMPLAINT ? REPORT_KIND_ARF : REPORT_KIND_DSN);
		rep_add(r[i], ev[e].rcpt, ev[e].cls, ev[e].cls == REPORT_CLASS_HARD ? "userunknown" :
		    ev[e].cls == REPORT_CLASS_DELIVERED ? "delivered" : "mailboxfull");
		if (e == 5)	/* the same address twice in one report */
			rep_add(r[i], "s@example.org", REPORT_CLASS_SOFT, "mailboxfull");
		if (ev[e].cls == REPORT_CLASS_COMPLAINT)
			((struct report_record *)r[i]->records->pdata[0])->feedback_type = g_strdup("abuse");
		memset(&env[i], 0, sizeof env[i]);
		memset(&m[i], 0, sizeof m[i]);
		snprintf(qid[i], sizeof qid[i], "QB%zu", i);
		snprintf(raw[i], sizeof raw[i], "r%zu", e);
		env[i].queue_id = qid[i];
		env[i].arrival_us = T0 + ev[e].at_day * DAY_US + (int64_t)i;
		env[i].rcpts = rc;
		m[i].env = &env[i];
		m[i].raw = raw[i];
		m[i].len = strlen(raw[i]);
		m[i].report = r[i];
	}
	g_assert_cmpint(store_batch(f->conn, f->cfg, m, N, res, &failed, &cls, &err), ==, 0);
	g_assert_true(res[N - 1].duplicate);
	g_assert_cmpint(res[5].events, ==, 2);

	ci = pgtest_createdb("onebyone");
	other = pg_connect(ci, &err);
	g_assert_nonnull(other);
	g_assert_cmpint(migrate_apply(other, &applied, &err), ==, 0);
	for (i = 0; i < N; i++) {
		g_assert_cmpint(store_message(other, f->cfg, &m[i], &one, &cls, &err), ==, 0);
		g_assert_cmpint(one.duplicate, ==, res[i].duplicate);
		g_assert_cmpint(one.message_id, ==, res[i].message_id);
		g_assert_cmpint(one.events, ==, res[i].events);
		sup_batch += res[i].suppressions;
		sup_one += one.suppressions;
		g_assert_cmpint(one.suppressions, ==, res[i].suppressions);
	}
	a = state_text(f->conn);
	b = state_text(other);
	g_assert_cmpstr(a, ==, b);
	/* and the case is one that changes the list more than once */
	g_assert_cmpint(sup_batch, >=, 4);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppression_audit WHERE op = 'remove'"), >=, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address_key = 'd@example.org'"
	    " AND class = 'hard'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address_key = 'o@example.org'"),
	    ==, 0);
	g_free(a);
	g_free(b);
	g_free(ci);
	PQfinish(other);
	for (i = 0; i < N; i++)
		report_free(r[i]);
}

/*
 * One batch carrying what the analyst side adds: placeholders are stored
 * but never suppress; a complaint names its provider; a backfilled
 * message's events are dated from the report, and those dates (not the
 * import's) place them in the soft window; every new event is queued for
 * the webhook endpoints of its tenant in the same transaction.
 */
static void
test_batch_origin_dates_webhooks(struct fx *f, gconstpointer data)
{
	static const char *const dates[] = { "1 Oct 2026 10:00:00 +0000",
	    "11 Oct 2026 10:00:00 +0000", "21 Oct 2026 10:00:00 +0000" };
	struct report *r[5];
	struct spool_envelope env[5];
	struct store_msg m[5];
	struct store_result res[5];
	char *rc[] = { (char *)"b@bounces.example.com", NULL };
	char *raw[5], *err = NULL, *v;
	enum pg_error_class cls;
	size_t failed, i;

	(void)data;
	g_strfreev(f->cfg->webhook_url);
	f->cfg->webhook_url = g_new0(char *, 3);
	f->cfg->webhook_url[0] = g_strdup("http://127.0.0.1:9/all");
	f->cfg->webhook_url[1] = g_strdup("acme=http://127.0.0.1:9/acme");
	r[0] = rep_new(REPORT_KIND_DSN);
	rep_add(r[0], "ghost@nowhere.invalid", REPORT_CLASS_HARD, "userunknown");
	rep_add(r[0], "real@example.org", REPORT_CLASS_HARD, "userunknown");
	r[1] = rep_new(REPORT_KIND_ARF);
	rep_add(r[1], "plain@example.org", REPORT_CLASS_COMPLAINT, "abuse");
	raw[0] = g_strdup("Subject: dsn\r\n\r\nx\r\n");
	raw[1] = g_strdup("From: FBL <fbl@fbl.mail.yahoo.com>\r\nSubject: arf\r\n\r\nx\r\n");
	for (i = 2; i < 5; i++) {
		r[i] = rep_new(REPORT_KIND_DSN);
		rep_add(r[i], "late@example.org", REPORT_CLASS_SOFT, "mailboxfull");
		raw[i] = g_strdup_printf("Date: %s\r\nSubject: soft\r\n\r\n%zu\r\n", dates[i - 2], i);
	}
	for (i = 0; i < 5; i++) {
		memset(&env[i], 0, sizeof env[i]);
		memset(&m[i], 0, sizeof m[i]);
		env[i].queue_id = (char *)"QO";
		env[i].arrival_us = T0;
		env[i].rcpts = rc;
		m[i].env = &env[i];
		m[i].raw = raw[i];
		m[i].len = strlen(raw[i]);
		m[i].report = r[i];
		m[i].dated_by_report = i >= 2;
	}
	g_assert_cmpint(store_batch(f->conn, f->cfg, m, 5, res, &failed, &cls, &err), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events"), ==, 6);
	/* the placeholder is an event, never a suppression; its neighbour is */
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE address_key = 'ghost@nowhere.invalid'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address_key = 'ghost@nowhere.invalid'"), ==, 0);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address_key = 'real@example.org'"), ==, 1);
	v = q1(f, "SELECT provider FROM events WHERE class = 'complaint'");
	g_assert_cmpstr(v, ==, "yahoo.com");
	g_free(v);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE class <> 'complaint' AND provider IS NOT NULL"), ==, 0);
	/* three soft bounces ten days apart: dated by their reports, never three in a window */
	v = q1(f, "SELECT string_agg(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), ',' ORDER BY id)"
	    " FROM events WHERE address_key = 'late@example.org'");
	g_assert_cmpstr(v, ==, "2026-10-01,2026-10-11,2026-10-21");
	g_free(v);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address_key = 'late@example.org'"), ==, 0);
	/* one delivery per event for the every-tenant endpoint, none for acme's */
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM webhook_outbox WHERE url = 'http://127.0.0.1:9/all'"
	    " AND state = 'pending'"), ==, 6);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM webhook_outbox o JOIN events e ON e.id = o.event_id"
	    " AND e.tenant = o.tenant"), ==, 6);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM webhook_outbox WHERE url LIKE '%/acme'"), ==, 0);
	for (i = 0; i < 5; i++) {
		report_free(r[i]);
		g_free(raw[i]);
	}
}

int
main(int argc, char **argv)
{
	pgtest_init(&argc, &argv);
#define T(path, fn) g_test_add(path, struct fx, NULL, fx_setup, fn, fx_teardown)
	T("/store/migrate", test_migrate_idempotent);
	T("/store/hard", test_hard);
	T("/store/complaint", test_complaint);
	T("/store/soft-threshold", test_soft_threshold);
	T("/store/soft-window-and-reset", test_soft_window);
	T("/store/never-suppress", test_never_suppress);
	T("/store/dedupe", test_dedupe);
	T("/store/unparsed-and-hostile", test_unparsed_and_hostile);
	T("/store/tenant", test_tenant);
	T("/store/errors", test_errors);
	T("/store/batch", test_batch);
	T("/store/batch-as-one-at-a-time", test_batch_as_one_at_a_time);
	T("/store/batch-origin-dates-webhooks", test_batch_origin_dates_webhooks);
	return g_test_run();
}
