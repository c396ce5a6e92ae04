/*
 * webhook_outbox.h - queue an event for the [webhook] endpoints of its
 * tenant, in the store's open transaction (sql/006_webhook.sql).
 */
#ifndef REBOUND_WEBHOOK_OUTBOX_H
#define REBOUND_WEBHOOK_OUTBOX_H

#include <stdint.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "store/pg.h"

/* 0 (also when no endpoint wants it), or -1 with *cls and *err. */
int webhook_outbox_add(PGconn *conn, const struct config *cfg, int64_t event_id,
    const char *tenant, enum pg_error_class *cls, char **err);

/* The same for every event of the store's batch (its temporary table
 * rebound_batch_events, store.c), in one statement. */
int webhook_outbox_batch(PGconn *conn, const struct config *cfg, enum pg_error_class *cls,
    char **err);

#endif
