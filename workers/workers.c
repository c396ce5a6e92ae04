/* workers.c - the parser pool's job queue and turns; see workers.h. */
#include "workers/workers_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/log.h"

static atomic_uint_fast64_t st_jobs, st_ok, st_crash, st_timeout, st_memory, st_error,
    st_spawned, st_quarantined;

static void
workers_count(int status)
{
	atomic_fetch_add(&st_jobs, 1);
	switch (status) {
	case WORKERS_OK: atomic_fetch_add(&st_ok, 1); break;
	case WORKERS_CRASH: atomic_fetch_add(&st_crash, 1); break;
	case WORKERS_TIMEOUT: atomic_fetch_add(&st_timeout, 1); break;
	case WORKERS_MEMORY: atomic_fetch_add(&st_memory, 1); break;
	default: atomic_fetch_add(&st_error, 1); break;
	}
}

void
workers_stats(struct workers_stats *out)
{
	out->jobs = atomic_load(&st_jobs);
	out->ok = atomic_load(&st_ok);
	out->crashes = atomic_load(&st_crash);
	out->timeouts = atomic_load(&st_timeout);
	out->memory = atomic_load(&st_memory);
	out->errors = atomic_load(&st_error);
	out->spawned = atomic_load(&st_spawned);
	out->quarantined = atomic_load(&st_quarantined);
}

void
workers_note_quarantined(void)
{
	atomic_fetch_add(&st_quarantined, 1);
}

gboolean
workers_should_quarantine(int attempts, const struct config *cfg)
{
	return attempts >= cfg->parser_max_attempts;
}

const char *
workers_status_name(int status)
{
	switch (status) {
	case WORKERS_OK: return "ok";
	case WORKERS_CRASH: return "crash";
	case WORKERS_TIMEOUT: return "timeout";
	case WORKERS_MEMORY: return "memory";
	default: return "error";
	}
}

char *
workers_outcome(const struct workers_job *job, int attempts)
{
	return g_strdup_printf("quarantined: %s%s%s after %d attempt%s",
	    workers_status_name(job->status), job->detail ? " " : "",
	    job->detail ? job->detail : "", attempts, attempts == 1 ? "" : "s");
}

void
workers_job_clear(struct workers_job *job)
{
	if (job->report != NULL)
		report_free(job->report);
	job->report = NULL;
	g_clear_pointer(&job->out, g_bytes_unref);
	g_clear_pointer(&job->notes, g_free);
	g_free(job->detail);
	job->detail = NULL;
	job->status = WORKERS_ERROR;
}

void
workers_finish(struct workers_job *job, int status, char *detail)
{
	job->status = status;
	job->settled = TRUE;
	g_free(job->detail);
	job->detail = detail;
	workers_count(status);
}

void
workers_note_spawned(void)
{
	atomic_fetch_add(&st_spawned, 1);
}

/*
 * Jobs given one at a time are handed out WORKERS_GATHER at a time: one
 * send, one wake-up of a worker and one batch of answers for several
 * messages.  A caller that gives jobs one at a time is the slower side
 * (it reads them): a worker that waits for a gather loses nothing, while
 * one fed each job as it comes would wake up, and answer, once per
 * message.  workers_step() hands out whatever is pending.
 */
#define WORKERS_GATHER		(WORKERS_INFLIGHT / 2)

/*
 * Hand pending jobs out one per worker per round, so that a small batch
 * is spread over the pool, starting any worker that is missing; when
 * gather, only when WORKERS_GATHER or more are pending.  Returns the jobs
 * settled (those no worker could be started for).
 */
static size_t
workers_hand_out(struct workers *w, gboolean gather)
{
	GQueue *pending = &w->pending;
	size_t done = 0;
	int j, depth;

	if (gather && g_queue_get_length(pending) < WORKERS_GATHER)
		return 0;
	for (depth = 0; depth < WORKERS_INFLIGHT && !g_queue_is_empty(pending); depth++)
		for (j = 0; j < w->nworkers && !g_queue_is_empty(pending); j++) {
			struct worker *k = &w->w[j];
			char *err = NULL;

			if (k->ninflight != depth ||
			    k->jobs_done + (guint)k->ninflight >= w->recycle_jobs)
				continue;
			if (k->pid == -1 && worker_spawn(w, k, FALSE, &err) == -1) {
				log_warnx("workers slot=%d cannot start a worker: %s", j, err);
				workers_finish(g_queue_pop_head(pending), WORKERS_ERROR, err);
				done++;
				continue;
			}
			worker_queue(w, k, g_queue_pop_head(pending));
		}
	return done;
}

/* Send what each worker has queued; returns the jobs settled. */
static size_t
workers_send_all(struct workers *w)
{
	size_t done = 0;
	int j;

	for (j = 0; j < w->nworkers; j++) {
		struct worker *k = &w->w[j];

		if (k->nsent < k->ninflight && worker_send(k) == -1)
			done += worker_broken(w, k);
	}
	return done;
}

/*
 * Fail the workers past their deadline and set up w->pfd for the others
 * with jobs; *first is the nearest deadline, *busy the number polled.
 * Returns the jobs settled.
 */
static size_t
workers_arm(struct workers *w, gint64 now, gint64 *first, int *busy)
{
	struct pollfd *pfd = w->pfd;
	size_t done = 0;
	guint64 started;
	int j;

	for (j = 0; j < w->nworkers; j++) {
		struct worker *k = &w->w[j];

		pfd[j].fd = -1;
		pfd[j].events = 0;
		pfd[j].revents = 0;
		if (k->ninflight == 0)
			continue;
		/* Read once: the worker may change it at any time.  A job seen
		 * started for the first time gets its own time from now on (a
		 * turn comes at least once a second while jobs are out). */
		started = k->page != NULL ? *k->page : 0;
		if (started > k->seen && worker_counter_believed(k, started)) {
			k->seen = started;
			k->deadline = now + w->wall_us;
		} else if (now >= k->deadline) {
			done += (size_t)worker_fail_at(w, k, TRUE, NULL,
			    (gint64)MIN(started, (guint64)G_MAXINT64));
			continue;
		}
		pfd[j].fd = k->fd;
		pfd[j].events = POLLIN;
		if (k->nsent < k->ninflight)
			pfd[j].events |= POLLOUT;
		if (k->deadline < *first)
			*first = k->deadline;
		(*busy)++;
	}
	return done;
}

/* After poll() returned r: send, receive and settle; returns the jobs settled. */
static size_t
workers_settle(struct workers *w, int r)
{
	struct pollfd *pfd = w->pfd;
	size_t done = 0;
	int j;

	for (j = 0; r > 0 && j < w->nworkers; j++) {
		struct worker *k = &w->w[j];
		const char *protocol = NULL;
		int rc = 0, got = 0;

		if (pfd[j].fd == -1 || pfd[j].revents == 0 || k->ninflight == 0)
			continue;
		if ((pfd[j].revents & POLLOUT) && worker_send(k) == -1) {
			done += worker_broken(w, k);
			continue;
		}
		if (pfd[j].revents & (POLLIN | POLLHUP | POLLERR))
			rc = worker_recv(w, k, &protocol, &got);
		done += (size_t)got;
		if (rc == -1)
			done += (size_t)worker_fail(w, k, FALSE, protocol);
		else
			worker_maybe_recycle(w, k);
	}
	return done;
}

/*
 * One turn of the pool: hand out pending jobs (when gather, only once
 * WORKERS_GATHER are pending), send, wait up to the nearest deadline
 * (block) or not at all, and settle what the workers answered.  Returns
 * the number of jobs settled.
 */
static size_t
workers_turn(struct workers *w, gboolean block, gboolean gather)
{
	size_t done;
	gint64 now, first = G_MAXINT64;
	int busy = 0, timeout, r;

	done = workers_hand_out(w, gather);
	done += workers_send_all(w);
	now = g_get_monotonic_time();
	done += workers_arm(w, now, &first, &busy);
	if (busy == 0)
		return done;
	timeout = block ? (int)MIN((first - now + 999) / 1000, 1000) : 0;
	r = poll(w->pfd, (nfds_t)w->nworkers, timeout);
	if (r == -1 && errno != EINTR)
		fatal("workers: poll");
	return done + workers_settle(w, r);
}

void
workers_submit(struct workers *w, struct workers_job *job)
{
	job->report = NULL;
	job->out = NULL;
	job->notes = NULL;
	job->detail = NULL;
	job->status = WORKERS_ERROR;
	job->settled = FALSE;
	g_queue_push_tail(&w->pending, job);
	w->unsettled++;
	/* Answers are collected when a gather goes out: the workers answer in
	 * batches, and one look at their sockets per message would mostly
	 * find nothing. */
	if (g_queue_get_length(&w->pending) % WORKERS_GATHER == 0)
		w->unsettled -= workers_turn(w, FALSE, TRUE);
}

size_t
workers_step(struct workers *w)
{
	if (w->unsettled > 0)
		w->unsettled -= workers_turn(w, TRUE, FALSE);
	return w->unsettled;
}

int
workers_parse(struct workers *w, struct workers_job *jobs, size_t n)
{
	size_t i;
	int ok = 0;

	for (i = 0; i < n; i++) {
		jobs[i].report = NULL;
		jobs[i].out = NULL;
		jobs[i].notes = NULL;
		jobs[i].detail = NULL;
		jobs[i].status = WORKERS_ERROR;
		jobs[i].settled = FALSE;
		g_queue_push_tail(&w->pending, &jobs[i]);
	}
	w->unsettled += n;
	while (w->unsettled > 0)
		w->unsettled -= workers_turn(w, TRUE, FALSE);
	for (i = 0; i < n; i++)
		if (jobs[i].status == WORKERS_OK)
			ok++;
	return ok;
}
