/*
 * workers_int.h - what the pool's files share: the pool and worker
 * structs and the calls between its roles.  workers_pool.c starts,
 * replaces and reaps worker processes; workers_io.c frames requests and
 * decodes replies on one worker's socket; workers.c queues jobs and runs
 * the pool's turns.  Not for use outside workers/.
 */
#ifndef WORKERS_INT_H
#define WORKERS_INT_H

#include <poll.h>
#include <sys/types.h>

#include <glib.h>

#include "workers/workers.h"
#include "workers/workers_proto.h"

#if defined(__SANITIZE_ADDRESS__)
#define WORKERS_NO_RLIMIT_AS 1		/* ASan reserves terabytes of shadow */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKERS_NO_RLIMIT_AS 1
#endif
#endif

/*
 * A worker takes up to WORKERS_INFLIGHT jobs at a time: requests are
 * written back to back and it answers them in order, in batches
 * (workers_proto.h), so that neither side wakes up once per message.
 * Which job it is parsing is known from its job counter, not from the
 * answers received: when it dies or times out, the job its counter names
 * is charged, and every other job in flight goes back to the queue
 * untouched (those it parsed without its answers getting out are parsed
 * again).  A counter outside the jobs sent and not answered is not
 * believed: the oldest job is charged, so that a worker that lies can
 * only get a job of its own wrongly charged.  The wall-clock timeout runs
 * from the last answer or the moment the pool saw the counter name a new
 * job (it looks at every turn, at least once a second), whichever is
 * later: each job gets at least that long, and a worker cannot extend it
 * past the jobs it was sent.  WORKERS_INFLIGHT (workers_proto.h) is at
 * least twice WORKERS_REPLY_BATCH, so that a worker still has jobs to
 * parse while a batch of answers makes its round trip.
 */
struct worker {
	int slot;
	pid_t pid;			/* -1: no process */
	int fd;				/* our end of the socketpair */
	guint jobs_done;
	gboolean hello;			/* the parser loaded */
	struct workers_job *inflight[WORKERS_INFLIGHT];	/* oldest first */
	int ninflight;
	int nsent;			/* of those, fully sent */
	size_t sent;			/* bytes of inflight[nsent]'s request sent */
	gint64 deadline;		/* of the job being parsed, monotonic us */
	volatile guint64 *page;		/* its job counter, mapped read-only */
	guint64 seen;			/* the counter when the deadline last moved */
	GByteArray *in;			/* frames received */
	size_t in_pos;			/* of in, consumed: cut off once a read is settled */
	char *note;			/* last 'N' frame */
	char *error;			/* 'E' frame */
};

struct workers {
	char *exe;
	char **argv;			/* parse-worker command line */
	char **envp;			/* ASan builds only: environ with the memory limit */
	int nworkers;
	gboolean forked;		/* workers_new_forked(): rules checked before any worker starts */
	gboolean no_exec;		/* forked, and its first workers not exec'd (never under ASan) */
	gboolean ready;			/* workers_ready() succeeded */
	gint64 cpu_seconds;
	gint64 memory_bytes;
	gint64 wall_us;
	guint recycle_jobs;		/* jobs per worker before it is replaced */
	struct worker *w;
	GQueue pending;			/* jobs not handed out yet */
	size_t unsettled;		/* jobs given, without a status yet */
	struct pollfd *pfd;		/* one per worker */
	/* A forked pool: the parser its first workers inherit, kept until
	 * they are reaped (workers_free()): freed while they live, it would
	 * copy every page of it that they still share; and, while they are
	 * forked, its options */
	struct parser *fork_parser;
	const struct parser_worker_config *fork_pc;
};

/* workers.c */
void workers_finish(struct workers_job *job, int status, char *detail);
void workers_note_spawned(void);

/* workers_pool.c */
void worker_reset(struct worker *k);
int worker_spawn(struct workers *w, struct worker *k, gboolean first, char **err);
int worker_reap(struct worker *k);
gboolean worker_counter_believed(const struct worker *k, guint64 started);
int worker_current(const struct worker *k, guint64 started);
int worker_fail(struct workers *w, struct worker *k, gboolean timed_out, const char *protocol);
int worker_fail_at(struct workers *w, struct worker *k, gboolean timed_out, const char *protocol,
    gint64 started);
void worker_maybe_recycle(struct workers *w, struct worker *k);

/* workers_io.c */
void worker_queue(struct workers *w, struct worker *k, struct workers_job *job);
int worker_send(struct worker *k);
int worker_recv(struct workers *w, struct worker *k, const char **protocol, int *done);
size_t worker_broken(struct workers *w, struct worker *k);

#endif
