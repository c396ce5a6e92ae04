/* workers_pool.c - start, replace and reap the pool's worker processes. */
#include "workers/workers_int.h"
#include "workers/workers_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

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
workers_child(struct workers *w, int fd, int page_fd, volatile guint64 *page, gboolean no_exec)
{
	struct rlimit rl;
	struct sigaction sa;
	sigset_t all;
	int sig, a, b;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Above both targets first, so that neither dup2() closes the other. */
	if ((a = fcntl(fd, F_DUPFD, WORKERS_PAGE_FD + 1)) == -1 ||
	    (b = fcntl(page_fd, F_DUPFD, WORKERS_PAGE_FD + 1)) == -1 ||
	    dup2(a, WORKERS_FD) == -1 || dup2(b, WORKERS_PAGE_FD) == -1)
		_exit(126);
	if (close_range(WORKERS_PAGE_FD + 1, ~0U, 0) == -1) {
		int i;
		for (i = WORKERS_PAGE_FD + 1; i < 65536; i++)
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
	if (no_exec) {
		close(WORKERS_PAGE_FD);	/* mapped already */
		_exit(workers_child_forked(w->fork_pc, w->fork_parser, page));
	}
	execv(w->exe, w->argv);
#else
	(void)no_exec;	/* never set here: see workers_start */
	(void)page;
	execve(w->exe, w->argv, w->envp);
#endif
	_exit(127);
}

void
worker_reset(struct worker *k)
{
	if (k->page != NULL)
		munmap((void *)(uintptr_t)k->page, WORKERS_PAGE_SIZE);
	k->page = NULL;
	k->seen = 0;
	k->pid = -1;
	k->fd = -1;
	k->jobs_done = 0;
	k->hello = FALSE;
	k->ninflight = 0;
	k->nsent = 0;
	k->sent = 0;
	g_byte_array_set_size(k->in, 0);
	k->in_pos = 0;
	g_clear_pointer(&k->note, g_free);
	g_clear_pointer(&k->error, g_free);
}

/*
 * A worker's job counter (workers_proto.h): a one-page memfd sealed at
 * that size, so that the worker can neither shrink it under our mapping
 * nor grow it.  Returns the descriptor and maps it read-only in *page, or
 * -1 with *err set.
 */
static int
worker_page_new(volatile guint64 **page, char **err)
{
	int fd = memfd_create("rebound-worker", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *m;

	if (fd == -1) {
		*err = g_strdup_printf("memfd_create: %s", g_strerror(errno));
		return -1;
	}
	if (ftruncate(fd, WORKERS_PAGE_SIZE) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == -1 ||
	    (m = mmap(NULL, WORKERS_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		*err = g_strdup_printf("worker page: %s", g_strerror(errno));
		close(fd);
		return -1;
	}
	*page = m;
	return fd;
}

int
worker_spawn(struct workers *w, struct worker *k, gboolean first, char **err)
{
	gboolean no_exec = w->no_exec && first;
	volatile guint64 *page = NULL;
	volatile guint64 *child_page = NULL;
	int sv[2], page_fd;
	pid_t pid;

	if ((page_fd = worker_page_new(&page, err)) == -1)
		return -1;
	/* A forked worker writes through a mapping of its own, shared with ours. */
	if (no_exec && (child_page = mmap(NULL, WORKERS_PAGE_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED, page_fd, 0)) == MAP_FAILED) {
		*err = g_strdup_printf("worker page: %s", g_strerror(errno));
		munmap((void *)(uintptr_t)page, WORKERS_PAGE_SIZE);
		close(page_fd);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*err = g_strdup_printf("socketpair: %s", g_strerror(errno));
		sv[0] = -1;
		pid = -1;
	} else {
		if (no_exec)
			fflush(NULL);	/* or the child would hold a copy of what is buffered */
		pid = fork();
		if (pid == -1) {
			*err = g_strdup_printf("fork: %s", g_strerror(errno));
			close(sv[0]);
			close(sv[1]);
		}
	}
	if (pid == 0)
		workers_child(w, sv[1], page_fd, child_page, no_exec);
	close(page_fd);
	if (child_page != NULL)
		munmap((void *)(uintptr_t)child_page, WORKERS_PAGE_SIZE);
	if (pid == -1) {
		munmap((void *)(uintptr_t)page, WORKERS_PAGE_SIZE);
		return -1;
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("workers: fcntl");
	worker_reset(k);
	k->pid = pid;
	k->fd = sv[0];
	k->page = page;
	workers_note_spawned();
	log_debug("workers slot=%d pid=%ld started", k->slot, (long)pid);
	return 0;
}

/* Kill and reap; the returned wait status is the worker's own if it had already died. */
int
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
 * Whether the worker's counter (started, read once) names a job it has
 * now: one sent and not answered.  Nothing else it writes there is
 * believed.
 */
gboolean
worker_counter_believed(const struct worker *k, guint64 started)
{
	guint64 answered = k->jobs_done;

	return started > answered && started - answered <= (guint64)k->nsent;
}

/*
 * Which of the jobs in flight the worker was parsing, by its counter
 * (started, read once): the job it names if believed; otherwise, and when
 * no job was started since the last answer, the oldest is charged, the
 * one whose turn it was.
 */
int
worker_current(const struct worker *k, guint64 started)
{
	if (worker_counter_believed(k, started))
		return (int)(started - k->jobs_done - 1);
	return 0;
}

/*
 * The worker is dead or must be: reap it and settle the job it was
 * parsing (worker_current(), with the counter as it is after the worker's
 * death, or for a timeout as the caller read it when it decided: started,
 * or -1), if any; every other job in flight goes back to the pending
 * queue as it was, in order, including those it parsed but whose answers
 * were still held back in the worker.  Returns the number of jobs settled
 * (0 or 1).
 */
int
worker_fail_at(struct workers *w, struct worker *k, gboolean timed_out, const char *protocol,
    gint64 started)
{
	int wstatus, status, i, cur;
	struct workers_job *job;
	pid_t pid = k->pid;
	char *detail = NULL;

	wstatus = worker_reap(k);
	if (started < 0)
		started = k->page != NULL ? (gint64)MIN(*k->page, (guint64)G_MAXINT64) : 0;
	/* A protocol error is the answer to the oldest job: that one is charged. */
	cur = protocol != NULL ? 0 : worker_current(k, (guint64)started);
	job = k->ninflight > 0 ? k->inflight[cur] : NULL;
	for (i = k->ninflight - 1; i >= 0; i--)
		if (i != cur)
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

int
worker_fail(struct workers *w, struct worker *k, gboolean timed_out, const char *protocol)
{
	return worker_fail_at(w, k, timed_out, protocol, -1);
}

/* Replace a worker that has done its share, once it is idle. */
void
worker_maybe_recycle(struct workers *w, struct worker *k)
{
	if (k->ninflight == 0 && k->pid != -1 && k->jobs_done >= w->recycle_jobs) {
		log_debug("workers slot=%d pid=%ld recycled after %u jobs", k->slot,
		    (long)k->pid, k->jobs_done);
		worker_reap(k);
		worker_reset(k);
	}
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

#ifdef WORKERS_NO_RLIMIT_AS
/*
 * No RLIMIT_AS under ASan: its allocator enforces the limit instead
 * (malloc fails past the RSS bound, GLib reports "failed to allocate"), so
 * a runaway worker cannot take the machine down.  handle_segv=0: a crash
 * is reported by its signal, as without ASan.
 */
static void
workers_asan_env(struct workers *w, const struct config *cfg)
{
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

/* The slots, each without a process yet. */
static void
workers_slots(struct workers *w)
{
	int i;

	w->w = g_new0(struct worker, w->nworkers);
	w->pfd = g_new0(struct pollfd, w->nworkers);
	g_queue_init(&w->pending);
	for (i = 0; i < w->nworkers; i++) {
		w->w[i].slot = i;
		w->w[i].in = g_byte_array_new();
		worker_reset(&w->w[i]);
	}
}

/*
 * Start a process in every slot.  For a forked pool the rules are
 * compiled here once, inherited by every forked worker (one compile
 * instead of one per worker), and a bad rules file is reported here
 * before any worker starts.  -1 with *err set on failure.
 */
static int
workers_spawn_first(struct workers *w, const struct parser_worker_config *pc, char **err)
{
	int i;

	if (w->forked) {
		char *perr = NULL;

		if ((w->fork_parser = parser_new(&pc->opts, &perr)) == NULL) {
			/* as workers_ready() words a worker's own start-up error */
			*err = g_strdup_printf("parser worker: %s", perr);
			g_free(perr);
			return -1;
		}
		/* Inherited by forked workers; exec'd ones (ASan) compile their own. */
		parser_set_gmime_only(w->fork_parser, pc->gmime_only);
		w->fork_pc = pc;
	}
	for (i = 0; i < w->nworkers; i++)
		if (worker_spawn(w, &w->w[i], TRUE, err) == -1)
			break;
	w->fork_pc = NULL;
	return i < w->nworkers ? -1 : 0;
}

static struct workers *
workers_start(const struct config *cfg, const struct parser_worker_config *pc,
    const char *exe, gboolean forked, char **err)
{
	struct workers *w = g_new0(struct workers, 1);
	struct parser_worker_config own;

	*err = NULL;
	w->exe = g_strdup(exe);
	w->forked = forked;
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
	workers_asan_env(w, cfg);
#endif
	workers_slots(w);
	if (workers_spawn_first(w, pc, err) == -1) {
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
	if (w->fork_parser != NULL)
		parser_free(w->fork_parser);
	g_free(w->w);
	g_free(w->pfd);
	g_queue_clear(&w->pending);
	g_strfreev(w->argv);
	g_strfreev(w->envp);
	g_free(w->exe);
	g_free(w);
}
