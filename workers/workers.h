/*
 * workers.h - parse received messages in a pool of worker processes.
 *
 * GMime can be made to abort, read out of bounds, spin or eat memory by a
 * crafted message (see tests/fixtures/hostile/).  So parsing never runs in
 * the daemon: a pool of [parser] workers processes, each an exec of
 * "rebound parse-worker" with RLIMIT_AS = [parser] memory_mb and a
 * per-message CPU limit of [parser] cpu_seconds, parses messages and sends
 * each report back over a socket (length-prefixed report_serialize()
 * bytes, which the parent validates with report_deserialize()).  A parent
 * wall-clock timeout backs up the CPU limit.  Each worker has several jobs
 * in flight (requests written back to back, answered in order and in
 * batches), so that neither the worker nor the pool wakes up once per
 * message.  A worker that dies, times out or sends garbage is killed,
 * reaped and replaced; only the job it was parsing fails (named by a job
 * counter the worker keeps in a page shared with the pool, believed only
 * within the jobs it was sent, so a worker taken over can at worst get
 * one of its own jobs charged), and every other job it had is handed out
 * again, those it parsed without its answers getting out included.  The
 * wall-clock timeout of a job runs from the later of its worker's last
 * answer and the moment the pool saw, from the counter, that it started.
 * Workers are warm: re-exec'd only after a failure or every
 * WORKERS_RECYCLE_JOBS jobs (8 times that in a pool of
 * workers_new_forked(), whose first workers are forked without an exec).  "rebound parse" asks for the lines it prints
 * instead of a report (workers_job.render): the worker renders them, and
 * the parent only writes them out in order.
 *
 * Threading: a struct workers belongs to one thread (the pipeline thread);
 * workers_parse() blocks that thread only.  The counters (workers_stats())
 * may be read from any thread.
 *
 * Poison-message protocol for the caller (the pipeline), per message:
 *   1. if workers_should_quarantine(env->attempts, cfg): quarantine it
 *      without parsing (a previous run already failed max_attempts times);
 *   2. spool_set_attempts(id, env->attempts + 1) BEFORE workers_parse(),
 *      so that even a crash of the whole daemon counts as an attempt;
 *   3. workers_parse();
 *   4. WORKERS_OK: store job->report as usual.
 *      WORKERS_CRASH / TIMEOUT / MEMORY: if workers_should_quarantine(
 *      env->attempts + 1, cfg), store it quarantined (raw bytes, kind none,
 *      outcome = workers_outcome(job)), call workers_note_quarantined() and
 *      spool_remove() it; otherwise leave it in the spool for a retry.
 *      WORKERS_ERROR: the pool itself failed (fork, socket): not the
 *      message's fault; put env->attempts back and retry later.
 *
 * (store/pipeline.c does this: pipeline_parse_batch() and pipeline_poison().)
 *
 * Ownership: workers_new() returns a handle freed by workers_free() (which
 * kills and reaps all workers).  A job's data and envelope_rcpt are
 * borrowed for the duration of the call; its outputs report (report_free),
 * out, notes and detail belong to the caller: workers_job_clear() frees them.
 */
#ifndef REBOUND_WORKERS_H
#define REBOUND_WORKERS_H

#include <stddef.h>
#include <glib.h>

#include "common/config.h"
#include "workers/parser_config.h"
#include "parsers/report.h"

enum workers_status {
	WORKERS_OK = 0,		/* report is set */
	WORKERS_CRASH,		/* the worker died (signal, exit, protocol garbage) */
	WORKERS_TIMEOUT,	/* CPU limit or parent wall-clock timeout */
	WORKERS_MEMORY,		/* address-space limit hit */
	WORKERS_ERROR,		/* the pool could not run the job at all */
};

/* Jobs per worker before it is replaced by a fresh exec (heap hygiene). */
#define WORKERS_RECYCLE_JOBS	1000

struct workers_job {
	const char *data;		/* in: the raw message, borrowed */
	size_t len;
	/* in: by_fd: the message is instead the regular file open on fd, len
	 * bytes from its start, which the worker reads itself (the descriptor
	 * crosses the socket): the caller keeps fd open until the job settles */
	gboolean by_fd;
	int fd;
	gboolean fd_sent;		/* the pool's: fd given to the worker of this attempt */
	const char *envelope_rcpt;	/* in: for VERP, or NULL */
	/* in: 0 for a report; or an enum render_format (workers/render.h):
	 * the lines "rebound parse" prints for file and index, rendered by the
	 * worker, in out and notes instead of a report */
	int render;
	const char *file;		/* in: borrowed, for render */
	long index;			/* in: for render */
	struct report *report;		/* out: NULL unless status == WORKERS_OK, render 0 */
	GBytes *out;			/* out: render, status WORKERS_OK: standard output */
	char *notes;			/* out (g_free): render: standard error, or NULL */
	int status;			/* out: enum workers_status */
	gboolean settled;		/* out: status is final (workers_submit()) */
	char *detail;			/* out (g_free): "signal=6 (SIGABRT)", ... */
};

struct workers_stats {
	guint64 jobs;			/* workers_parse() jobs finished */
	guint64 ok;
	guint64 crashes;
	guint64 timeouts;
	guint64 memory;
	guint64 errors;
	guint64 spawned;		/* worker processes started */
	guint64 quarantined;		/* workers_note_quarantined() calls */
};

struct workers;

/*
 * Start [parser] workers processes running "/proc/self/exe parse-worker"
 * and wait until the first one has loaded the parser (so a bad rules file
 * is reported here).  NULL on error with *err set (caller frees).
 */
struct workers *workers_new(const struct config *cfg, char **err);
/* Same, with the parser options given (NULL: from cfg's [parser]). */
struct workers *workers_new_parser(const struct config *cfg,
    const struct parser_worker_config *pc, char **err);
/*
 * Same, for a caller with a single thread ("rebound parse"): the first
 * workers are forked from this process without an exec, as the libraries
 * are loaded already (an exec would relocate them again in every worker),
 * and inherit the parser this call sets up (the rules compiled once, a bad
 * rules file reported here); they are not waited for, so that their
 * start-up overlaps the caller's reading of its input; workers_ready()
 * reports a worker that could not start.  Replacements are exec'd as
 * usual (and compile the rules themselves), and so is every worker under
 * AddressSanitizer or valgrind.
 */
struct workers *workers_new_forked(const struct config *cfg,
    const struct parser_worker_config *pc, char **err);
/* Wait until the first worker has loaded the parser: 0, or -1 and *err. */
int workers_ready(struct workers *w, char **err);
/* Same, with an explicit rebound binary (tests, benchmarks). */
struct workers *workers_new_exe(const struct config *cfg, const char *exe, char **err);
void workers_free(struct workers *w);

/*
 * Parse n messages, up to [parser] workers at a time; returns once every
 * job has a status.  Returns the number of jobs with WORKERS_OK.
 */
int workers_parse(struct workers *w, struct workers_job *jobs, size_t n);
/*
 * The same one job at a time, for a caller that reads its messages while
 * the workers parse the ones before: workers_submit() queues job (which
 * must stay put until settled), and, once a few jobs have gathered,
 * hands them out and settles what has been answered, without waiting;
 * workers_step() hands out every job given, waits for the workers once
 * and returns the number of jobs given not settled yet.  A
 * job is done when job->settled; jobs settle in any order.  Not to be
 * mixed with a workers_parse() call on the same pool while jobs are
 * unsettled.
 */
void workers_submit(struct workers *w, struct workers_job *job);
size_t workers_step(struct workers *w);
/* Free a job's outputs and reset them, keeping its inputs. */
void workers_job_clear(struct workers_job *job);

/* "ok", "crash", "timeout", "memory", "error". */
const char *workers_status_name(int status);
/*
 * The parse outcome stored with a quarantined message, e.g.
 * "quarantined: crash signal=6 (SIGABRT) after 3 attempts"; caller g_frees.
 */
char *workers_outcome(const struct workers_job *job, int attempts);

/* TRUE once a message has used up [parser] max_attempts parse attempts. */
gboolean workers_should_quarantine(int attempts, const struct config *cfg);
/* Count one quarantined message in the process-wide stats. */
void workers_note_quarantined(void);
/* A snapshot of the process-wide counters (any thread). */
void workers_stats(struct workers_stats *out);

/*
 * The worker process itself ("rebound parse-worker", started by the pool
 * with its job socket on fd 3): argv as after the subcommand name; returns
 * the exit status.
 */
int workers_child_main(int argc, char **argv);

/*
 * Called with each message just before a worker parses it, when set.  NULL in build/rebound; only
 * the test build (tests/support/) sets it.
 */
typedef void (*workers_parse_hook)(const char *data, size_t len);
extern workers_parse_hook workers_before_parse;

#endif
