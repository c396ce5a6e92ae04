/* conn_limits.c - descriptor budget of the listeners; see conn_limits.h. */
#include "common/conn_limits.h"

#include <unistd.h>
#include <sys/resource.h>
#include <glib.h>

#include "common/log.h"

/*
 * Descriptors kept for the daemon itself (spool, PostgreSQL, eventfds,
 * listeners, up to 64 SMTP sessions closing with a limit's 421 beyond the
 * session limit), plus a few per parser worker.
 */
#define CONN_RESERVE_BASE	128
#define CONN_RESERVE_WORKER	4
/* What one SMTP session may buffer besides its message (smtp_session.c:
 * the read watermark is max_data_line + 4096, replies up to 64 KB), and
 * the share of physical memory all sessions' buffers may take. */
#define CONN_SMTP_OUT		(64 * 1024)
#define CONN_MEM_SHARE		8

void
conn_limits_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_debug("serve event=nofile-raised from=%lu to=%lu", (unsigned long)was,
			    (unsigned long)rl.rlim_cur);
	}
}

int
conn_limits_compute(const struct config *cfg, struct conn_limits *out, char **err)
{
	struct rlimit rl;
	long avail, fixed = 0, autos = 0, pages, psize, by_mem;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 1048576)
		rl.rlim_cur = 1048576;
	out->nofile = (long)rl.rlim_cur;
	out->reserve = CONN_RESERVE_BASE + CONN_RESERVE_WORKER * (long)cfg->parser_workers;
	avail = out->nofile - out->reserve;
	out->smtp = cfg->smtp_max_sessions;
	out->http = cfg->http_max_connections;
	out->socketmap = out->policy = cfg->lookup_max_connections;
	fixed = out->smtp + out->http + out->socketmap + out->policy;
	if (fixed > avail) {
		*err = g_strdup_printf("[smtp] max_sessions %ld + [http] max_connections %ld + "
		    "2 x [lookup] max_connections %ld = %ld connections, but RLIMIT_NOFILE %ld "
		    "leaves %ld after %ld kept for the spool, PostgreSQL and workers",
		    out->smtp, out->http, out->socketmap, fixed, out->nofile, avail > 0 ? avail : 0,
		    out->reserve);
		return -1;
	}
	avail -= fixed;
	/* Shares of what is left, in tenths: SMTP 6, HTTP 1, socketmap and policy 1.5 each. */
	autos = (out->smtp == 0 ? 12 : 0) + (out->http == 0 ? 2 : 0) +
	    (out->socketmap == 0 ? 6 : 0);
	if (autos > 0 && avail < 16) {
		*err = g_strdup_printf("RLIMIT_NOFILE %ld is too low: %ld descriptors are kept for "
		    "the spool, PostgreSQL and workers and the connection limits need %ld",
		    out->nofile, out->reserve, fixed + 16);
		return -1;
	}
	if (out->smtp == 0)
		out->smtp = MAX(1, avail * 12 / autos);
	if (out->http == 0)
		out->http = MAX(1, avail * 2 / autos);
	if (out->socketmap == 0)
		out->socketmap = out->policy = MAX(1, avail * 3 / autos);
	if (cfg->smtp_max_sessions == 0) {
		pages = sysconf(_SC_PHYS_PAGES);
		psize = sysconf(_SC_PAGESIZE);
		if (pages > 0 && psize > 0) {
			by_mem = (long)((double)pages * psize / CONN_MEM_SHARE /
			    (double)(cfg->smtp_max_data_line + 4096 + CONN_SMTP_OUT));
			if (by_mem < out->smtp)
				out->smtp = MAX(1, by_mem);
		}
	}
	return 0;
}
