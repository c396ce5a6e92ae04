/* classify.c - parsing behind one indirection, in the worker pool; see classify.h. */
#include "store/classify.h"

#include <glib.h>

#include "workers/workers.h"

struct classify {
	struct workers *workers;
};

struct classify *
classify_new(const struct config *cfg, char **err)
{
	struct workers *w;
	struct classify *c;

	if ((w = workers_new(cfg, err)) == NULL)
		return NULL;
	c = g_new0(struct classify, 1);
	c->workers = w;
	return c;
}

void
classify_free(struct classify *c)
{
	if (c == NULL)
		return;
	workers_free(c->workers);
	g_free(c);
}

int
classify_reload(struct classify *c, const struct config *cfg, char **err)
{
	struct workers *w;

	if ((w = workers_new(cfg, err)) == NULL)
		return -1;
	workers_free(c->workers);
	c->workers = w;
	return 0;
}

void
classify_batch(struct classify *c, struct classify_job *jobs, size_t n)
{
	struct workers_job *wj = g_new0(struct workers_job, n);
	size_t i;

	for (i = 0; i < n; i++) {
		wj[i].data = jobs[i].data;
		wj[i].len = jobs[i].len;
		wj[i].envelope_rcpt = jobs[i].envelope_rcpt;
	}
	workers_parse(c->workers, wj, n);
	for (i = 0; i < n; i++) {
		jobs[i].report = wj[i].report;
		jobs[i].status = wj[i].status;
		jobs[i].outcome = wj[i].status == WORKERS_OK ? NULL :
		    g_strdup_printf("%s %s", workers_status_name(wj[i].status),
		    wj[i].detail ? wj[i].detail : "");
		g_free(wj[i].detail);
	}
	g_free(wj);
}

void
classify_job_clear(struct classify_job *j)
{
	if (j->report != NULL)
		report_free(j->report);
	g_free(j->outcome);
	j->report = NULL;
	j->outcome = NULL;
	j->status = WORKERS_OK;
}

void
classify_jobs_free(struct classify_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		classify_job_clear(&jobs[i]);
	g_free(jobs);
}
