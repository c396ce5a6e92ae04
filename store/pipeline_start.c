/* pipeline_start.c - the pipeline with the real classifier (classify.h). */
#include "store/pipeline.h"

#include <glib.h>

static void
pipeline_classify_batch(void *arg, struct classify_job *jobs, size_t n)
{
	classify_batch(arg, jobs, n);
}

static void
pipeline_classify_clear(void *arg, struct classify_job *job)
{
	(void)arg;
	classify_job_clear(job);
}

static void
pipeline_classify_free(void *arg)
{
	classify_free(arg);
}

static int
pipeline_classify_reload(void *arg, const struct config *cfg, char **err)
{
	return classify_reload(arg, cfg, err);
}

struct pipeline *
pipeline_start(const struct config *cfg, struct spool *spool, char **err)
{
	struct pipeline_classifier cl;
	struct classify *c;

	if ((c = classify_new(cfg, err)) == NULL)
		return NULL;
	cl.batch = pipeline_classify_batch;
	cl.clear = pipeline_classify_clear;
	cl.free = pipeline_classify_free;
	cl.reload = pipeline_classify_reload;
	cl.arg = c;
	return pipeline_start_with(cfg, spool, &cl, err);
}
