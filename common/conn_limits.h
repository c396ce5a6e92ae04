/*
 * conn_limits.h - how many connections each listener may hold.
 *
 * Every connection is a descriptor: SMTP sessions, HTTP, socketmap and
 * policy connections together must stay below RLIMIT_NOFILE with room for
 * what the daemon itself opens (spool files, PostgreSQL connections,
 * parser worker pipes, eventfds, logs), or an accept() flood on one port
 * starves the others of descriptors.  An explicit setting (non-zero) is
 * taken as it is; a 0 gets a share of what is left.  The SMTP share is also
 * bounded by memory: each session may buffer a DATA line and its replies.
 */
#ifndef REBOUND_CONN_LIMITS_H
#define REBOUND_CONN_LIMITS_H

#include "common/config.h"

struct conn_limits {
	long nofile;			/* RLIMIT_NOFILE (soft) */
	long reserve;			/* kept for everything but client connections */
	long smtp;			/* [smtp] max_sessions in effect */
	long http;			/* [http] max_connections in effect */
	long socketmap;			/* [lookup] max_connections, socketmap */
	long policy;			/* [lookup] max_connections, policy */
};

/* Raise the soft RLIMIT_NOFILE to the hard one (daemons only). */
void conn_limits_raise_nofile(void);
/*
 * Fill *out for cfg under the current RLIMIT_NOFILE; -1 and *err when the
 * explicit settings do not fit.
 */
int conn_limits_compute(const struct config *cfg, struct conn_limits *out, char **err);

#endif
