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
 */
#ifndef REBOUND_WORKERS_PROTO_H
#define REBOUND_WORKERS_PROTO_H

#include "workers/parser_config.h"

#define WORKERS_FD		3
#define WORKERS_MAGIC		"RBJ2"
#define WORKERS_MAGIC_FD	"RBJF"
#define WORKERS_REQ_HDR		32
#define WORKERS_FRAME_HDR	8
#define WORKERS_MAX_RCPT	4096
#define WORKERS_MAX_FILE	65536
#define WORKERS_MAX_DATA	((guint64)2 << 30)	/* above [smtp] max_message_size's cap */
#define WORKERS_MAX_NOTE	2048
#define WORKERS_MAX_REPORT	(64u << 20)

#define WORKERS_FRAME_HELLO	'H'
#define WORKERS_FRAME_ERROR	'E'
#define WORKERS_FRAME_NOTE	'N'
#define WORKERS_FRAME_REPORT	'R'
#define WORKERS_FRAME_OUTPUT	'O'

/*
 * The worker's main in a child forked without an exec, with the parser
 * its parent set up before forking (p, now the child's; gmime_only set
 * already): the rules are compiled once for all such workers instead of
 * once in each.  Returns the exit status.
 */
int workers_child_forked(const struct parser_worker_config *pc, struct parser *p);

#endif
