/*
 * reprocess.h - classify stored raw messages again and bring events and
 * automatic suppressions in line with the new answers (see reprocess.c).
 */
#ifndef REBOUND_REPROCESS_H
#define REBOUND_REPROCESS_H

#include "common/config.h"

struct reprocess_stats {
	long messages, events_old, events_new, added, changed, removed;
};

/*
 * Reprocess the messages that arrived in [since, until) (PostgreSQL
 * timestamps, validated by PostgreSQL).  0 and *st filled, or -1 and *err
 * (caller frees).
 */
int reprocess_run(const struct config *cfg, const char *since, const char *until,
    struct reprocess_stats *st, char **err);

#endif
