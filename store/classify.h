/*
 * classify.h - the one place the store asks "what is this message?".
 *
 * Today it calls the in-process parser (parsers/parser.h); the worker pool
 * (store/workers.h) plugs in here, so the pipeline and reprocess do not
 * change when parsing moves to isolated processes.
 *
 * classify_batch() fills each job's report (owned by the job; NULL when
 * parsing failed, with outcome saying why).  classify_job_clear() frees them.
 */
#ifndef REBOUND_CLASSIFY_H
#define REBOUND_CLASSIFY_H

#include <stddef.h>

#include "config.h"
#include "parsers/report.h"

struct classify_job {
	const char *data;
	size_t len;
	const char *envelope_rcpt;	/* for VERP; may be NULL */
	struct report *report;		/* out */
	char *outcome;			/* out when report is NULL: e.g. "parser crash signal=6" */
};

struct classify;

struct classify *classify_new(const struct config *cfg, char **err);
void classify_free(struct classify *c);
void classify_batch(struct classify *c, struct classify_job *jobs, size_t n);
void classify_job_clear(struct classify_job *j);

#endif
