/*
 * notify.h - keeps the lookup index current from PostgreSQL, on the primary
 * or on a hot standby.
 *
 * The index follows suppression_changes (sql/004_change_feed.sql), a log of
 * changed keys whose ids are given in commit order, so "every id above the
 * last one applied" is exactly what is new, on a standby as on the primary.
 *
 * notify_start() connects, loads every unexpired suppression with one COPY
 * and the log's last id from the same REPEATABLE READ snapshot (blocking:
 * the first load happens before the lookup listeners open), then runs on
 * the event base: a poll reads the changes after the last id applied
 * together with each changed key's current row (no row: removed) and
 * applies them in id order.  Polls run on a timer (NOTIFY_POLL_MS on a
 * standby, which delivers no NOTIFY) and, on the primary, at once on the
 * "rebound_changes" notification the log's trigger sends.  A poll that
 * finds the log pruned past its last id reloads the whole index.
 *
 * If the connection is lost, the index keeps answering from what it has,
 * and the follower reconnects with back-off (without blocking the loop).
 * If the server's log still holds the last change applied, with the same
 * commit time, it is the history followed so far and the follower goes on
 * from there; otherwise (another server state, such as a standby promoted
 * before it had that change, or a log pruned past it) it reloads the whole
 * index off to the side and swaps it in.
 *
 * Connected to the primary, the follower also prunes the log: rows older
 * than keep_days, in bounded chunks, every NOTIFY_PRUNE_SECONDS.
 *
 * The notify handle belongs to the caller (notify_free); it does not own
 * the index or the base.
 */
#ifndef REBOUND_NOTIFY_H
#define REBOUND_NOTIFY_H

#include <stdint.h>
#include <event2/event.h>

#include "lookup/index.h"

struct notify;

struct notify *notify_new(struct event_base *base, const char *conninfo, struct index *ix,
    int64_t keep_days);
/* 0 when the first load is done; -1 and *err (g_free) if the database was
 * unreachable: reconnection then continues in the background. */
int notify_start(struct notify *n, char **err);
void notify_free(struct notify *n);

/* Safe from any thread. */
int notify_loaded(struct notify *n);	/* the index was loaded at least once */
int notify_connected(struct notify *n);	/* following the log right now */

struct notify_status {
	int64_t change_id;	/* last change applied (0 = none yet) */
	int standby;		/* the database followed is a hot standby */
	/* How far behind the index may be: seconds since a poll last reached
	 * the end of the log, plus, on a standby, how far its replay was
	 * behind the WAL it had received then (the time since the last
	 * replayed commit); -1 before the first load. */
	double lag_seconds;
};
void notify_status(struct notify *n, struct notify_status *st);

#endif
