/*
 * webhook_outbox.h - queue events for the [webhook] endpoints of their
 * tenant, in the store's open transaction (sql/006_webhook.sql).
 */
#ifndef REBOUND_WEBHOOK_OUTBOX_H
#define REBOUND_WEBHOOK_OUTBOX_H

#include <stdint.h>
#include <glib.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "store/pg.h"

/*
 * The configured endpoints as two text[] literals of equal length, for
 * unnest(): *tenants (NULL where the endpoint takes every tenant) and
 * *urls; g_free both.  FALSE (and both NULL) when there is none.
 */
gboolean webhook_outbox_endpoints(const struct config *cfg, char **tenants, char **urls);

/* One event (reprocess; the store's batch queues its events set-based):
 * 0 (also when no endpoint wants it), or -1 with *cls and *err. */
int webhook_outbox_add(PGconn *conn, const struct config *cfg, int64_t event_id,
    const char *tenant, enum pg_error_class *cls, char **err);

#endif
