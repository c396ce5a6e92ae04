/*
 * workers_proto.h - the framing between the pool (workers.c) and a
 * "rebound parse-worker" process (workers_main.c), private to those two.
 *
 * One SOCK_STREAM socketpair per worker, the worker's end on fd 3.
 * Parent -> worker, one per job: a 32-byte request header
 *   magic "RBJ2", u32 rcpt_len, u64 data_len, u32 file_len,
 *   u32 render (0, or an enum render_format), i64 index (big-endian)
 * then rcpt_len bytes of envelope recipient, file_len bytes of file name
 * and data_len bytes of message.  With magic "RBJF" the message is not
 * sent: it is the file whose descriptor came with the request (SCM_RIGHTS,
 * attached to the sendmsg() that carries the request's first byte or an
 * earlier one, so descriptors arrive in request order, never after their
 * header); the worker reads data_len bytes of it from offset 0 (the
 * descriptor's offset is shared with the pool, which may send it again to
 * another worker) and closes it.
 * Worker -> parent: frames of an 8-byte header
 *   u8 type, 3 zero bytes, u32 len (big-endian)
 * then len bytes.  Types: 'H' hello (parser loaded, len 0), 'E' start-up
 * error text, 'N' note (a fatal GLib message sent just before dying),
 * 'R' report_serialize() bytes (render 0), 'O' the rendered lines (render
 * set: u32 out_len, out_len bytes for standard output, the rest for
 * standard error).  Every length is checked against the limits below by
 * the receiver before anything is allocated.
 *
 * Replies are answered in request order but sent in batches: the worker
 * buffers complete 'R'/'O' frames and sends them in one call when it would
 * otherwise block for input, when WORKERS_REPLY_BATCH of them or
 * WORKERS_REPLY_BYTES are buffered, or when the oldest is
 * WORKERS_REPLY_DELAY_US old at the end of a parse.  An 'N' or 'E' frame
 * is sent after the replies buffered before it, never ahead of them.
 *
 * Which job the worker is in: the pool passes each worker a sealed
 * one-page memfd (WORKERS_PAGE_FD for an exec'd worker; a forked one
 * inherits the mapping), in which the worker stores, before it parses a
 * job, the number of jobs it has started (u64, native order).  The pool
 * reads it to charge a failure to the job that was being parsed, and to
 * see a worker progress while its replies are held back; it trusts the
 * number only within what it sent that worker.
 */
#ifndef REBOUND_WORKERS_PROTO_H
#define REBOUND_WORKERS_PROTO_H

#include "workers/parser_config.h"

#define WORKERS_FD		3
#define WORKERS_PAGE_FD		4
#define WORKERS_PAGE_SIZE	4096
#define WORKERS_MAGIC		"RBJ2"
#define WORKERS_MAGIC_FD	"RBJF"
#define WORKERS_REQ_HDR		32
#define WORKERS_FRAME_HDR	8
#define WORKERS_MAX_RCPT	4096
#define WORKERS_MAX_FILE	65536
#define WORKERS_MAX_DATA	((guint64)2 << 30)	/* above [smtp] max_message_size's cap */
#define WORKERS_MAX_NOTE	2048
#define WORKERS_MAX_REPORT	(64u << 20)
/* Jobs a worker has at most at a time (workers_int.h says why so many). */
#define WORKERS_INFLIGHT	32
#define WORKERS_REPLY_BATCH	8
#define WORKERS_REPLY_BYTES	(64u << 10)
#define WORKERS_REPLY_DELAY_US	2000

#define WORKERS_FRAME_HELLO	'H'
#define WORKERS_FRAME_ERROR	'E'
#define WORKERS_FRAME_NOTE	'N'
#define WORKERS_FRAME_REPORT	'R'
#define WORKERS_FRAME_OUTPUT	'O'

/* The protocol's big-endian u32, read and written the same way at both ends. */
static inline guint32
workers_get_be32(const guint8 *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static inline void
workers_put_be32(guint8 *p, guint32 v)
{
	p[0] = (guint8)(v >> 24);
	p[1] = (guint8)(v >> 16);
	p[2] = (guint8)(v >> 8);
	p[3] = (guint8)v;
}

/*
 * The worker's main in a child forked without an exec, with the parser
 * its parent set up before forking (p, now the child's; gmime_only set
 * already): the rules are compiled once for all such workers instead of
 * once in each.  page: its job counter, mapped shared before the fork.
 * Returns the exit status.
 */
int workers_child_forked(const struct parser_worker_config *pc, struct parser *p,
    volatile guint64 *page);

#endif
