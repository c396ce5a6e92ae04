/*
 * webhook.h - deliver events to other systems ([webhook] url): the
 * deliverer thread posts the due rows of the outbox the store fills
 * (store/webhook_outbox.h, sql/006_webhook.sql) and records each outcome.
 *
 * Each POST carries one event as JSON, with
 *   X-Rebound-Event-Id: ID            (the same on every retry: idempotence)
 *   X-Rebound-Signature: t=UNIX,v1=HEX
 * HEX being HMAC-SHA256 under [webhook] secret of "UNIX.BODY", so that a
 * receiver checks both the body and the time (and refuses old replays).
 * A 2xx answer delivers; anything else, a refused connection or no answer
 * within [webhook] timeout is retried after retry_min_seconds, doubling up
 * to retry_max_seconds, until give_up_seconds after the event was queued,
 * when the row becomes dead.  Delivery is at least once: a 2xx whose
 * recording fails (PostgreSQL away) is posted again.
 *
 * It runs in its own thread with its own connection, so a slow or dead
 * receiver, or PostgreSQL away, never touches SMTP or the store.
 */
#ifndef REBOUND_WEBHOOK_H
#define REBOUND_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct webhook;

/* Starts the deliverer for cfg->store_conninfo; cfg must outlive it. */
struct webhook *webhook_start(const struct config *cfg, char **err);
void webhook_stop(struct webhook *w);			/* NULL is fine */
void webhook_reload(struct webhook *w, const struct config *cfg);

/* "t=UNIX,v1=HEX" for body at time t (g_free()). */
char *webhook_signature(const char *secret, int64_t t, const char *body, size_t len);

#endif
