-- 001_init.sql - Rebound's first schema.
-- Applied by "rebound migrate" inside one transaction; the migrations table
-- itself is created by the migrator.  Addresses: "address" keeps the local
-- part as sent with the domain lower-cased (IDNA A-label); "address_key" is
-- that with ASCII letters of the local part lower-cased too, and is what
-- lookups and uniqueness use.

CREATE TABLE messages (
    id            bigserial PRIMARY KEY,
    queue_id      text        NOT NULL,
    received_at   timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    client_addr   text,
    helo          text,
    tls           text,
    mail_from     text,
    rcpts         text[]      NOT NULL DEFAULT '{}',
    size          bigint      NOT NULL,
    sha256        bytea       NOT NULL UNIQUE,       -- dedupe: a report counts once
    tenant        text        NOT NULL DEFAULT 'default',
    kind          text        NOT NULL CHECK (kind IN ('dsn','arf','autoreply','bounce','none')),
    outcome       text        NOT NULL,              -- 'ok' or why parsing failed / quarantine reason
    anomalies     integer     NOT NULL DEFAULT 0,
    mta           text,
    attempts      integer     NOT NULL DEFAULT 1,
    quarantined   boolean     NOT NULL DEFAULT false,
    raw           bytea                              -- NULL once past retention
);
CREATE INDEX messages_received_idx ON messages (received_at);
CREATE INDEX messages_quarantined_idx ON messages (received_at) WHERE quarantined;

CREATE TABLE events (
    id              bigserial PRIMARY KEY,
    message_id      bigint      NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    tenant          text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recipient       text        NOT NULL,
    address_key     text        NOT NULL,
    domain          text        NOT NULL,
    kind            text        NOT NULL,
    class           text        NOT NULL CHECK (class IN ('hard','soft','block','complaint','autoreply','delivered','unknown')),
    reason          text,
    status          text,
    replycode       text,
    action          text,
    diagnostic      text,
    remote_mta      text,
    reporting_mta   text,
    mta             text,
    feedback_type   text,
    user_agent      text,
    source_ip       text,
    rule            text,
    orig_message_id text,
    orig_subject    text,
    original_recipient text,
    last_attempt    text,
    smtp_command    text,
    arrival_date    text,
    original_mail_from text,
    reported_domain text,
    auth_results    text,
    orig_from       text,
    orig_to         text,
    orig_list_id    text,
    orig_date       text,
    campaign        text,                            -- first correlation header found
    correlation     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX events_key_idx      ON events (tenant, address_key, occurred_at);
CREATE INDEX events_time_idx     ON events (occurred_at);
CREATE INDEX events_class_idx    ON events (class, occurred_at);
CREATE INDEX events_domain_idx   ON events (domain, occurred_at);
CREATE INDEX events_campaign_idx ON events (campaign, occurred_at) WHERE campaign IS NOT NULL;
CREATE INDEX events_message_idx  ON events (message_id);

CREATE TABLE suppressions (
    id           bigserial PRIMARY KEY,
    tenant       text        NOT NULL,
    address      text        NOT NULL,
    address_key  text        NOT NULL,
    domain       text        NOT NULL,
    class        text        NOT NULL CHECK (class IN ('hard','soft','complaint','manual')),
    reason       text        NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    event_count  integer     NOT NULL DEFAULT 1,
    expires_at   timestamptz,                        -- NULL = permanent
    origin       text        NOT NULL CHECK (origin IN ('automatic','manual','import')),
    event_id     bigint      REFERENCES events(id) ON DELETE SET NULL,
    note         text,
    UNIQUE (tenant, address_key)
);
CREATE INDEX suppressions_key_idx     ON suppressions (address_key);
CREATE INDEX suppressions_domain_idx  ON suppressions (domain);
CREATE INDEX suppressions_class_idx   ON suppressions (class, reason);
CREATE INDEX suppressions_seen_idx    ON suppressions (last_seen);
CREATE INDEX suppressions_expires_idx ON suppressions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE suppression_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    tenant      text        NOT NULL,
    address_key text        NOT NULL,
    op          text        NOT NULL CHECK (op IN ('add','update','remove')),
    origin      text        NOT NULL,
    actor       text,                                -- 'policy', 'api', 'cli', 'import'
    old         jsonb,
    new         jsonb
);
CREATE INDEX suppression_audit_key_idx ON suppression_audit (tenant, address_key, at);

-- Every change to suppressions is audited and announced to the lookup index
-- (LISTEN rebound_suppressions; payload "op<TAB>tenant<TAB>address_key").
CREATE FUNCTION suppressions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO suppression_audit (tenant, address_key, op, origin, actor, old)
        VALUES (OLD.tenant, OLD.address_key, 'remove', OLD.origin,
                current_setting('rebound.actor', true), to_jsonb(OLD));
        PERFORM pg_notify('rebound_suppressions', 'D' || chr(9) || OLD.tenant || chr(9) || OLD.address_key);
        RETURN OLD;
    END IF;
    INSERT INTO suppression_audit (tenant, address_key, op, origin, actor, old, new)
    VALUES (NEW.tenant, NEW.address_key, CASE TG_OP WHEN 'INSERT' THEN 'add' ELSE 'update' END,
            NEW.origin, current_setting('rebound.actor', true),
            CASE TG_OP WHEN 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
    PERFORM pg_notify('rebound_suppressions', 'U' || chr(9) || NEW.tenant || chr(9) || NEW.address_key);
    RETURN NEW;
END $$;

CREATE TRIGGER suppressions_audit
    AFTER INSERT OR UPDATE OR DELETE ON suppressions
    FOR EACH ROW EXECUTE FUNCTION suppressions_changed();
