-- The event tables of postgres-es 0.5 (its db/init.sql), plus the columns of the global log.
--
-- postgres-es never names global_position, transaction_id or recorded_at in its inserts, so
-- its PostgresEventRepository works on this table unchanged; the defaults fill them in.
--
-- Gap-free global order: a bigserial value is taken when a row is inserted, not when its
-- transaction commits, so ordering by global_position alone lets a reader skip a row whose
-- transaction commits late. Readers therefore only take rows whose transaction_id is below
-- the xmin of their snapshot (every older transaction has finished) and order and
-- checkpoint by (transaction_id, global_position). See ARCHITECTURE.md.
CREATE TABLE events
(
    aggregate_type  text                         NOT NULL,
    aggregate_id    text                         NOT NULL,
    sequence        bigint CHECK (sequence >= 0) NOT NULL,
    event_type      text                         NOT NULL,
    event_version   text                         NOT NULL,
    payload         json                         NOT NULL,
    metadata        json                         NOT NULL,
    global_position bigserial                    NOT NULL,
    transaction_id  xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz                  NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- The order of the global log; readers seek it with (transaction_id, global_position) > (…).
CREATE INDEX events_log_order ON events (transaction_id, global_position);

-- One snapshot per aggregate. postgres-es keys it by (type, id, last_sequence) but only ever
-- keeps one row per aggregate (it updates in place); keying by (type, id) says so and lets
-- a snapshot be upserted.
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Wakes readers that LISTEN on alpes_events. Once per statement (not per row), and
-- PostgreSQL folds identical notifications of one transaction into one, delivered at commit.
CREATE FUNCTION alpes_notify_events() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('alpes_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify
    AFTER INSERT
    ON events
    FOR EACH STATEMENT
EXECUTE FUNCTION alpes_notify_events();
