/* workers_io.c - one worker's socket: request framing, sending, reply decoding. */
#include "workers/workers_int.h"
#include "workers/workers_proto.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

G_STATIC_ASSERT(WORKERS_INFLIGHT >= 2 * WORKERS_REPLY_BATCH);

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
	memcpy(hdr, job->by_fd ? WORKERS_MAGIC_FD : WORKERS_MAGIC, 4);
	workers_put_be32(hdr + 4, (guint32)rcpt_len);
	workers_put_be32(hdr + 8, (guint32)(dl >> 32));
	workers_put_be32(hdr + 12, (guint32)dl);
	workers_put_be32(hdr + 16, (guint32)file_len);
	workers_put_be32(hdr + 20, (guint32)job->render);
	workers_put_be32(hdr + 24, (guint32)(ix >> 32));
	workers_put_be32(hdr + 28, (guint32)ix);
	iov[0].iov_base = hdr;
	iov[0].iov_len = WORKERS_REQ_HDR;
	iov[1].iov_base = (char *)(uintptr_t)job->envelope_rcpt;
	iov[1].iov_len = rcpt_len;
	iov[2].iov_base = (char *)(uintptr_t)job->file;
	iov[2].iov_len = file_len;
	iov[3].iov_base = (char *)(uintptr_t)job->data;
	iov[3].iov_len = job->by_fd ? 0 : job->len;
	return WORKERS_REQ_HDR + rcpt_len + file_len + iov[3].iov_len;
}

/* An answer came, or the first job was queued: the next job's clock starts. */
static void
worker_head_started(struct workers *w, struct worker *k)
{
	k->deadline = g_get_monotonic_time() + w->wall_us;
	g_clear_pointer(&k->note, g_free);
}

void
worker_queue(struct workers *w, struct worker *k, struct workers_job *job)
{
	job->fd_sent = FALSE;
	k->inflight[k->ninflight++] = job;
	if (k->ninflight == 1)
		worker_head_started(w, k);
}

/*
 * Send what the socket takes of the queued requests, all of them in one
 * call when they fit; -1 if the worker is gone.
 */
int
worker_send(struct worker *k)
{
	while (k->nsent < k->ninflight) {
		guint8 hdr[WORKERS_INFLIGHT][WORKERS_REQ_HDR];
		struct iovec iov[WORKERS_INFLIGHT * 4];
		size_t total[WORKERS_INFLIGHT], skip = k->sent, r;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * WORKERS_INFLIGHT)];
		} ctl;
		struct workers_job *passing[WORKERS_INFLIGHT];
		struct msghdr mh;
		int j, n = 0, nfd = 0;
		ssize_t rc;

		for (j = k->nsent; j < k->ninflight; j++) {
			struct iovec part[4];
			int p;

			total[j] = worker_request(k->inflight[j], hdr[j], part);
			if (k->inflight[j]->by_fd && !k->inflight[j]->fd_sent)
				passing[nfd++] = k->inflight[j];
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
		if (nfd > 0) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
			for (j = 0; j < nfd; j++)
				memcpy(CMSG_DATA(cm) + sizeof(int) * (size_t)j, &passing[j]->fd, sizeof(int));
		}
		rc = sendmsg(k->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (rc <= 0)
			return -1;
		/* The descriptors went with the first byte, whatever the count. */
		for (j = 0; j < nfd; j++)
			passing[j]->fd_sent = TRUE;
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
 * An 'R' frame (complete in k->in, payload within it): the report of the
 * job being parsed.  The frame is consumed; 1 done, -1 with *protocol set.
 */
static int
worker_frame_report(struct worker *k, const guint8 *payload, guint32 len, const char **protocol)
{
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
	k->in_pos += WORKERS_FRAME_HDR + len;
	if (job->report == NULL) {
		*protocol = "invalid report";
		return -1;
	}
	return 1;
}

/* An 'O' frame: the rendered lines and notes of the job being parsed; as above. */
static int
worker_frame_output(struct worker *k, const guint8 *payload, guint32 len, const char **protocol)
{
	struct workers_job *job = k->ninflight > 0 ? k->inflight[0] : NULL;
	guint32 out_len;

	if (job == NULL || !k->hello || k->nsent < 1 || !job->render) {
		*protocol = "lines without a request for them";
		return -1;
	}
	if (len < 4 || (out_len = workers_get_be32(payload)) > len - 4) {
		*protocol = "bad lines frame";
		return -1;
	}
	job->out = g_bytes_new(payload + 4, out_len);
	job->notes = len - 4 > out_len ?
	    g_strndup((const char *)payload + 4 + out_len, len - 4 - out_len) : NULL;
	k->in_pos += WORKERS_FRAME_HDR + len;
	return 1;
}

/*
 * Consume complete frames.  Returns 1 when the job got its report, 0 to
 * keep waiting, -1 with *protocol set when the worker spoke garbage.
 */
static int
worker_frames(struct worker *k, const char **protocol)
{
	while (k->in->len - k->in_pos >= WORKERS_FRAME_HDR) {
		const guint8 *h = k->in->data + k->in_pos;
		guint8 type = h[0];
		guint32 len = workers_get_be32(h + 4);
		guint32 max;
		const guint8 *payload = h + WORKERS_FRAME_HDR;

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
		if (len > max || h[1] || h[2] || h[3]) {
			*protocol = "bad frame length";
			return -1;
		}
		if (k->in->len - k->in_pos - WORKERS_FRAME_HDR < len)
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
		case WORKERS_FRAME_REPORT:
			return worker_frame_report(k, payload, len, protocol);
		case WORKERS_FRAME_OUTPUT:
			return worker_frame_output(k, payload, len, protocol);
		}
		k->in_pos += WORKERS_FRAME_HDR + len;
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
int
worker_recv(struct workers *w, struct worker *k, const char **protocol, int *done)
{
	const guint chunk = 65536;
	ssize_t r;
	int rc, gone = 0;

	/* Frames are consumed by moving in_pos: only the unfinished one is moved, once a read. */
	if (k->in_pos > 0) {
		g_byte_array_remove_range(k->in, 0, (guint)k->in_pos);
		k->in_pos = 0;
	}
	for (;;) {
		guint have = k->in->len;
		int e;

		/* Received straight into the buffer, not copied there. */
		g_byte_array_set_size(k->in, have + chunk);
		r = recv(k->fd, k->in->data + have, chunk, MSG_DONTWAIT);
		e = errno;
		g_byte_array_set_size(k->in, have + (guint)MAX(r, 0));
		if (r == -1 && e == EINTR)
			continue;
		if (r == -1 && (e == EAGAIN || e == EWOULDBLOCK))
			break;
		if (r <= 0) {
			gone = 1;
			break;
		}
		if (r < (ssize_t)chunk)
			break;
	}
	while ((rc = worker_frames(k, protocol)) == 1) {
		worker_done(w, k);
		(*done)++;
	}
	if (rc == -1 || gone)
		return -1;
	if (k->ninflight == 0 && k->in->len != k->in_pos) {
		*protocol = "data after the last report";
		return -1;
	}
	return 0;
}

/* Sending failed: the worker is gone; settle what it answered before failing it. */
size_t
worker_broken(struct workers *w, struct worker *k)
{
	const char *protocol = NULL;
	int got = 0;

	worker_recv(w, k, &protocol, &got);
	return (size_t)got + (size_t)worker_fail(w, k, FALSE, protocol);
}

