/*
 * test_pipeline_db.c - the spool -> store hand-off with a real spool and a
 * real PostgreSQL (pgtest.h): entries leave the spool only once committed,
 * a database outage keeps them spooled and they drain in arrival order when
 * it returns, re-processing a committed message counts once, an unparsable
 * message is stored as kind none.  The classifier is a stand-in reading an
 * "X-Test-Class:" header, so this tests the hand-off, not the parsers.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "receiver/spool.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/pipeline.h"
#include "store/store.h"
#include "pgtest.h"
#include "unit.h"

static int dbseq;

struct fx {
	struct config *cfg;
	struct spool *spool;
	char *spooldir;
	PGconn *conn;
};

static void
fake_batch(void *arg, struct classify_job *jobs, size_t n)
{
	size_t i;

	(void)arg;
	for (i = 0; i < n; i++) {
		char *text = g_strndup(jobs[i].data, jobs[i].len);
		char *h = strstr(text, "X-Test-Class: ");
		char *to = strstr(text, "X-Test-To: ");
		struct report *r;
		struct report_record *rec;

		if (h == NULL || to == NULL) {
			jobs[i].report = NULL;
			jobs[i].outcome = g_strdup("no test header");
			g_free(text);
			continue;
		}
		r = report_new(REPORT_KIND_DSN);
		r->outcome = g_strdup("ok");
		rec = report_add_record(r);
		rec->class_ = (enum report_class)atoi(h + 14);
		rec->recipient = g_strndup(to + 11, strcspn(to + 11, "\r\n"));
		rec->reason = g_strdup("test");
		jobs[i].report = r;
		g_free(text);
	}
}

static void
fake_clear(void *arg, struct classify_job *job)
{
	(void)arg;
	report_free(job->report);
	g_free(job->outcome);
	job->report = NULL;
	job->outcome = NULL;
}

static void
fake_free(void *arg)
{
	(void)arg;
}

static struct pipeline *
fx_pipeline(struct fx *f)
{
	struct pipeline_classifier cl = { .batch = fake_batch, .clear = fake_clear,
	    .free = fake_free };
	char *err = NULL;
	struct pipeline *p = pipeline_start_with(f->cfg, f->spool, &cl, &err);

	if (p == NULL)
		g_error("pipeline: %s", err);
	return p;
}

static void
fx_setup(struct fx *f, gconstpointer data)
{
	char name[32], *err = NULL;

	(void)data;
	snprintf(name, sizeof name, "p%d", ++dbseq);
	f->cfg = config_defaults();
	g_free(f->cfg->store_conninfo);
	f->cfg->store_conninfo = pgtest_createdb(name);
	f->cfg->store_retry_max_seconds = 1;
	f->cfg->store_batch = 4;
	f->spooldir = unit_tmpdir("rebound-spool-XXXXXX");
	f->spool = spool_open(f->spooldir, &err);
	if (f->spool == NULL)
		g_error("spool: %s", err);
	f->conn = pg_connect(f->cfg->store_conninfo, &err);
	if (f->conn == NULL)
		g_error("connect: %s", err);
}

static void
fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	PQfinish(f->conn);
	spool_close(f->spool);
	unit_rmtree(f->spooldir);
	g_free(f->spooldir);
	config_free(f->cfg);
}

static char *
spool_put(struct fx *f, int cls, const char *to, const char *body)
{
	struct spool_envelope env = { 0 };
	char *rcpts[] = { (char *)"bounce@bounces.example.com", NULL };
	char *data, *err = NULL, *qid;

	env.client_addr = (char *)"127.0.0.1";
	env.helo = (char *)"test";
	env.mail_from = (char *)"";
	env.rcpts = rcpts;
	data = g_strdup_printf("Received: by test; %" G_GINT64_FORMAT "\r\n"
	    "X-Test-Class: %d\r\nX-Test-To: %s\r\n\r\n%s\r\n", g_get_real_time(), cls, to, body);
	if (spool_commit(f->spool, &env, data, strlen(data), &err) < 0)
		g_error("spool_commit: %s", err);
	qid = env.queue_id;
	g_free(data);
	return qid;
}

static int
q1i(struct fx *f, const char *sql)
{
	char *err = NULL;
	PGresult *r;
	int v;

	r = pg_exec(f->conn, sql, 0, NULL, PGRES_TUPLES_OK, NULL, &err);
	if (r == NULL && PQstatus(f->conn) != CONNECTION_OK) {
		/* our own connection did not survive the restart */
		g_free(err);
		PQreset(f->conn);
		r = pg_exec(f->conn, sql, 0, NULL, PGRES_TUPLES_OK, NULL, &err);
	}
	if (r == NULL)
		g_error("%s: %s", sql, err);
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static void
wait_drained(struct fx *f, int seconds)
{
	gint64 end = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;

	while (spool_count(f->spool) > 0 && g_get_monotonic_time() < end)
		g_usleep(20000);
	g_assert_cmpuint(spool_count(f->spool), ==, 0);
}

static void
test_handoff(struct fx *f, gconstpointer data)
{
	struct pipeline *p;
	int i;

	(void)data;
	/* already waiting at start, and arriving while it runs */
	g_free(spool_put(f, REPORT_CLASS_HARD, "h@example.org", "one"));
	p = fx_pipeline(f);
	for (i = 0; i < 9; i++) {
		char body[16];
		snprintf(body, sizeof body, "soft %d", i);
		g_free(spool_put(f, REPORT_CLASS_SOFT, "s@example.org", body));
	}
	g_free(spool_put(f, REPORT_CLASS_BLOCK, "b@example.org", "blocked"));
	g_free(spool_put(f, REPORT_CLASS_HARD, "x@example.org", "") );
	wait_drained(f, 20);
	pipeline_stop(p);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 12);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'hard'"), ==, 2);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'soft'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE address = 'b@example.org'"), ==, 0);
	/* stored in arrival order */
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM (SELECT id, queue_id, lag(queue_id) OVER"
	    " (ORDER BY id) AS prev FROM messages) x WHERE prev > queue_id"), ==, 0);
}

static void
test_unparsed_and_dedupe(struct fx *f, gconstpointer data)
{
	struct pipeline *p;
	char *qid;

	(void)data;
	p = fx_pipeline(f);
	/* not understood: stored as kind none with its raw bytes, never dropped */
	g_free(spool_put(f, 0, "", "x"));
	{
		struct spool_envelope env = { 0 };
		char *rcpts[] = { (char *)"b@bounces.example.com", NULL };
		char *err = NULL;
		env.mail_from = (char *)"";
		env.rcpts = rcpts;
		g_assert_cmpint(spool_commit(f->spool, &env, "junk\r\n", 6, &err), ==, 0);
		g_free(env.queue_id);
	}
	wait_drained(f, 20);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages WHERE kind = 'none'"
	    " AND outcome = 'no test header' AND raw = convert_to(E'junk\\r\\n', 'UTF8')"), ==, 1);
	/* the same report twice (different Received: lines) counts once */
	qid = spool_put(f, REPORT_CLASS_HARD, "d@example.org", "same");
	g_usleep(2000);
	g_free(spool_put(f, REPORT_CLASS_HARD, "d@example.org", "same"));
	wait_drained(f, 20);
	pipeline_stop(p);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE address_key = 'd@example.org'"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT event_count FROM suppressions WHERE address_key = 'd@example.org'"), ==, 1);
	g_free(qid);
}

static void
test_outage(struct fx *f, gconstpointer data)
{
	struct pipeline *p;
	int i;

	(void)data;
	p = fx_pipeline(f);
	g_free(spool_put(f, REPORT_CLASS_HARD, "first@example.org", "first"));
	wait_drained(f, 20);
	pgtest_ctl("stop");
	for (i = 0; i < 6; i++) {
		char body[16];
		snprintf(body, sizeof body, "during %d", i);
		g_free(spool_put(f, REPORT_CLASS_SOFT, "o@example.org", body));
	}
	g_usleep(2500000);
	/* nothing is lost or dropped while the database is away */
	g_assert_cmpuint(spool_count(f->spool), ==, 6);
	pgtest_ctl("start");
	/* back-off is capped at 1 s here: it drains on its own */
	wait_drained(f, 30);
	pipeline_stop(p);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 7);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM events WHERE class = 'soft'"), ==, 6);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM suppressions WHERE class = 'soft'"
	    " AND event_count = 6"), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM (SELECT queue_id, lag(queue_id) OVER"
	    " (ORDER BY id) AS prev FROM messages) x WHERE prev > queue_id"), ==, 0);
}

static void
test_schema_refused(struct fx *f, gconstpointer data)
{
	struct pipeline *p;
	char *err = NULL;

	(void)data;
	/* a database from a newer binary: keep everything spooled */
	g_assert_cmpint(migrate_apply(f->conn, NULL, &err), ==, 0);
	g_assert_cmpint(pg_command(f->conn, "INSERT INTO rebound_migrations VALUES (999, 'future')",
	    0, NULL, NULL, &err), ==, 0);
	p = fx_pipeline(f);
	g_free(spool_put(f, REPORT_CLASS_HARD, "n@example.org", "newer"));
	g_usleep(1500000);
	g_assert_cmpuint(spool_count(f->spool), ==, 1);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 0);
	/* once the schema is right, it drains */
	g_assert_cmpint(pg_command(f->conn, "DELETE FROM rebound_migrations WHERE version = 999",
	    0, NULL, NULL, &err), ==, 0);
	wait_drained(f, 20);
	pipeline_stop(p);
	g_assert_cmpint(q1i(f, "SELECT count(*) FROM messages"), ==, 1);
}

int
main(int argc, char **argv)
{
	pgtest_init(&argc, &argv);
#define T(path, fn) g_test_add(path, struct fx, NULL, fx_setup, fn, fx_teardown)
	T("/pipeline/handoff", test_handoff);
	T("/pipeline/unparsed-and-dedupe", test_unparsed_and_dedupe);
	T("/pipeline/outage", test_outage);
	T("/pipeline/schema-refused", test_schema_refused);
	return g_test_run();
}
