/*
 * workers_main.c - "rebound parse-worker": one parser worker process.
 *
 * Started only by the pool (workers.c) with its socket on fd 3 and its job
 * counter page on fd 4; reads jobs, counts each in the page, parses it
 * with parser_parse() under a fresh CPU limit and answers with the
 * serialised report, or for "rebound parse" with the lines it prints
 * (render.h); answers go out in batches (framing and batching in
 * workers_proto.h).  It exits on EOF.
 * Anything that kills it is the pool's business: it never tries to recover.
 *
 * Before each parse it calls workers_before_parse when set: only the test
 * build (build/rebound-test, tests/support/) sets it, to make a worker
 * misbehave on purpose.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
#include "workers/render.h"
#include "workers/sandbox.h"
#include "workers/workers.h"
#include "workers/workers_proto.h"

static volatile sig_atomic_t worker_fd = WORKERS_FD;

/*
 * Replies parsed and not sent yet: complete frames only (a frame is
 * counted in len once it is whole), so that worker_glog() can send them on
 * the way to an abort without allocating.
 */
static struct {
	char buf[WORKERS_REPLY_BYTES];
	size_t len;
	int n;				/* frames */
	gint64 first;			/* monotonic us the oldest was buffered */
} worker_out;

/* The job counter the pool reads (workers_proto.h), or a private stand-in. */
static guint64 worker_page_none;
static volatile guint64 *worker_page = &worker_page_none;

/* Send iov[0..n) in full; -1 if the socket failed.  No allocation. */
static int
worker_sendv(int fd, struct iovec *iov, int n)
{
	struct msghdr mh;
	ssize_t r;
	int i;

	for (i = 0; i < n; ) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov + i;
		mh.msg_iovlen = (size_t)(n - i);
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		while (i < n && (size_t)r >= iov[i].iov_len)
			r -= (ssize_t)iov[i++].iov_len;
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + r;
			iov[i].iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Send the buffered replies, in one call as far as the socket takes them. */
static int
worker_flush(int fd)
{
	struct iovec iov;
	int rc;

	if (worker_out.len == 0)
		return 0;
	iov.iov_base = worker_out.buf;
	iov.iov_len = worker_out.len;
	rc = worker_sendv(fd, &iov, 1);
	worker_out.len = 0;
	worker_out.n = 0;
	return rc;
}

/*
 * One frame of type with the payload parts given (at most 3).  A reply
 * (batch) joins the buffered ones when it fits; anything else is sent
 * after them, header and payload in one call as far as the socket takes
 * it.  No allocation: worker_glog() sends with it.
 */
static int
worker_frame_v(int fd, char type, const struct iovec *parts, int nparts, gboolean batch)
{
	unsigned char h[WORKERS_FRAME_HDR] = { (unsigned char)type, 0, 0, 0, 0, 0, 0, 0 };
	struct iovec iov[4];
	size_t len = 0;
	int i, n = 0;

	for (i = 0; i < nparts; i++)
		len += parts[i].iov_len;
	workers_put_be32(h + 4, (guint32)len);
	if (batch && sizeof(worker_out.buf) - worker_out.len < sizeof(h) + len &&
	    worker_flush(fd) == -1)
		return -1;
	if (batch && sizeof(worker_out.buf) - worker_out.len >= sizeof(h) + len) {
		char *p = worker_out.buf + worker_out.len;

		memcpy(p, h, sizeof(h));
		p += sizeof(h);
		for (i = 0; i < nparts; i++) {
			if (parts[i].iov_len > 0)
				memcpy(p, parts[i].iov_base, parts[i].iov_len);
			p += parts[i].iov_len;
		}
		if (worker_out.n++ == 0)
			worker_out.first = g_get_monotonic_time();
		worker_out.len += sizeof(h) + len;
		return 0;
	}
	if (worker_flush(fd) == -1)
		return -1;
	iov[n].iov_base = h;
	iov[n++].iov_len = sizeof(h);
	for (i = 0; i < nparts; i++)
		if (parts[i].iov_len > 0)
			iov[n++] = parts[i];
	return worker_sendv(fd, iov, n);
}

static int
worker_frame(int fd, char type, const void *payload, size_t len)
{
	struct iovec part = { (void *)(uintptr_t)payload, len };

	return worker_frame_v(fd, type, &part, 1, FALSE);
}

/*
 * After a reply is buffered: send the batch once it is WORKERS_REPLY_BATCH
 * replies, or its oldest has waited WORKERS_REPLY_DELAY_US (so that a
 * slow message holds back the replies before it for one parse at most).
 */
static int
worker_reply_done(int fd)
{
	if (worker_out.n >= WORKERS_REPLY_BATCH ||
	    g_get_monotonic_time() - worker_out.first >= WORKERS_REPLY_DELAY_US)
		return worker_flush(fd);
	return 0;
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

/* Requests come back to back: read them in large pieces, not one read per field. */
static struct {
	char buf[256 * 1024];
	size_t pos, len;
} worker_in;

/*
 * Descriptors received with the requests ("RBJF"), oldest first: at most
 * WORKERS_INFLIGHT are ever outstanding, so more is a broken pool.
 */
#define WORKER_FDS_MAX	64
G_STATIC_ASSERT(WORKER_FDS_MAX >= WORKERS_INFLIGHT);
static struct {
	int fd[WORKER_FDS_MAX];
	int head, count;
} worker_fds;

/* recv() with flags that keeps the descriptors that came with the bytes. */
static ssize_t
worker_recv(int fd, void *buf, size_t len, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WORKER_FDS_MAX)];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	if ((r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags)) <= 0)
		return r;
	if (mh.msg_flags & MSG_CTRUNC)
		fatalx("parse-worker: too many descriptors");
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t i, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			if (worker_fds.count == WORKER_FDS_MAX)
				fatalx("parse-worker: too many descriptors");
			memcpy(&worker_fds.fd[(worker_fds.head + worker_fds.count++) % WORKER_FDS_MAX],
			    CMSG_DATA(cm) + sizeof(int) * i, sizeof(int));
		}
	}
	return r;
}

/*
 * The message of an "RBJF" request: up to len bytes from the start of the
 * next descriptor (fewer if the file shrank since the pool looked at it).
 * Returns the length read.
 */
static guint64
worker_read_file(char *data, guint64 len)
{
	guint64 got = 0;
	int fd;

	if (worker_fds.count == 0)
		fatalx("parse-worker: request without its file");
	fd = worker_fds.fd[worker_fds.head];
	worker_fds.head = (worker_fds.head + 1) % WORKER_FDS_MAX;
	worker_fds.count--;
	while (got < len) {
		ssize_t r = pread(fd, data + got, (size_t)MIN(len - got, (guint64)1 << 30), (off_t)got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			fatal("parse-worker: read the message");
		if (r == 0)
			break;
		got += (guint64)r;
	}
	close(fd);
	return got;
}

/*
 * Read what is there into buf (up to cap): replies still buffered are
 * sent first if the read would block, as the pool may be waiting for
 * them before it sends more.  As recv(2).
 */
static ssize_t
worker_read_some(int fd, void *buf, size_t cap)
{
	ssize_t r;

	if (worker_out.len > 0) {
		r = worker_recv(fd, buf, cap, MSG_DONTWAIT);
		if (r > 0)
			return r;
		if (worker_flush(fd) == -1)
			return -1;
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			return r;
	}
	return worker_recv(fd, buf, cap, 0);
}

/* 1 read, 0 end of input before the first byte, -1 error or short. */
static int
worker_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		size_t have = worker_in.len - worker_in.pos;
		ssize_t r;

		if (have > 0) {
			size_t n = MIN(have, len - got);
			memcpy(p + got, worker_in.buf + worker_in.pos, n);
			worker_in.pos += n;
			got += n;
			continue;
		}
		if (len - got >= sizeof(worker_in.buf))
			r = worker_read_some(fd, p + got, len - got);
		else
			r = worker_read_some(fd, worker_in.buf, sizeof(worker_in.buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return got == 0 && r == 0 ? 0 : -1;
		if (len - got >= sizeof(worker_in.buf))
			got += (size_t)r;
		else {
			worker_in.pos = 0;
			worker_in.len = (size_t)r;
		}
	}
	return 1;
}

/*
 * A new soft CPU limit for this message: what is used so far (whole
 * seconds, plus two) plus the budget.  getrusage() is asked at most once
 * a second of wall-clock time: this process has one thread, so the CPU
 * time it used since the last check is at most the time elapsed, under a
 * second, and the limit set then (used + 2 + budget) still leaves this
 * message more than budget seconds.  The same limit as the last one needs
 * no system call.
 */
static void
worker_cpu_limit(long budget)
{
	static rlim_t last_used, max;
	static gboolean have_max;
	static gint64 checked;		/* monotonic us of the last getrusage() */
	struct rusage ru;
	struct rlimit rl;
	rlim_t used;
	gint64 now = g_get_monotonic_time();

	if (!have_max) {
		if (getrlimit(RLIMIT_CPU, &rl) == -1)
			fatal("parse-worker: getrlimit");
		max = rl.rlim_max;
		have_max = TRUE;
	} else if (now - checked < G_USEC_PER_SEC)
		return;
	if (getrusage(RUSAGE_SELF, &ru) == -1)
		fatal("parse-worker: getrusage");
	checked = now;
	used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 2);
	if (used == last_used)
		return;
	rl.rlim_cur = used + (rlim_t)budget;
	rl.rlim_max = max;
	if (max != RLIM_INFINITY && rl.rlim_cur > max)
		rl.rlim_cur = max;
	if (setrlimit(RLIMIT_CPU, &rl) == -1)
		fatal("parse-worker: setrlimit RLIMIT_CPU");
	last_used = used;
}

static void
worker_usage(void)
{
	fprintf(stderr, "usage: rebound parse-worker --options OPTIONS\n"
	    "(internal: started by the parser pool with its job socket on fd 3; OPTIONS\n"
	    "as made by parser_config_encode())\n");
}

workers_parse_hook workers_before_parse;

static int
worker_send_report(int fd, const struct report *r)
{
	GBytes *b = report_serialize(r);
	struct iovec part = { (void *)(uintptr_t)g_bytes_get_data(b, NULL), g_bytes_get_size(b) };
	int rc;

	if (part.iov_len > WORKERS_MAX_REPORT)
		fatalx("parse-worker: report too large");
	rc = worker_frame_v(fd, WORKERS_FRAME_REPORT, &part, 1, TRUE);
	g_bytes_unref(b);
	return rc;
}

/* The lines "rebound parse" prints for this report: u32 length of standard output's, both. */
static int
worker_send_lines(int fd, const struct report *r, int format, const char *file, long index)
{
	static GString *out, *err;
	unsigned char n[4];
	struct iovec parts[3];

	if (out == NULL) {
		out = g_string_sized_new(4096);
		err = g_string_sized_new(256);
	}
	g_string_truncate(out, 0);
	g_string_truncate(err, 0);
	render_report(out, err, format | RENDER_WIRE_ORDER, file, index, r);
	if (4 + out->len + err->len > WORKERS_MAX_REPORT)
		fatalx("parse-worker: report too large");
	workers_put_be32(n, (guint32)out->len);
	parts[0].iov_base = n;
	parts[0].iov_len = 4;
	parts[1].iov_base = out->str;
	parts[1].iov_len = out->len;
	parts[2].iov_base = err->str;
	parts[2].iov_len = err->len;
	return worker_frame_v(fd, WORKERS_FRAME_OUTPUT, parts, 3, TRUE);
}

/*
 * Serve jobs with the parser set up (p, owned): enter the sandbox, say
 * hello, parse until the pool closes the socket.  The exit status.
 */
static int
worker_serve(int fd, struct parser *p, long cpu_seconds)
{
	char *err = NULL;
	guint64 started = 0;

	if (cpu_seconds < 1)
		cpu_seconds = 1;
	/* From here on the input is hostile: no root, only parsing's system calls. */
	if (sandbox_enter(&err) == -1) {
		worker_frame(fd, WORKERS_FRAME_ERROR, err, MIN(strlen(err), WORKERS_MAX_NOTE));
		log_warnx("parse-worker pid=%ld sandbox: %s", (long)getpid(), err);
		g_free(err);
		parser_free(p);
		return 1;
	}
	if (worker_frame(fd, WORKERS_FRAME_HELLO, NULL, 0) == -1) {
		parser_free(p);
		return 1;
	}

	for (;;) {
		unsigned char h[WORKERS_REQ_HDR];
		guint32 rcpt_len, file_len, render;
		guint64 data_len, index;
		char *rcpt, *file, *data;
		struct report *r;
		int rc;

		if ((rc = worker_read_all(fd, h, sizeof(h))) == 0)
			break;		/* the pool closed us: done */
		if (rc == -1 || (memcmp(h, WORKERS_MAGIC, 4) != 0 && memcmp(h, WORKERS_MAGIC_FD, 4) != 0))
			fatalx("parse-worker: bad request");
		rcpt_len = workers_get_be32(h + 4);
		data_len = (guint64)workers_get_be32(h + 8) << 32 | workers_get_be32(h + 12);
		file_len = workers_get_be32(h + 16);
		render = workers_get_be32(h + 20);
		index = (guint64)workers_get_be32(h + 24) << 32 | workers_get_be32(h + 28);
		if (rcpt_len > WORKERS_MAX_RCPT || data_len > WORKERS_MAX_DATA ||
		    file_len > WORKERS_MAX_FILE)
			fatalx("parse-worker: request too large");
		if (render != 0 && render != RENDER_TAB && render != RENDER_JSON &&
		    render != (RENDER_JSON | RENDER_OUTCOMES))
			fatalx("parse-worker: bad request");
		rcpt = g_malloc(rcpt_len + 1);
		file = g_malloc(file_len + 1);
		data = g_malloc(data_len + 1);
		if (worker_read_all(fd, rcpt, rcpt_len) != 1 ||
		    worker_read_all(fd, file, file_len) != 1)
			fatalx("parse-worker: short request");
		if (memcmp(h, WORKERS_MAGIC_FD, 4) == 0)
			data_len = worker_read_file(data, data_len);
		else if (worker_read_all(fd, data, data_len) != 1)
			fatalx("parse-worker: short request");
		rcpt[rcpt_len] = '\0';
		file[file_len] = '\0';
		data[data_len] = '\0';

		*worker_page = ++started;
		worker_cpu_limit(cpu_seconds);
		if (workers_before_parse != NULL)
			workers_before_parse(data, data_len);
		r = parser_parse(p, data, data_len, rcpt_len ? rcpt : NULL);
		rc = render ? worker_send_lines(fd, r, (int)render, file, (long)(gint64)index) :
		    worker_send_report(fd, r);
		report_free(r);
		g_free(rcpt);
		g_free(file);
		g_free(data);
		if (rc == -1 || worker_reply_done(fd) == -1)
			break;
	}
	worker_flush(fd);
	parser_free(p);
	return 0;
}

int
workers_child_forked(const struct parser_worker_config *pc, struct parser *p,
    volatile guint64 *page)
{
	if (page != NULL)
		worker_page = page;
	log_set_level_name(pc->log_level);
	log_set_format_name(pc->log_format);
	g_log_set_default_handler(worker_glog, NULL);
	return worker_serve(WORKERS_FD, p, (long)pc->cpu_seconds);
}

/*
 * The job counter page on WORKERS_PAGE_FD, when the pool passed one (it
 * did unless this worker was started by hand; a descriptor that is not a
 * memfd sealed at its size is none of ours and is left alone): mapped,
 * and the descriptor closed before the sandbox.
 */
static void
worker_page_map(void)
{
	struct stat st;
	void *m;
	int seals;

	if (fstat(WORKERS_PAGE_FD, &st) == -1)
		return;
	seals = fcntl(WORKERS_PAGE_FD, F_GET_SEALS);
	if (seals == -1 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return;
	if (S_ISREG(st.st_mode) && st.st_size >= WORKERS_PAGE_SIZE &&
	    (m = mmap(NULL, WORKERS_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    WORKERS_PAGE_FD, 0)) != MAP_FAILED)
		worker_page = m;
	close(WORKERS_PAGE_FD);
}

int
workers_child_main(int argc, char **argv)
{
	struct parser_worker_config pc;
	struct parser *p;
	char *err = NULL;
	struct stat st;
	int fd = WORKERS_FD, rc;

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
	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		worker_usage();
		parser_config_worker_clear(&pc);
		return 2;
	}
	g_log_set_default_handler(worker_glog, NULL);
	worker_page_map();

	if ((p = parser_new(&pc.opts, &err)) == NULL) {
		worker_frame(fd, WORKERS_FRAME_ERROR, err, MIN(strlen(err), WORKERS_MAX_NOTE));
		log_warnx("parse-worker pid=%ld parser: %s", (long)getpid(), err);
		g_free(err);
		parser_config_worker_clear(&pc);
		return 1;
	}
	parser_set_gmime_only(p, pc.gmime_only);
	rc = worker_serve(fd, p, (long)pc.cpu_seconds);
	parser_config_worker_clear(&pc);
	return rc;
}
