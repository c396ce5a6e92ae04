/*
 * classify.h - the one place the store asks "what is this message?".
 *
 * Parsing runs in the worker pool (workers/workers.h): a message that
 * crashes, spins or bloats the parser kills a worker process, never the
 * daemon.
 *
 * classify_batch() fills each job's report (owned by the job; NULL when
 * parsing failed, with status saying how and outcome saying why, e.g.
 * "crash signal=6 (SIGABRT)").  classify_job_clear() frees them;
 * classify_jobs_free() clears each of an array of n jobs and frees the array.
 */
#ifndef REBOUND_CLASSIFY_H
#define REBOUND_CLASSIFY_H

#include <stddef.h>

#include "common/config.h"
#include "parsers/report.h"

struct classify_job {
	const char *data;
	size_t len;
	const char *envelope_rcpt;	/* for VERP; may be NULL */
	struct report *report;		/* out */
	char *outcome;			/* out when report is NULL: e.g. "crash signal=6 (SIGABRT)" */
	int status;			/* out: WORKERS_OK (0) or the WORKERS_* failure */
};

struct classify;

struct classify *classify_new(const struct config *cfg, char **err);
void classify_free(struct classify *c);
/*
 * A new worker pool for cfg (rules file re-read) replaces the old one; on
 * error (-1, *err) the old pool stays.
 */
int classify_reload(struct classify *c, const struct config *cfg, char **err);
void classify_batch(struct classify *c, struct classify_job *jobs, size_t n);
void classify_job_clear(struct classify_job *j);
void classify_jobs_free(struct classify_job *jobs, size_t n);

#endif
