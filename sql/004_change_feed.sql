-- 004_change_feed.sql - a durable, ordered log of suppression changes that
-- the lookup index follows by id, on the primary and on hot standbys alike
-- (a standby delivers no NOTIFY, but it replays this table).
--
-- Every insert, update and delete on suppressions adds a row naming the key
-- (tenant, address_key) that changed; a reader re-reads the key's current
-- row, and a key without one was removed.  The row is written by the
-- database itself (a trigger), so every writer - the store, the API, the
-- CLI, a psql session - is covered.
--
-- Ids are given in commit order.  A bigserial taken when the row is
-- inserted would not be: a transaction holding id N-1 may commit after one
-- holding N, and a reader that has moved past N would never see N-1.  So
-- the trigger is a deferred constraint trigger (it runs as the transaction
-- commits) and takes a transaction-scoped advisory lock before it takes its
-- id: the lock is held until the commit is visible (PostgreSQL releases
-- locks after it marks the transaction committed), so the next writer's
-- ids come after it, and on a standby the commits replay in the same WAL
-- order.  A reader that has seen id N has therefore seen every committed id
-- below N, and reads "id > last seen" with no gap tracking.  The price is
-- that the commits of transactions that change suppressions are serialised
-- (they no longer share one WAL flush); a store batch changes suppressions
-- once per transaction, so this is a lock per batch, not per row.
-- An id taken by a transaction that then fails to commit is never reused:
-- a hole that stays a hole.
--
-- Retention: suppression_changes_prune() deletes rows older than a bound
-- (called by the lookup side connected to the primary, [lookup]
-- change_log_days) and records the highest id removed in
-- suppression_changes_horizon.  A reader whose last id is below it may
-- have missed a pruned change and reloads the whole index.

CREATE TABLE suppression_changes (
    id          bigint      PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant      text        NOT NULL,
    address_key text        NOT NULL,
    op          char(1)     NOT NULL CHECK (op IN ('U', 'D'))
);
-- CACHE 1 (the default) matters: ids a session cached ahead would come out
-- of commit order.
CREATE SEQUENCE suppression_changes_id_seq AS bigint CACHE 1 OWNED BY suppression_changes.id;

CREATE TABLE suppression_changes_horizon (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_through bigint  NOT NULL DEFAULT 0
);
INSERT INTO suppression_changes_horizon DEFAULT VALUES;

-- Any constant shared by every writer of suppressions (migrate.c uses 7262656701).
CREATE FUNCTION suppressions_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7262656702);
    IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.tenant <> NEW.tenant
                              OR OLD.address_key <> NEW.address_key) THEN
        INSERT INTO suppression_changes (id, tenant, address_key, op)
        VALUES (nextval('suppression_changes_id_seq'), OLD.tenant, OLD.address_key, 'D');
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO suppression_changes (id, tenant, address_key, op)
        VALUES (nextval('suppression_changes_id_seq'), NEW.tenant, NEW.address_key, 'U');
    END IF;
    -- A wake-up for readers on the primary; one per transaction (PostgreSQL
    -- folds equal notifications), the log itself carries the changes.
    PERFORM pg_notify('rebound_changes', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER suppressions_feed
    AFTER INSERT OR UPDATE OR DELETE ON suppressions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION suppressions_feed();

-- The per-row NOTIFY of 001 is replaced by the log; the audit stays.
CREATE OR REPLACE FUNCTION suppressions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO suppression_audit (tenant, address_key, op, origin, actor, old)
        VALUES (OLD.tenant, OLD.address_key, 'remove', OLD.origin,
                current_setting('rebound.actor', true), to_jsonb(OLD));
        RETURN OLD;
    END IF;
    INSERT INTO suppression_audit (tenant, address_key, op, origin, actor, old, new)
    VALUES (NEW.tenant, NEW.address_key, CASE TG_OP WHEN 'INSERT' THEN 'add' ELSE 'update' END,
            NEW.origin, current_setting('rebound.actor', true),
            CASE TG_OP WHEN 'UPDATE' THEN to_jsonb(OLD) END, to_jsonb(NEW));
    RETURN NEW;
END $$;

-- Deletes up to max_rows of the oldest changes written before now() - keep;
-- returns how many.  Readers behind the horizon reload.
CREATE FUNCTION suppression_changes_prune(keep interval, max_rows integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    upto bigint;
    n    bigint;
BEGIN
    SELECT max(id) INTO upto FROM (
        SELECT id FROM suppression_changes WHERE at < now() - keep ORDER BY id LIMIT max_rows) x;
    IF upto IS NULL THEN
        RETURN 0;
    END IF;
    -- the horizon first: concurrent pruners queue on its row
    UPDATE suppression_changes_horizon SET pruned_through = greatest(pruned_through, upto);
    DELETE FROM suppression_changes WHERE id <= upto;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
