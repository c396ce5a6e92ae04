/* pipeline.c - spool -> parse -> PostgreSQL -> spool_remove; see pipeline.h. */
#include "store/pipeline.h"

#include <string.h>
#include <glib.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "common/metrics.h"
#include "store/migrate.h"
#include "store/pg.h"
#include "store/store.h"
#include "workers/workers.h"

#define PURGE_INTERVAL_US	(G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC)
#define IDLE_WAIT_US		(G_GINT64_CONSTANT(60) * G_USEC_PER_SEC)
#define BATCH_LINGER_US		(G_GINT64_CONSTANT(20) * 1000)
/* A batch also ends at this many bytes of messages: two batches are in
 * memory at once, and [store] batch counts messages of any size. */
#define BATCH_MAX_BYTES		((gsize)64 << 20)

struct pipeline {
	const struct config *cfg;
	struct spool *spool;
	struct pipeline_classifier cl;
	GThread *thread;

	GMutex mu;			/* guards wake, stop, next_cfg */
	GCond cond;
	gboolean wake, stop;
	const struct config *next_cfg;	/* from pipeline_reload, taken between passes */

	/* thread-only state */
	PGconn *conn;
	gboolean schema_ok;
	gboolean down;			/* logged state */
	int64_t backoff_s;
	gint64 next_purge;

	gsize stored;			/* atomic */
	struct remover *rm;
};

/* One spooled message on its way. */
struct item {
	char *queue_id;
	struct spool_envelope *env;
	GBytes *data;
	struct classify_job job;
	gboolean quarantined;
	char *outcome;
};

static void
item_clear(struct pipeline *p, struct item *it)
{
	g_free(it->queue_id);
	spool_envelope_free(it->env);
	if (it->data)
		g_bytes_unref(it->data);
	p->cl.clear(p->cl.arg, &it->job);
	g_free(it->outcome);
	memset(it, 0, sizeof *it);
}

static void
pipeline_notify(void *arg)
{
	struct pipeline *p = arg;

	g_mutex_lock(&p->mu);
	p->wake = TRUE;
	g_cond_signal(&p->cond);
	g_mutex_unlock(&p->mu);
}

/* Sleep up to us microseconds, or until woken / stopped; returns stop. */
static gboolean
pipeline_wait(struct pipeline *p, gint64 us, gboolean wake_ok)
{
	gint64 end = g_get_monotonic_time() + us;
	gboolean stop;

	g_mutex_lock(&p->mu);
	while (!p->stop && !(wake_ok && p->wake))
		if (!g_cond_wait_until(&p->cond, &p->mu, end))
			break;
	if (wake_ok)
		p->wake = FALSE;
	stop = p->stop;
	g_mutex_unlock(&p->mu);
	return stop;
}

static gboolean
pipeline_stopping(struct pipeline *p)
{
	gboolean s;

	g_mutex_lock(&p->mu);
	s = p->stop;
	g_mutex_unlock(&p->mu);
	return s;
}

/* The one place the store's availability changes; logs each change once. */
static void
pipeline_set_down(struct pipeline *p, gboolean down, const char *why)
{
	if (down == p->down)
		return;
	p->down = down;
	if (down) {
		char *e = log_escape(why ? why : "", strlen(why ? why : ""), 300);
		log_warnx("store state=down backlog=%zu error=\"%s\" retry_max=%llds",
		    spool_count(p->spool), e, (long long)p->cfg->store_retry_max_seconds);
		g_free(e);
	} else
		log_info("store state=up backlog=%zu", spool_count(p->spool));
}

static void
pipeline_disconnect(struct pipeline *p)
{
	if (p->conn != NULL)
		PQfinish(p->conn);
	p->conn = NULL;
	p->schema_ok = FALSE;
}

/* Failure: wait the back-off (doubling, capped); returns TRUE when stopping. */
static gboolean
pipeline_backoff(struct pipeline *p, const char *why)
{
	gint64 wait;

	pipeline_set_down(p, TRUE, why);
	log_debug("store retry_in=%llds error=\"%s\"", (long long)p->backoff_s, why);
	wait = p->backoff_s * G_USEC_PER_SEC;
	p->backoff_s *= 2;
	if (p->backoff_s > p->cfg->store_retry_max_seconds)
		p->backoff_s = p->cfg->store_retry_max_seconds;
	return pipeline_wait(p, wait, FALSE);
}

/* A usable connection with the right schema, or -1 with *err. */
static int
pipeline_connect(struct pipeline *p, char **err)
{
	if (p->conn != NULL && PQstatus(p->conn) != CONNECTION_OK)
		pipeline_disconnect(p);
	if (p->conn == NULL && (p->conn = pg_connect(p->cfg->store_conninfo, err)) == NULL)
		return -1;
	if (!p->schema_ok) {
		int n = 0;
		if (p->cfg->store_migrate_on_start ? migrate_apply(p->conn, &n, err) :
		    migrate_check(p->conn, err)) {
			pipeline_disconnect(p);
			return -1;
		}
		if (n > 0)
			log_info("store migrated=%d schema=%d", n, MIGRATE_LATEST);
		p->schema_ok = TRUE;
	}
	return 0;
}

static void
pipeline_parse_batch(struct pipeline *p, struct item *items, size_t n)
{
	struct classify_job *jobs = g_new0(struct classify_job, n);
	size_t i, k = 0;
	size_t *map = g_new0(size_t, n);

	const char **ids = g_new(const char *, n);
	int *att = g_new(int, n);
	char *err = NULL;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		/* The attempt is counted durably before parsing, so a message
		 * that kills the daemon is quarantined after max_attempts. */
		if (it->env->attempts >= p->cfg->parser_max_attempts) {
			it->quarantined = TRUE;
			it->outcome = g_strdup_printf("quarantined: parsing did not finish in %d attempts",
			    it->env->attempts);
			continue;
		}
		it->env->attempts++;
		ids[k] = it->queue_id;
		att[k] = it->env->attempts;
		jobs[k].data = g_bytes_get_data(it->data, &jobs[k].len);
		jobs[k].envelope_rcpt = it->env->rcpts ? it->env->rcpts[0] : NULL;
		map[k++] = i;
	}
	/* One write and one sync for the whole batch (spool_begin_attempts);
	 * a message kept for retry gets its own record in pipeline_poison(). */
	if (k > 0 && spool_begin_attempts(p->spool, ids, att, k, &err) < 0) {
		log_warnx("store begin_attempts error=\"%s\"", err);
		g_free(err);
	}
	g_free(ids);
	g_free(att);
	p->cl.batch(p->cl.arg, jobs, k);
	for (i = 0; i < k; i++)
		items[map[i]].job = jobs[i];
	g_free(jobs);
	g_free(map);
}

/*
 * The poison-message policy, after parsing: a message whose worker crashed,
 * timed out or ran out of memory stays in the spool for another attempt
 * until it has used [parser] max_attempts (counted durably before each
 * attempt), then is stored quarantined, raw, with what happened.  A pool
 * failure (fork, socket) is not the message's fault: its attempt is given
 * back.  Items to store end up in items[0..return value), the ones held
 * back after them; *pool_error tells the caller to pause before retrying.
 */
static size_t
pipeline_poison(struct pipeline *p, struct item *items, size_t n, gboolean *pool_error)
{
	struct item *held = g_new(struct item, n);
	size_t i, m = 0, h = 0;

	*pool_error = FALSE;
	for (i = 0; i < n; i++) {
		struct item *it = &items[i];
		int st = it->job.status;
		char *err = NULL;

		if (st == WORKERS_OK || it->quarantined) {
			items[m++] = *it;
			continue;
		}
		if (st == WORKERS_ERROR) {
			*pool_error = TRUE;
			if (spool_set_attempts(p->spool, it->queue_id, it->env->attempts - 1, &err) < 0) {
				log_warnx("q=%s set_attempts error=\"%s\"", it->queue_id, err);
				g_free(err);
			}
			log_warnx("q=%s parse=deferred error=\"%s\"", it->queue_id, it->job.outcome);
			held[h++] = *it;
		} else if (workers_should_quarantine(it->env->attempts, p->cfg)) {
			it->quarantined = TRUE;
			it->outcome = g_strdup_printf("quarantined: %s after %d attempt%s",
			    it->job.outcome, it->env->attempts, it->env->attempts == 1 ? "" : "s");
			workers_note_quarantined();
			log_warnx("q=%s quarantined attempts=%d outcome=\"%s\"", it->queue_id,
			    it->env->attempts, it->job.outcome);
			items[m++] = *it;
		} else {
			/* The in-flight record lasts only this batch: keep the count. */
			if (spool_set_attempts(p->spool, it->queue_id, it->env->attempts, &err) < 0) {
				log_warnx("q=%s set_attempts error=\"%s\"", it->queue_id, err);
				g_free(err);
				err = NULL;
			}
			log_warnx("q=%s parse=failed attempt=%d/%lld outcome=\"%s\" retry=yes",
			    it->queue_id, it->env->attempts, (long long)p->cfg->parser_max_attempts,
			    it->job.outcome);
			held[h++] = *it;
		}
	}
	memcpy(items + m, held, h * sizeof(*held));
	g_free(held);
	return m;
}

static void
pipeline_fill(struct item *it, struct store_msg *m)
{
	memset(m, 0, sizeof *m);
	m->env = it->env;
	m->raw = g_bytes_get_data(it->data, &m->len);
	m->report = it->job.report;
	m->outcome = it->outcome ? it->outcome : it->job.outcome;
	if (m->report == NULL && m->outcome == NULL)
		m->outcome = "parser returned nothing";
	m->quarantined = it->quarantined;
}

/*
 * Counted after COMMIT, so a rolled-back batch counts nothing: messages by
 * kind (duplicates apart), and their recipient records by class and by
 * reason (the reason vocabulary is the parser's, a bounded set); messages
 * nothing vouched for by why, and records over the per-message cap.
 */
static void
pipeline_count(struct item *it, const struct store_result *r)
{
	const struct report *rep = it->job.report;
	guint i;

	if (r->duplicate) {
		metrics_inc("rebound_messages_duplicate_total", NULL, NULL);
		return;
	}
	metrics_inc("rebound_messages_total", "kind",
	    it->quarantined ? "quarantined" : rep ? store_kind_name(rep->kind) : "none");
	/* reasons are store/trust.c's fixed vocabulary */
	if (r->unsuppressible != NULL)
		metrics_inc("rebound_messages_unsuppressible_total", "reason", r->unsuppressible);
	if (r->capped > 0)
		metrics_add("rebound_suppressions_capped_total", NULL, NULL, (double)r->capped);
	for (i = 0; rep != NULL && !it->quarantined && rep->records != NULL &&
	    i < rep->records->len; i++) {
		const struct report_record *rec = rep->records->pdata[i];
		metrics_inc("rebound_messages_class_total", "class", store_class_name(rec->class_));
		metrics_inc("rebound_messages_reason_total", "reason",
		    rec->reason && *rec->reason ? rec->reason : "none");
	}
}

/* A committed message: logged and counted; the caller removes its spool entry. */
static void
pipeline_committed(struct pipeline *p, struct item *it, const struct store_result *r)
{

	if (r->duplicate)
		log_info("q=%s stored duplicate=yes", it->queue_id);
	else
		log_info("q=%s stored message_id=%" G_GINT64_FORMAT " kind=%s events=%d suppressions=%d%s",
		    it->queue_id, r->message_id,
		    it->job.report ? store_kind_name(it->job.report->kind) : "none",
		    r->events, r->suppressions, it->quarantined ? " quarantined=yes" : "");
	pipeline_count(it, r);
	g_atomic_pointer_add(&p->stored, 1);
}

/* Only after COMMIT may the spool forget ids[0..n). */
static void
pipeline_remove_ids(struct pipeline *p, const char *const *ids, size_t n)
{
	char **errs = g_new0(char *, n);
	size_t i;

	if (spool_remove_many(p->spool, ids, n, errs) > 0)
		for (i = 0; i < n; i++)
			if (errs[i] != NULL) {
				/* harmless: it will be found again and deduplicated */
				log_warnx("q=%s spool_remove error=\"%s\"", ids[i], errs[i]);
				g_free(errs[i]);
			}
	g_free(errs);
}

static void
pipeline_remove(struct pipeline *p, struct item *items, size_t n)
{
	const char **ids = g_new(const char *, n);
	size_t i;

	for (i = 0; i < n; i++)
		ids[i] = items[i].queue_id;
	pipeline_remove_ids(p, ids, n);
	g_free(ids);
}

/*
 * Committed batches leave the spool on a thread of their own: the removal
 * ends with a directory sync, which waits on the disk as long as a COMMIT
 * does, and neither the next batch's parsing nor its COMMIT need wait for
 * it.  A batch is a GPtrArray of queue ids; an empty one ends the thread.
 */
struct remover {
	GAsyncQueue *q;
	GThread *thread;
};

static gpointer
pipeline_remover_main(gpointer arg)
{
	struct pipeline *p = arg;
	GPtrArray *ids;

	while ((ids = g_async_queue_pop(p->rm->q))->len > 0) {
		pipeline_remove_ids(p, (const char *const *)ids->pdata, ids->len);
		g_ptr_array_unref(ids);
	}
	g_ptr_array_unref(ids);
	return NULL;
}

static void
pipeline_remove_later(struct pipeline *p, struct item *items, size_t n)
{
	GPtrArray *ids = g_ptr_array_new_full((guint)n, g_free);
	size_t i;

	if (p->rm->thread == NULL)
		p->rm->thread = g_thread_new("spool-remove", pipeline_remover_main, p);
	for (i = 0; i < n; i++)
		g_ptr_array_add(ids, g_strdup(items[i].queue_id));
	g_async_queue_push(p->rm->q, ids);
}

/* Every batch handed to the remover is out of the spool index after this. */
static void
pipeline_remover_drain(struct pipeline *p)
{
	if (p->rm->thread == NULL)
		return;
	g_async_queue_push(p->rm->q, g_ptr_array_new());
	g_thread_join(p->rm->thread);
	p->rm->thread = NULL;
}

static void
pipeline_done(struct pipeline *p, struct item *it, const struct store_result *r)
{
	pipeline_committed(p, it, r);
	pipeline_remove(p, it, 1);
}

/* One try at storing item it, as m, alone: 1 stored, 0 refused with the
 * reason in *err, -1 on a transient failure (*err). */
static int
pipeline_try_alone(struct pipeline *p, struct item *it, const struct store_msg *m, char **err)
{
	struct store_result r;
	enum pg_error_class cls;

	if (store_message(p->conn, p->cfg, m, &r, &cls, err) == 0) {
		pipeline_done(p, it, &r);
		return 1;
	}
	return cls == PG_TRANSIENT ? -1 : 0;
}

/*
 * One message the database refused as part of a batch: store it alone; if
 * its data is refused again, store the raw message with the error instead of
 * the report so it never loops.  Returns -1 on a transient failure.
 */
static int
pipeline_store_alone(struct pipeline *p, struct item *it, char **err)
{
	struct store_msg m;
	char *e = NULL;
	int rc;

	pipeline_fill(it, &m);
	if ((rc = pipeline_try_alone(p, it, &m, &e)) == 0) {
		log_warnx("q=%s store_refused error=\"%s\" stored_as=none", it->queue_id, e);
		g_free(it->outcome);
		it->outcome = g_strdup_printf("store error: %s", e);
		g_free(e);
		e = NULL;
		m.report = NULL;
		m.outcome = it->outcome;
		if ((rc = pipeline_try_alone(p, it, &m, &e)) == 0) {
			/* Cannot happen with a sane schema; leave it spooled, keep draining. */
			log_warnx("q=%s store_refused_again error=\"%s\" left_in_spool=yes",
			    it->queue_id, e);
			g_free(e);
			return 0;
		}
	}
	if (rc < 0) {
		*err = e;
		return -1;
	}
	return 0;
}

/*
 * Store items[0..n) until committed or stopping; 0 done, -1 stopping.
 * *committed: the batch went in as one and its spool entries are still
 * to be removed (pipeline_store_finish(), off this thread's critical path);
 * items stored one by one are removed here.
 */
static int
pipeline_store(struct pipeline *p, struct item *items, size_t n, gboolean *committed)
{
	struct store_msg *msgs = g_new0(struct store_msg, n);
	struct store_result *res = g_new0(struct store_result, n);
	size_t i, failed;
	int rc = -1;

	for (i = 0; i < n; i++)
		pipeline_fill(&items[i], &msgs[i]);
	for (;;) {
		enum pg_error_class cls = PG_OK;
		char *err = NULL;

		if (pipeline_connect(p, &err) == 0) {
			gint64 t0 = g_get_monotonic_time();
			int brc = store_batch(p->conn, p->cfg, msgs, n, res, &failed, &cls, &err);

			metrics_observe("rebound_store_seconds", "op", brc == 0 ? "batch" : "batch_failed",
			    (g_get_monotonic_time() - t0) / 1e6);
			if (brc == 0) {
				metrics_add("rebound_store_batch_messages_total", NULL, NULL, (double)n);
				metrics_inc("rebound_store_batches_total", NULL, NULL);
				for (i = 0; i < n; i++)
					pipeline_committed(p, &items[i], &res[i]);
				log_debug("store batch=%zu store_ms=%.1f", n,
				    (g_get_monotonic_time() - t0) / 1e3);
				*committed = TRUE;
				rc = 0;
			} else if (cls == PG_PERMANENT) {
				g_free(err);
				err = NULL;
				rc = 0;
				for (i = 0; i < n && rc == 0; i++)
					rc = pipeline_store_alone(p, &items[i], &err);
				if (rc < 0) {
					/* committed ones are dedup'd when the rest retry */
					rc = -1;
				}
			}
		}
		if (rc == 0) {
			pipeline_set_down(p, FALSE, NULL);
			p->backoff_s = 1;
			g_free(err);
			break;
		}
		if (p->conn != NULL && PQstatus(p->conn) != CONNECTION_OK)
			pipeline_disconnect(p);
		if (pipeline_backoff(p, err ? err : "unknown error")) {
			g_free(err);
			break;
		}
		g_free(err);
	}
	g_free(msgs);
	g_free(res);
	return rc;
}

/* Drop raw messages past [store] retention_days, a bounded chunk at a time. */
static void
pipeline_purge(struct pipeline *p)
{
	char days[32], *err = NULL;
	const char *params[] = { days };
	PGresult *res;

	if (p->cfg->store_retention_days == 0 || p->conn == NULL ||
	    g_get_monotonic_time() < p->next_purge)
		return;
	p->next_purge = g_get_monotonic_time() + PURGE_INTERVAL_US;
	snprintf(days, sizeof days, "%lld", (long long)p->cfg->store_retention_days);
	res = pg_exec(p->conn, "UPDATE messages SET raw = NULL WHERE id IN (SELECT id FROM messages"
	    " WHERE raw IS NOT NULL AND received_at < now() - $1::int * interval '1 day'"
	    " ORDER BY received_at LIMIT 10000)", 1, params, PGRES_COMMAND_OK, NULL, &err);
	if (res == NULL) {
		log_warnx("store purge error=\"%s\"", err);
		g_free(err);
		return;
	}
	if (atoi(PQcmdTuples(res)) > 0)
		log_info("store purged_raw=%s retention_days=%s", PQcmdTuples(res), days);
	PQclear(res);
}

/* A parsed batch on its way to PostgreSQL, on its own thread. */
struct store_job {
	struct pipeline *p;
	struct item *items;
	size_t n;			/* read and parsed */
	size_t m;			/* of which to store: items[0..m) */
	GThread *thread;
	int rc;
	gboolean committed;		/* items[0..m) committed, spool entries not yet removed */
};

static gpointer
pipeline_store_job(gpointer arg)
{
	struct store_job *j = arg;

	j->rc = pipeline_store(j->p, j->items, j->m, &j->committed);
	return NULL;
}

/* Waits for the batch in flight, if any; its rc.  pipeline_store_finish() follows. */
static int
pipeline_store_wait(struct store_job *j)
{
	if (j->thread == NULL)
		return 0;
	g_thread_join(j->thread);
	j->thread = NULL;
	return j->rc;
}

/* After the batch's COMMIT: hand its spool entries to the remover and free its items. */
static void
pipeline_store_finish(struct pipeline *p, struct store_job *j)
{
	size_t i;

	if (j->committed)
		pipeline_remove_later(p, j->items, j->m);
	j->committed = FALSE;
	for (i = 0; i < j->n; i++)
		item_clear(p, &j->items[i]);
	j->n = j->m = 0;
}

/*
 * One pass over the spool; returns -1 when stopping.  Two stages overlap:
 * while one batch is written to PostgreSQL on a store thread, the next is
 * read, its attempts recorded and parsed here, and the one before is
 * removed from the spool.  At most two batches are in memory; only the store thread
 * uses the connection while a batch is in flight, and the pass ends with
 * none in flight, so the connection is again this thread's.
 */
static int
pipeline_pass(struct pipeline *p)
{
	GPtrArray *ids = spool_list(p->spool);
	size_t batch = (size_t)p->cfg->store_batch;
	struct store_job jobs[2];
	guint next = 0;
	int rc = 0, cur = 0;

	memset(jobs, 0, sizeof jobs);
	jobs[0].items = g_new0(struct item, batch);
	jobs[1].items = g_new0(struct item, batch);
	while (next < ids->len && rc == 0 && !pipeline_stopping(p)) {
		struct store_job *j = &jobs[cur];
		struct item *items = j->items;
		size_t n = 0, m, i;
		gsize bytes = 0;
		gboolean pool_error;
		gint64 t0 = g_get_monotonic_time(), t1, t2, t3;

		while (n < batch && next < ids->len && bytes < BATCH_MAX_BYTES) {
			struct item *it = &items[n];
			char *err = NULL;

			it->queue_id = g_strdup(ids->pdata[next++]);
			if (spool_read(p->spool, it->queue_id, &it->env, &it->data, &err) < 0) {
				/* removed meanwhile, or unreadable: the spool reports it */
				log_warnx("q=%s spool_read error=\"%s\"", it->queue_id, err ? err : "");
				g_free(err);
				item_clear(p, it);
				continue;
			}
			bytes += g_bytes_get_size(it->data);
			n++;
		}
		if (n == 0)
			continue;
		t1 = g_get_monotonic_time();
		pipeline_parse_batch(p, items, n);
		m = pipeline_poison(p, items, n, &pool_error);
		t2 = g_get_monotonic_time();
		/* The previous batch must be committed before this one starts,
		 * so that batches commit in order on the one connection. */
		rc = pipeline_store_wait(&jobs[cur ^ 1]);
		t3 = g_get_monotonic_time();
		log_debug("store batch=%zu read_ms=%.1f parse_ms=%.1f wait_store_ms=%.1f", n,
		    (t1 - t0) / 1e3, (t2 - t1) / 1e3, (t3 - t2) / 1e3);
		if (rc < 0) {
			for (i = 0; i < n; i++)
				item_clear(p, &items[i]);
			break;
		}
		j->n = n;
		j->m = m;
		j->rc = 0;
		j->p = p;
		j->committed = FALSE;
		if (m > 0)
			j->thread = g_thread_new("store-batch", pipeline_store_job, j);
		else
			pipeline_store_finish(p, j);
		pipeline_store_finish(p, &jobs[cur ^ 1]);
		cur ^= 1;
		if (pool_error && pipeline_wait(p, G_USEC_PER_SEC, FALSE))
			rc = -1;
	}
	/* the batch in flight commits after the one before it */
	if (pipeline_store_wait(&jobs[cur ^ 1]) < 0)
		rc = -1;
	pipeline_store_finish(p, &jobs[cur ^ 1]);
	pipeline_store_finish(p, &jobs[cur]);
	pipeline_remover_drain(p);
	g_free(jobs[0].items);
	g_free(jobs[1].items);
	g_ptr_array_unref(ids);
	return rc;
}

static void pipeline_take_config(struct pipeline *p);

static gpointer
pipeline_main(gpointer arg)
{
	struct pipeline *p = arg;

	log_info("store pipeline=start batch=%lld backlog=%zu", (long long)p->cfg->store_batch,
	    spool_count(p->spool));
	/* Connect (and migrate) now rather than at the first message, so that
	 * a wrong conninfo or schema shows in the log at start. */
	{
		char *err = NULL;
		if (pipeline_connect(p, &err) < 0) {
			pipeline_set_down(p, TRUE, err);
			g_free(err);
		}
	}
	for (;;) {
		pipeline_take_config(p);
		if (pipeline_pass(p) < 0 || pipeline_stopping(p))
			break;
		pipeline_purge(p);
		if (spool_count(p->spool) >= (size_t)p->cfg->store_batch / 4)
			continue;
		/* A few messages only: let more arrive for a moment, so that a
		 * batch's fixed costs (its round trips, the COMMIT's WAL flush,
		 * the in-flight record's sync) are shared by more of them. */
		if (spool_count(p->spool) > 0) {
			if (pipeline_wait(p, BATCH_LINGER_US, FALSE))
				break;
			continue;
		}
		if (pipeline_wait(p, IDLE_WAIT_US, TRUE))
			break;
	}
	pipeline_disconnect(p);
	log_info("store pipeline=stop backlog=%zu stored=%zu", spool_count(p->spool),
	    (size_t)g_atomic_pointer_get(&p->stored));
	return NULL;
}

/* Between passes: nothing is in flight, the store thread is idle. */
static void
pipeline_take_config(struct pipeline *p)
{
	const struct config *cfg;
	char *err = NULL;

	g_mutex_lock(&p->mu);
	cfg = p->next_cfg;
	p->next_cfg = NULL;
	g_mutex_unlock(&p->mu);
	if (cfg == NULL)
		return;
	if (p->cl.reload != NULL && p->cl.reload(p->cl.arg, cfg, &err) < 0) {
		log_warnx("store event=reload-failed error=\"%s\" note=\"keeping the running config\"",
		    err ? err : "");
		g_free(err);
		return;
	}
	p->cfg = cfg;
	log_info("store event=reloaded batch=%lld", (long long)cfg->store_batch);
}

void
pipeline_reload(struct pipeline *p, const struct config *cfg)
{
	g_mutex_lock(&p->mu);
	p->next_cfg = cfg;
	p->wake = TRUE;
	g_cond_signal(&p->cond);
	g_mutex_unlock(&p->mu);
}

struct pipeline *
pipeline_start_with(const struct config *cfg, struct spool *spool,
    const struct pipeline_classifier *cl, char **err)
{
	struct pipeline *p;

	if (cfg->store_conninfo == NULL || *cfg->store_conninfo == '\0') {
		*err = g_strdup("[store] conninfo is not set");
		cl->free(cl->arg);
		return NULL;
	}
	p = g_new0(struct pipeline, 1);
	p->cfg = cfg;
	p->spool = spool;
	p->cl = *cl;
	p->backoff_s = 1;
	p->rm = g_new0(struct remover, 1);
	p->rm->q = g_async_queue_new();
	g_mutex_init(&p->mu);
	g_cond_init(&p->cond);
	spool_set_notify(spool, pipeline_notify, p);
	p->thread = g_thread_new("store", pipeline_main, p);
	return p;
}

void
pipeline_stop(struct pipeline *p)
{
	if (p == NULL)
		return;
	spool_set_notify(p->spool, NULL, NULL);
	g_mutex_lock(&p->mu);
	p->stop = TRUE;
	g_cond_signal(&p->cond);
	g_mutex_unlock(&p->mu);
	g_thread_join(p->thread);
	p->cl.free(p->cl.arg);
	g_async_queue_unref(p->rm->q);
	g_free(p->rm);
	g_mutex_clear(&p->mu);
	g_cond_clear(&p->cond);
	g_free(p);
}
