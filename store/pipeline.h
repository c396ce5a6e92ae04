/*
 * pipeline.h - the hand-off from the spool to PostgreSQL.
 *
 * One thread with its own blocking libpq connection, so the SMTP event loop
 * never waits on parsing or on the database.  It lists the spool oldest
 * first (at start, on every spool commit notification, and once a minute;
 * after a pass that left fewer than a quarter of [store] batch waiting, 20 ms
 * later, so that batches under load are not a handful of messages each),
 * reads and parses up to [store] batch messages, writes them in one
 * transaction (store.h), and only after COMMIT removes their spool entries.
 *
 * PostgreSQL unreachable or failing transiently: the entries stay in the
 * spool and the same batch is retried with capped exponential back-off
 * (1 s doubling to [store] retry_max_seconds); "store state=down" and
 * "store state=up" are each logged once per change.  The backlog then
 * drains in arrival order without operator action.  A message the database
 * refuses (data error) is stored as kind none with the error as outcome, so
 * it never loops.  A message whose parsing was attempted [parser]
 * max_attempts times without finishing (the daemon died) is stored
 * quarantined without parsing it again.
 *
 * With [store] migrate_on_start the thread applies pending migrations when it
 * first connects; otherwise it refuses to write to a schema that is not at
 * the binary's version (and retries, logging why).
 *
 * Ownership: cfg and spool must outlive the pipeline; pipeline_stop() joins
 * the thread and frees everything.
 */
#ifndef REBOUND_PIPELINE_H
#define REBOUND_PIPELINE_H

#include <stddef.h>

#include "common/config.h"
#include "receiver/spool.h"
#include "store/classify.h"

struct pipeline;

/* Starts the thread and registers itself with spool_set_notify(). NULL + *err on error. */
struct pipeline *pipeline_start(const struct config *cfg, struct spool *spool, char **err);

/* How the pipeline parses: classify.h by default (pipeline_start.c); tests plug in their own. */
struct pipeline_classifier {
	void (*batch)(void *arg, struct classify_job *jobs, size_t n);
	void (*clear)(void *arg, struct classify_job *job);	/* free a job's outputs */
	void (*free)(void *arg);
	/* Take a reloaded configuration (may be NULL: nothing to redo); -1 + *err keeps the old. */
	int (*reload)(void *arg, const struct config *cfg, char **err);
	void *arg;
};

/* pipeline_start() with a given classifier (owned by the pipeline from here on). */
struct pipeline *pipeline_start_with(const struct config *cfg, struct spool *spool,
    const struct pipeline_classifier *cl, char **err);

/*
 * SIGHUP: cfg (which must outlive the pipeline, like the first) is taken
 * between two passes, never in the middle of a batch, and the classifier
 * restarts its workers with it (a new rules file); if they cannot start the
 * old configuration stays, logged as "store event=reload-failed".
 */
void pipeline_reload(struct pipeline *p, const struct config *cfg);
/* Finishes the batch in hand (committed or left in the spool), then stops. */
void pipeline_stop(struct pipeline *p);

#endif
