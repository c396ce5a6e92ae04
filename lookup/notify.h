/*
 * notify.h - keeps the lookup index current from PostgreSQL.
 *
 * notify_start() connects, issues LISTEN rebound_suppressions, loads every
 * unexpired suppression with one COPY (blocking: the first load happens
 * before the lookup listeners open) and then runs on the event base: each
 * notification ("U|D TAB tenant TAB address_key", from the trigger in
 * sql/001_init.sql) queues its key, and queued keys are re-read in batches
 * with one query each, so an add, change or removal reaches the index in
 * milliseconds and notifications can never apply out of order.  A flood of
 * notifications (a bulk import) turns into one full reload instead.
 *
 * If the connection is lost, the index keeps answering from what it has,
 * and the listener reconnects with back-off (without blocking the loop),
 * LISTENs again and reloads the whole index off to the side before
 * swapping it in, so changes missed while disconnected are picked up.
 *
 * The notify handle belongs to the caller (notify_free); it does not own
 * the index or the base.
 */
#ifndef REBOUND_NOTIFY_H
#define REBOUND_NOTIFY_H

#include <event2/event.h>

#include "lookup/index.h"

struct notify;

struct notify *notify_new(struct event_base *base, const char *conninfo, struct index *ix);
/* 0 when the first load is done; -1 and *err (g_free) if the database was
 * unreachable: reconnection then continues in the background. */
int notify_start(struct notify *n, char **err);
void notify_free(struct notify *n);

/* Safe from any thread. */
int notify_loaded(struct notify *n);	/* the index was loaded at least once */
int notify_connected(struct notify *n);	/* listening right now */

#endif
