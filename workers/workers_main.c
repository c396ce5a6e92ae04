/*
 * workers_main.c - "rebound parse-worker": one parser worker process.
 *
 * Started only by the pool (workers.c) with its socket on fd 3; reads jobs,
 * parses each with parser_parse() under a fresh CPU limit and answers with
 * the serialised report (framing in workers_proto.h).  It exits on EOF.
 * Anything that kills it is the pool's business: it never tries to recover.
 *
 * Before each parse it calls workers_before_parse when set: only the test
 * build (build/rebound-test, tests/support/) sets it, to make a worker
 * misbehave on purpose.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <glib.h>

#include "common/io.h"
#include "common/log.h"
#include "parsers/parser.h"
#include "workers/parser_config.h"
#include "workers/sandbox.h"
#include "workers/workers.h"
#include "workers/workers_proto.h"

static volatile sig_atomic_t worker_fd = WORKERS_FD;

static int
worker_frame(int fd, char type, const void *payload, size_t len)
{
	unsigned char h[WORKERS_FRAME_HDR] = { (unsigned char)type, 0, 0, 0,
	    (unsigned char)(len >> 24), (unsigned char)(len >> 16),
	    (unsigned char)(len >> 8), (unsigned char)len };
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)(uintptr_t)payload, len } };
	struct msghdr mh;
	ssize_t r;

	/* Header and payload in one call: one wake-up of the parent per report. */
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len ? 2 : 1;
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if ((size_t)r < sizeof(h))
		return io_write_all(fd, h + r, sizeof(h) - (size_t)r) == -1 ? -1 :
		    io_write_all(fd, payload, len);
	return io_write_all(fd, (const char *)payload + ((size_t)r - sizeof(h)),
	    len - ((size_t)r - sizeof(h)));
}

/*
 * GLib calls this for g_error() (e.g. "failed to allocate N bytes") just
 * before it aborts: tell the parent why, without allocating (the heap may
 * be exhausted), then print as usual.
 */
static void
worker_glog(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	char buf[WORKERS_MAX_NOTE];
	int n;

	(void)data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL)) {
		n = snprintf(buf, sizeof(buf), "%s-ERROR: %s", domain ? domain : "",
		    message ? message : "");
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof(buf))
			n = sizeof(buf) - 1;
		worker_frame(worker_fd, WORKERS_FRAME_NOTE, buf, (size_t)n);
	}
	/* fprintf, not log_warnx: no allocation on the way to an abort. */
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING |
	    G_LOG_FLAG_FATAL))
		fprintf(stderr, "warn parse-worker pid=%ld domain=%s glib=\"%.300s\"\n",
		    (long)getpid(), domain ? domain : "-", message ? message : "");
}

static int
worker_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return got == 0 && r == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

/* A new soft CPU limit for this message: what is used so far plus the budget. */
static void
worker_cpu_limit(long budget)
{
	struct rusage ru;
	struct rlimit rl;
	rlim_t used;

	if (getrusage(RUSAGE_SELF, &ru) == -1 || getrlimit(RLIMIT_CPU, &rl) == -1)
		fatal("parse-worker: getrusage");
	used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
	rl.rlim_cur = used + (rlim_t)budget;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_CPU, &rl) == -1)
		fatal("parse-worker: setrlimit RLIMIT_CPU");
}

static void
worker_usage(void)
{
	fprintf(stderr, "usage: rebound parse-worker --options OPTIONS\n"
	    "(internal: started by the parser pool with its job socket on fd 3; OPTIONS\n"
	    "as made by parser_config_encode())\n");
}

workers_parse_hook workers_before_parse;

int
workers_child_main(int argc, char **argv)
{
	struct parser_worker_config pc;
	struct parser *p;
	char *err = NULL;
	long cpu_seconds;
	struct stat st;
	int fd = WORKERS_FD;

	if (argc != 3 || strcmp(argv[1], "--options") != 0) {
		worker_usage();
		return 2;
	}
	if (parser_config_decode(argv[2], &pc, &err) < 0) {
		fprintf(stderr, "rebound parse-worker: %s\n", err);
		g_free(err);
		return 2;
	}
	log_set_level_name(pc.log_level);
	log_set_format_name(pc.log_format);
	cpu_seconds = (long)pc.cpu_seconds;
	if (cpu_seconds < 1)
		cpu_seconds = 1;
	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		worker_usage();
		parser_config_worker_clear(&pc);
		return 2;
	}
	g_log_set_default_handler(worker_glog, NULL);

	if ((p = parser_new(&pc.opts, &err)) == NULL) {
		worker_frame(fd, WORKERS_FRAME_ERROR, err, MIN(strlen(err), WORKERS_MAX_NOTE));
		log_warnx("parse-worker pid=%ld parser: %s", (long)getpid(), err);
		g_free(err);
		parser_config_worker_clear(&pc);
		return 1;
	}
	parser_set_gmime_only(p, pc.gmime_only);
	/* From here on the input is hostile: no root, only parsing's system calls. */
	if (sandbox_enter(&err) == -1) {
		worker_frame(fd, WORKERS_FRAME_ERROR, err, MIN(strlen(err), WORKERS_MAX_NOTE));
		log_warnx("parse-worker pid=%ld sandbox: %s", (long)getpid(), err);
		g_free(err);
		parser_free(p);
		parser_config_worker_clear(&pc);
		return 1;
	}
	if (worker_frame(fd, WORKERS_FRAME_HELLO, NULL, 0) == -1) {
		parser_free(p);
		parser_config_worker_clear(&pc);
		return 1;
	}

	for (;;) {
		unsigned char h[WORKERS_REQ_HDR];
		guint32 rcpt_len;
		guint64 data_len;
		char *rcpt, *data;
		struct report *r;
		GBytes *b;
		int rc;

		if ((rc = worker_read_all(fd, h, sizeof(h))) == 0)
			break;		/* the pool closed us: done */
		if (rc == -1 || memcmp(h, WORKERS_MAGIC, 4) != 0)
			fatalx("parse-worker: bad request");
		rcpt_len = (guint32)h[4] << 24 | (guint32)h[5] << 16 | (guint32)h[6] << 8 | h[7];
		data_len = (guint64)h[8] << 56 | (guint64)h[9] << 48 | (guint64)h[10] << 40 |
		    (guint64)h[11] << 32 | (guint64)h[12] << 24 | (guint64)h[13] << 16 |
		    (guint64)h[14] << 8 | h[15];
		if (rcpt_len > WORKERS_MAX_RCPT || data_len > WORKERS_MAX_DATA)
			fatalx("parse-worker: request too large");
		rcpt = g_malloc(rcpt_len + 1);
		data = g_malloc(data_len + 1);
		if (worker_read_all(fd, rcpt, rcpt_len) != 1 ||
		    worker_read_all(fd, data, data_len) != 1)
			fatalx("parse-worker: short request");
		rcpt[rcpt_len] = '\0';
		data[data_len] = '\0';

		worker_cpu_limit(cpu_seconds);
		if (workers_before_parse != NULL)
			workers_before_parse(data, data_len);
		r = parser_parse(p, data, data_len, rcpt_len ? rcpt : NULL);
		b = report_serialize(r);
		if (g_bytes_get_size(b) > WORKERS_MAX_REPORT)
			fatalx("parse-worker: report too large");
		if (worker_frame(fd, WORKERS_FRAME_REPORT, g_bytes_get_data(b, NULL),
		    g_bytes_get_size(b)) == -1)
			break;
		g_bytes_unref(b);
		report_free(r);
		g_free(rcpt);
		g_free(data);
	}
	parser_free(p);
	parser_config_worker_clear(&pc);
	return 0;
}
