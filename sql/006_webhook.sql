-- 006_webhook.sql - the durable outbox of webhook deliveries ([webhook]).
-- The store queues one row per event and endpoint in the transaction that
-- writes the event, so a delivery is never lost and never slows intake;
-- the deliverer (webhook/webhook.c) posts due rows, at least once, with
-- exponential back-off, until they are delivered or, after
-- [webhook] give_up_seconds, dead (kept, listed by the API and the page,
-- counted in /metrics, and retried by hand with POST /v1/webhooks/ID/retry).

CREATE TABLE webhook_outbox (
    id            bigserial PRIMARY KEY,
    event_id      bigint      NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    tenant        text        NOT NULL,
    url           text        NOT NULL,
    state         text        NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'delivered', 'dead')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    next_at       timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    last_status   integer,                  -- HTTP status of the last attempt
    last_error    text,
    delivered_at  timestamptz,
    UNIQUE (event_id, url)
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_dead_idx ON webhook_outbox (id) WHERE state = 'dead';
