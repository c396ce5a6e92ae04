/* workers.c - the parser worker pool; see workers.h and workers_proto.h. */
#include "workers/workers.h"
#include "workers/workers_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define WORKERS_NO_RLIMIT_AS 1		/* ASan reserves terabytes of shadow */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKERS_NO_RLIMIT_AS 1
#endif
#endif

/*
 * A worker takes up to WORKERS_INFLIGHT jobs at a time: requests are
 * written back to back and it answers them in order, so a report, the
 * next request and the parse overlap instead of costing a round trip and
 * two context switches per message.  The oldest job in flight is the one
 * being parsed: the timeout runs for it alone, and when the worker dies it
 * alone is charged; the others go back to the queue untouched.
 */
#define WORKERS_INFLIGHT	8

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
	gint64 deadline;		/* for inflight[0], monotonic us */
	GByteArray *in;			/* frames received, not yet consumed */
	char *note;			/* last 'N' frame */
	char *error;			/* 'E' frame */
};

struct workers {
	char *exe;
	char **argv;			/* parse-worker command line */
	char **envp;			/* ASan builds only: environ with the memory limit */
	int nworkers;
	gboolean no_exec;		/* workers_new_forked() */
	gboolean ready;			/* workers_ready() succeeded */
	gint64 cpu_seconds;
	gint64 memory_bytes;
	gint64 wall_us;
	guint recycle_jobs;		/* jobs per worker before it is replaced */
	struct worker *w;
	GQueue pending;			/* jobs not handed out yet */
	size_t unsettled;		/* jobs given, without a status yet */
	struct pollfd *pfd;		/* one per worker */
	/* workers_start() of a forked pool, while it forks the first workers:
	 * the parser they inherit and its options */
	struct parser *fork_parser;
	const struct parser_worker_config *fork_pc;
};

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

static void
workers_finish(struct workers_job *job, int status, char *detail)
{
	job->status = status;
	job->settled = TRUE;
	g_free(job->detail);
	job->detail = detail;
	workers_count(status);
}

static char **
workers_build_argv(const struct parser_worker_config *pc, const char *exe)
{
	char **argv = g_new0(char *, 5);

	argv[0] = g_strdup(exe);
	argv[1] = g_strdup("parse-worker");
	argv[2] = g_strdup("--options");
	argv[3] = parser_config_encode(pc);
	return argv;
}

/*
 * The child between fork() and exec(): the daemon has other threads, so
 * only async-signal-safe calls here.  Close every inherited descriptor
 * (listeners, PostgreSQL, spool) and reset signal state the daemon set up.
 * The first workers of a pool of workers_new_forked() (no other thread)
 * run the worker's main directly, and leave with _exit() (never exit(),
 * which would flush stdio buffers they inherited; the parent flushed them
 * before the fork anyway).  A replacement is exec'd: by then the parent
 * holds the messages read, which a forked child would carry under its
 * RLIMIT_AS.
 */
static void __attribute__((noreturn))
workers_child(struct workers *w, int fd, gboolean no_exec)
{
	struct rlimit rl;
	struct sigaction sa;
	sigset_t all;
	int sig;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (fd != WORKERS_FD) {
		if (dup2(fd, WORKERS_FD) == -1)
			_exit(126);
	} else if (fcntl(fd, F_SETFD, 0) == -1)
		_exit(126);
	if (close_range(WORKERS_FD + 1, ~0U, 0) == -1) {
		int i;
		for (i = WORKERS_FD + 1; i < 65536; i++)
			close(i);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);

	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);	/* a 500 MB core per poison message helps nobody */
#ifndef WORKERS_NO_RLIMIT_AS
	rl.rlim_cur = rl.rlim_max = (rlim_t)w->memory_bytes;
	setrlimit(RLIMIT_AS, &rl);
	if (no_exec)
		_exit(workers_child_forked(w->fork_pc, w->fork_parser));
	execv(w->exe, w->argv);
#else
	execve(w->exe, w->argv, w->envp);
#endif
	_exit(127);
}

static void
worker_reset(struct worker *k)
{
	k->pid = -1;
	k->fd = -1;
	k->jobs_done = 0;
	k->hello = FALSE;
	k->ninflight = 0;
	k->nsent = 0;
	k->sent = 0;
	g_byte_array_set_size(k->in, 0);
	g_clear_pointer(&k->note, g_free);
	g_clear_pointer(&k->error, g_free);
}

static int
worker_spawn(struct workers *w, struct worker *k, gboolean first, char **err)
{
	gboolean no_exec = w->no_exec && first;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*err = g_strdup_printf("socketpair: %s", g_strerror(errno));
		return -1;
	}
	if (no_exec)
		fflush(NULL);	/* or the child would hold a copy of what is buffered */
	pid = fork();
	if (pid == -1) {
		*err = g_strdup_printf("fork: %s", g_strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		workers_child(w, sv[1], no_exec);
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("workers: fcntl");
	worker_reset(k);
	k->pid = pid;
	k->fd = sv[0];
	atomic_fetch_add(&st_spawned, 1);
	log_debug("workers slot=%d pid=%ld started", k->slot, (long)pid);
	return 0;
}

/* Kill and reap; the returned wait status is the worker's own if it had already died. */
static int
worker_reap(struct worker *k)
{
	int status = -1;
	pid_t r;

	/* Killed before its socket is closed: closing with its unread hello
	 * still queued makes its read fail with ECONNRESET, and it would print
	 * "bad request" before the SIGKILL lands. */
	if (k->pid > 0)
		kill(k->pid, SIGKILL);
	if (k->fd != -1)
		close(k->fd);
	k->fd = -1;
	if (k->pid > 0) {
		do
			r = waitpid(k->pid, &status, 0);
		while (r == -1 && errno == EINTR);
		if (r == -1)
			status = -1;	/* SIGCHLD ignored by someone: unknown */
	}
	k->pid = -1;
	return status;
}

static const char *
workers_signame(int sig)
{
	switch (sig) {
	case SIGABRT: return "SIGABRT";
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGILL: return "SIGILL";
	case SIGKILL: return "SIGKILL";
	case SIGTERM: return "SIGTERM";
	case SIGXCPU: return "SIGXCPU";
	case SIGTRAP: return "SIGTRAP";
	case SIGSYS: return "SIGSYS";
	default: return "signal";
	}
}

/*
 * Why a worker died with its job unfinished.  A GLib "failed to allocate N
 * bytes" note is memory exhaustion when N fits within the limit; a larger
 * N is a wrapped size (the GMime charset bug): a crash.
 */
static void
worker_classify(struct workers *w, struct worker *k, int wstatus, gboolean timed_out,
    int *status, char **detail)
{
	char *note = k->note ? log_escape(k->note, strlen(k->note), 300) : NULL;
	char *what;
	const char *alloc;

	if (timed_out) {
		*status = WORKERS_TIMEOUT;
		what = g_strdup_printf("wall-clock timeout after %llds",
		    (long long)(w->wall_us / G_USEC_PER_SEC));
	} else if (wstatus != -1 && WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGXCPU) {
		*status = WORKERS_TIMEOUT;
		what = g_strdup_printf("cpu limit %llds exceeded signal=%d (SIGXCPU)",
		    (long long)w->cpu_seconds, SIGXCPU);
	} else {
		*status = WORKERS_CRASH;
		if (wstatus == -1)
			what = g_strdup("worker vanished (exit status unknown)");
		else if (WIFSIGNALED(wstatus))
			what = g_strdup_printf("signal=%d (%s)", WTERMSIG(wstatus),
			    workers_signame(WTERMSIG(wstatus)));
		else
			what = g_strdup_printf("exit=%d", WEXITSTATUS(wstatus));
		if (k->note && (alloc = strstr(k->note, "failed to allocate ")) != NULL) {
			guint64 n = g_ascii_strtoull(alloc + strlen("failed to allocate "), NULL, 10);
			if (n > 0 && n <= (guint64)w->memory_bytes)
				*status = WORKERS_MEMORY;
		}
	}
	if (note != NULL)
		*detail = g_strdup_printf("%s: %s", what, note);
	else
		*detail = g_strdup(what);
	g_free(what);
	g_free(note);
}

/*
 * The worker is dead or must be: reap it and settle the job it was
 * parsing, if any; the jobs queued behind that one go back to the pending
 * queue as they were.  Returns the number of jobs settled (0 or 1).
 */
static int
worker_fail(struct workers *w, struct worker *k, gboolean timed_out, const char *protocol)
{
	struct workers_job *job = k->ninflight > 0 ? k->inflight[0] : NULL;
	int wstatus, status, i;
	pid_t pid = k->pid;
	char *detail = NULL;

	wstatus = worker_reap(k);
	for (i = k->ninflight - 1; i >= 1; i--)
		g_queue_push_head(&w->pending, k->inflight[i]);
	if (job != NULL) {
		if (protocol != NULL) {
			status = WORKERS_CRASH;
			detail = g_strdup_printf("protocol error: %s", protocol);
		} else if (!k->hello && k->error != NULL) {
			char *e = log_escape(k->error, strlen(k->error), 300);
			status = WORKERS_ERROR;
			detail = g_strdup_printf("worker failed to start: %s", e);
			g_free(e);
		} else if (!k->hello && wstatus != -1 && WIFEXITED(wstatus) &&
		    WEXITSTATUS(wstatus) == 127) {
			status = WORKERS_ERROR;
			detail = g_strdup_printf("cannot exec %s", w->exe);
		} else
			worker_classify(w, k, wstatus, timed_out, &status, &detail);
		log_warnx("workers slot=%d pid=%ld job failed status=%s detail=\"%s\" requeued=%d",
		    k->slot, (long)pid, workers_status_name(status), detail, k->ninflight - 1);
		workers_finish(job, status, detail);
	} else
		log_debug("workers slot=%d pid=%ld idle worker gone", k->slot, (long)pid);
	worker_reset(k);
	return job != NULL ? 1 : 0;
}

static guint32
get_be32(const guint8 *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static void
put_be32(guint8 *p, guint32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * A job's request: the header into hdr, the parts into iov[0..3] (header,
 * recipient, file name, message).  Returns the request's length.
 */
static size_t
worker_request(const struct workers_job *job, guint8 *hdr, struct iovec *iov)
{
	size_t rcpt_len = job->envelope_rcpt ? strlen(job->envelope_rcpt) : 0;
	size_t file_len = job->render && job->file ? strlen(job->file) : 0;
	guint64 dl = job->len, ix = (guint64)(gint64)job->index;

	if (rcpt_len > WORKERS_MAX_RCPT)
		rcpt_len = 0;	/* not an address we could have accepted */
	if (file_len > WORKERS_MAX_FILE)
		file_len = WORKERS_MAX_FILE;
	memcpy(hdr, WORKERS_MAGIC, 4);
	put_be32(hdr + 4, (guint32)rcpt_len);
	put_be32(hdr + 8, (guint32)(dl >> 32));
	put_be32(hdr + 12, (guint32)dl);
	put_be32(hdr + 16, (guint32)file_len);
	put_be32(hdr + 20, (guint32)job->render);
	put_be32(hdr + 24, (guint32)(ix >> 32));
	put_be32(hdr + 28, (guint32)ix);
	iov[0].iov_base = hdr;
	iov[0].iov_len = WORKERS_REQ_HDR;
	iov[1].iov_base = (char *)(uintptr_t)job->envelope_rcpt;
	iov[1].iov_len = rcpt_len;
	iov[2].iov_base = (char *)(uintptr_t)job->file;
	iov[2].iov_len = file_len;
	iov[3].iov_base = (char *)(uintptr_t)job->data;
	iov[3].iov_len = job->len;
	return WORKERS_REQ_HDR + rcpt_len + file_len + job->len;
}

/* The job now being parsed (inflight[0]) starts its clock. */
static void
worker_head_started(struct workers *w, struct worker *k)
{
	k->deadline = g_get_monotonic_time() + w->wall_us;
	g_clear_pointer(&k->note, g_free);
}

static void
worker_queue(struct workers *w, struct worker *k, struct workers_job *job)
{
	k->inflight[k->ninflight++] = job;
	if (k->ninflight == 1)
		worker_head_started(w, k);
}

/*
 * Send what the socket takes of the queued requests, all of them in one
 * call when they fit; -1 if the worker is gone.
 */
static int
worker_send(struct worker *k)
{
	while (k->nsent < k->ninflight) {
		guint8 hdr[WORKERS_INFLIGHT][WORKERS_REQ_HDR];
		struct iovec iov[WORKERS_INFLIGHT * 4];
		size_t total[WORKERS_INFLIGHT], skip = k->sent, r;
		struct msghdr mh;
		int j, n = 0;
		ssize_t rc;

		for (j = k->nsent; j < k->ninflight; j++) {
			struct iovec part[4];
			int p;

			total[j] = worker_request(k->inflight[j], hdr[j], part);
			for (p = 0; p < 4; p++) {
				if (skip >= part[p].iov_len) {
					skip -= part[p].iov_len;
					continue;
				}
				iov[n].iov_base = (char *)part[p].iov_base + skip;
				iov[n++].iov_len = part[p].iov_len - skip;
				skip = 0;
			}
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		rc = sendmsg(k->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (rc <= 0)
			return -1;
		for (r = (size_t)rc; r > 0 && k->nsent < k->ninflight; ) {
			size_t left = total[k->nsent] - k->sent;

			if (r < left) {
				k->sent += r;
				break;
			}
			r -= left;
			k->nsent++;
			k->sent = 0;
		}
	}
	return 0;
}

/*
 * Consume complete frames.  Returns 1 when the job got its report, 0 to
 * keep waiting, -1 with *protocol set when the worker spoke garbage.
 */
static int
worker_frames(struct worker *k, const char **protocol)
{
	while (k->in->len >= WORKERS_FRAME_HDR) {
		guint8 type = k->in->data[0];
		guint32 len = get_be32(k->in->data + 4);
		guint32 max;
		const guint8 *payload = k->in->data + WORKERS_FRAME_HDR;

		switch (type) {
		case WORKERS_FRAME_HELLO: max = 0; break;
		case WORKERS_FRAME_ERROR:
		case WORKERS_FRAME_NOTE: max = WORKERS_MAX_NOTE; break;
		case WORKERS_FRAME_REPORT:
		case WORKERS_FRAME_OUTPUT: max = WORKERS_MAX_REPORT; break;
		default:
			*protocol = "unknown frame type";
			return -1;
		}
		if (len > max || k->in->data[1] || k->in->data[2] || k->in->data[3]) {
			*protocol = "bad frame length";
			return -1;
		}
		if (k->in->len - WORKERS_FRAME_HDR < len)
			return 0;
		switch (type) {
		case WORKERS_FRAME_HELLO:
			k->hello = TRUE;
			break;
		case WORKERS_FRAME_ERROR:
			g_free(k->error);
			k->error = g_strndup((const char *)payload, len);
			break;
		case WORKERS_FRAME_NOTE:
			g_free(k->note);
			k->note = g_strndup((const char *)payload, len);
			break;
		case WORKERS_FRAME_REPORT: {
			struct workers_job *job = k->ninflight > 0 ? k->inflight[0] : NULL;
			GBytes *b;

			if (job == NULL || !k->hello || k->nsent < 1) {
				*protocol = "report without a request";
				return -1;
			}
			if (job->render) {
				*protocol = "report for rendered lines";
				return -1;
			}
			b = g_bytes_new(payload, len);
			job->report = report_deserialize(b);
			g_bytes_unref(b);
			g_byte_array_remove_range(k->in, 0, WORKERS_FRAME_HDR + len);
			if (job->report == NULL) {
				*protocol = "invalid report";
				return -1;
			}
			return 1;
		}
		case WORKERS_FRAME_OUTPUT: {
			struct workers_job *job = k->ninflight > 0 ? k->inflight[0] : NULL;
			guint32 out_len;

			if (job == NULL || !k->hello || k->nsent < 1 || !job->render) {
				*protocol = "lines without a request for them";
				return -1;
			}
			if (len < 4 || (out_len = get_be32(payload)) > len - 4) {
				*protocol = "bad lines frame";
				return -1;
			}
			job->out = g_bytes_new(payload + 4, out_len);
			job->notes = len - 4 > out_len ?
			    g_strndup((const char *)payload + 4 + out_len, len - 4 - out_len) : NULL;
			g_byte_array_remove_range(k->in, 0, WORKERS_FRAME_HDR + len);
			return 1;
		}
		}
		g_byte_array_remove_range(k->in, 0, WORKERS_FRAME_HDR + len);
	}
	return 0;
}

static void
worker_done(struct workers *w, struct worker *k)
{
	struct workers_job *job = k->inflight[0];

	memmove(k->inflight, k->inflight + 1, (size_t)(k->ninflight - 1) * sizeof(k->inflight[0]));
	k->ninflight--;
	k->nsent--;
	k->jobs_done++;
	workers_finish(job, WORKERS_OK, NULL);
	if (k->ninflight > 0)
		worker_head_started(w, k);
}

/*
 * Read what is there and settle the jobs whose reports arrived; *done
 * counts them.  0 keep waiting, -1 worker gone or broken (the reports
 * received before are kept; the caller fails the worker).
 */
static int
worker_recv(struct workers *w, struct worker *k, const char **protocol, int *done)
{
	guint8 buf[65536];
	ssize_t r;
	int rc, gone = 0;

	for (;;) {
		r = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			gone = 1;
			break;
		}
		g_byte_array_append(k->in, buf, (guint)r);
		if (r < (ssize_t)sizeof(buf))
			break;
	}
	while ((rc = worker_frames(k, protocol)) == 1) {
		worker_done(w, k);
		(*done)++;
	}
	if (rc == -1 || gone)
		return -1;
	if (k->ninflight == 0 && k->in->len != 0) {
		*protocol = "data after the last report";
		return -1;
	}
	return 0;
}

/* Sending failed: the worker is gone; settle what it answered before failing it. */
static size_t
worker_broken(struct workers *w, struct worker *k)
{
	const char *protocol = NULL;
	int got = 0;

	worker_recv(w, k, &protocol, &got);
	return (size_t)got + (size_t)worker_fail(w, k, FALSE, protocol);
}

/* Replace a worker that has done its share, once it is idle. */
static void
worker_maybe_recycle(struct workers *w, struct worker *k)
{
	if (k->ninflight == 0 && k->pid != -1 && k->jobs_done >= w->recycle_jobs) {
		log_debug("workers slot=%d pid=%ld recycled after %u jobs", k->slot,
		    (long)k->pid, k->jobs_done);
		worker_reap(k);
		worker_reset(k);
	}
}

/*
 * Jobs given one at a time are handed out WORKERS_GATHER at a time while
 * every worker has WORKERS_HUNGRY or more queued: one send and one
 * wake-up of the worker for several requests.
 */
#define WORKERS_GATHER		(WORKERS_INFLIGHT / 2)
#define WORKERS_HUNGRY		2

/* A worker with too little queued to wait for more jobs to gather. */
static gboolean
workers_hungry(const struct workers *w)
{
	int j;

	if (g_queue_get_length((GQueue *)&w->pending) >= WORKERS_GATHER)
		return TRUE;
	for (j = 0; j < w->nworkers; j++)
		if (w->w[j].ninflight < WORKERS_HUNGRY)
			return TRUE;
	return FALSE;
}

/*
 * One turn of the pool: hand out pending jobs (when gather, only once
 * workers_hungry()), send, wait up to the nearest deadline (block) or not
 * at all, and settle what the workers answered.  Returns the number of
 * jobs settled.
 */
static size_t
workers_turn(struct workers *w, gboolean block, gboolean gather)
{
	struct pollfd *pfd = w->pfd;
	GQueue *pending = &w->pending;
	size_t done = 0;
	gint64 now, first = G_MAXINT64;
	int j, depth, busy = 0, timeout, r;

	/* Hand pending jobs out one per worker per turn, so that a small
	 * batch is spread over the pool, starting any that are missing. */
	for (depth = 0; depth < WORKERS_INFLIGHT && !g_queue_is_empty(pending) &&
	    (!gather || workers_hungry(w)); depth++)
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
	for (j = 0; j < w->nworkers; j++) {
		struct worker *k = &w->w[j];

		if (k->nsent < k->ninflight && worker_send(k) == -1)
			done += worker_broken(w, k);
	}
	now = g_get_monotonic_time();
	for (j = 0; j < w->nworkers; j++) {
		struct worker *k = &w->w[j];

		pfd[j].fd = -1;
		pfd[j].events = 0;
		pfd[j].revents = 0;
		if (k->ninflight == 0)
			continue;
		if (now >= k->deadline) {
			done += (size_t)worker_fail(w, k, TRUE, NULL);
			continue;
		}
		pfd[j].fd = k->fd;
		pfd[j].events = POLLIN;
		if (k->nsent < k->ninflight)
			pfd[j].events |= POLLOUT;
		if (k->deadline < first)
			first = k->deadline;
		busy++;
	}
	if (busy == 0)
		return done;
	timeout = block ? (int)MIN((first - now + 999) / 1000, 1000) : 0;
	r = poll(pfd, (nfds_t)w->nworkers, timeout);
	if (r == -1 && errno != EINTR)
		fatal("workers: poll");
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

int
workers_ready(struct workers *w, char **err)
{
	struct worker *k = &w->w[0];
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

	*err = NULL;
	if (w->ready)
		return 0;
	while (!k->hello) {
		struct pollfd p = { .fd = k->fd, .events = POLLIN };
		const char *protocol = NULL;
		gint64 left = deadline - g_get_monotonic_time();
		int r, got = 0;

		if (left <= 0) {
			*err = g_strdup("parser worker did not start within 30s");
			return -1;
		}
		r = poll(&p, 1, (int)MIN(left / 1000 + 1, 1000));
		if (r == -1 && errno != EINTR)
			fatal("workers: poll");
		if (r > 0 && worker_recv(w, k, &protocol, &got) == -1) {
			int ws = worker_reap(k);
			if (k->error != NULL)
				*err = g_strdup_printf("parser worker: %s", k->error);
			else if (protocol != NULL)
				*err = g_strdup_printf("parser worker: %s", protocol);
			else if (ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
				*err = g_strdup_printf("parser worker: cannot exec %s", w->exe);
			else
				*err = g_strdup_printf("parser worker died at start (status %d)", ws);
			return -1;
		}
	}
	w->ready = TRUE;
	return 0;
}

static struct workers *
workers_start(const struct config *cfg, const struct parser_worker_config *pc,
    const char *exe, gboolean forked, char **err)
{
	struct workers *w = g_new0(struct workers, 1);
	struct parser_worker_config own;
	int i;

	*err = NULL;
	w->exe = g_strdup(exe);
#ifndef WORKERS_NO_RLIMIT_AS
	w->no_exec = forked;
#endif
	/* A forked pool serves one command, over in seconds: replacing its
	 * workers midway would mostly cost rules compiled again. */
	w->recycle_jobs = forked ? WORKERS_RECYCLE_JOBS * 8 : WORKERS_RECYCLE_JOBS;
	if (pc == NULL) {
		parser_config_worker(cfg, cfg->parser_rules, &own);
		pc = &own;
	}
	w->argv = workers_build_argv(pc, exe);
	w->nworkers = (int)cfg->parser_workers;
	w->cpu_seconds = cfg->parser_cpu_seconds;
	w->memory_bytes = cfg->parser_memory_mb * 1024 * 1024;
	/* The CPU limit is the real bound; the wall clock catches a worker stuck
	 * without using CPU, with room for a machine shared by other work. */
	w->wall_us = (cfg->parser_cpu_seconds * 3 + 5) * G_USEC_PER_SEC;
#ifdef WORKERS_NO_RLIMIT_AS
	{
		/* No RLIMIT_AS under ASan: its allocator enforces the limit instead
		 * (malloc fails past the RSS bound, GLib reports "failed to
		 * allocate"), so a runaway worker cannot take the machine down.
		 * handle_segv=0: a crash is reported by its signal, as without ASan. */
		const char *old;
		char *opts;
		w->envp = g_get_environ();
		old = g_environ_getenv(w->envp, "ASAN_OPTIONS");
		opts = g_strdup_printf("%s%sallocator_may_return_null=1:soft_rss_limit_mb=%lld:handle_segv=0",
		    old ? old : "", old && *old ? ":" : "", (long long)cfg->parser_memory_mb);
		w->envp = g_environ_setenv(w->envp, "ASAN_OPTIONS", opts, TRUE);
		g_free(opts);
	}
#endif
	w->w = g_new0(struct worker, w->nworkers);
	w->pfd = g_new0(struct pollfd, w->nworkers);
	g_queue_init(&w->pending);
	for (i = 0; i < w->nworkers; i++) {
		w->w[i].slot = i;
		w->w[i].in = g_byte_array_new();
		worker_reset(&w->w[i]);
	}
	/* The rules compiled here once, inherited by every forked worker,
	 * cost one compile instead of one per worker; a bad rules file is
	 * reported here. */
	if (w->no_exec) {
		char *perr = NULL;

		if ((w->fork_parser = parser_new(&pc->opts, &perr)) == NULL) {
			/* as workers_ready() words a worker's own start-up error */
			*err = g_strdup_printf("parser worker: %s", perr);
			g_free(perr);
			workers_free(w);
			return NULL;
		}
		parser_set_gmime_only(w->fork_parser, pc->gmime_only);
		w->fork_pc = pc;
	}
	for (i = 0; i < w->nworkers; i++)
		if (worker_spawn(w, &w->w[i], TRUE, err) == -1)
			break;
	if (w->fork_parser != NULL)
		parser_free(w->fork_parser);
	w->fork_parser = NULL;
	w->fork_pc = NULL;
	if (i < w->nworkers) {
		workers_free(w);
		return NULL;
	}

	/* The first worker's hello: a bad rules file fails start-up. */
	if (!forked && workers_ready(w, err) == -1) {
		workers_free(w);
		return NULL;
	}
	log_info("workers started n=%d cpu_seconds=%lld memory_mb=%lld wall_timeout=%llds",
	    w->nworkers, (long long)cfg->parser_cpu_seconds, (long long)cfg->parser_memory_mb,
	    (long long)(w->wall_us / G_USEC_PER_SEC));
	return w;
}

struct workers *
workers_new_exe(const struct config *cfg, const char *exe, char **err)
{
	return workers_start(cfg, NULL, exe, FALSE, err);
}

struct workers *
workers_new(const struct config *cfg, char **err)
{
	return workers_new_parser(cfg, NULL, err);
}

static struct workers *
workers_new_self(const struct config *cfg, const struct parser_worker_config *pc,
    gboolean forked, char **err)
{
	/* Not the resolved path: /proc/self/exe is the binary this daemon runs
	 * even after an upgrade replaced the file, so workers always speak the
	 * same report format as their parent.  Under valgrind (the e2e suite's
	 * VALGRIND=1) that names valgrind's launcher, which refuses to run;
	 * there the link, which valgrind reports as ours, is used instead. */
	const char *pre = g_getenv("LD_PRELOAD");
	struct workers *w;
	char *exe;

	if (pre == NULL || strstr(pre, "vgpreload") == NULL ||
	    (exe = g_file_read_link("/proc/self/exe", NULL)) == NULL)
		return workers_start(cfg, pc, "/proc/self/exe", forked, err);
	/* Exec'd, as the child of a process under valgrind is valgrind's too. */
	w = workers_start(cfg, pc, exe, FALSE, err);
	g_free(exe);
	return w;
}

struct workers *
workers_new_parser(const struct config *cfg, const struct parser_worker_config *pc, char **err)
{
	return workers_new_self(cfg, pc, FALSE, err);
}

struct workers *
workers_new_forked(const struct config *cfg, const struct parser_worker_config *pc, char **err)
{
	return workers_new_self(cfg, pc, TRUE, err);
}

void
workers_free(struct workers *w)
{
	int i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nworkers; i++) {
		worker_reap(&w->w[i]);
		worker_reset(&w->w[i]);
		g_byte_array_unref(w->w[i].in);
	}
	g_free(w->w);
	g_free(w->pfd);
	g_queue_clear(&w->pending);
	g_strfreev(w->argv);
	g_strfreev(w->envp);
	g_free(w->exe);
	g_free(w);
}
