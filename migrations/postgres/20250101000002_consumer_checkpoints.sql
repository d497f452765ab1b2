-- Where consumers of the global log keep their position ("high:low", see log.rs).
-- IF NOT EXISTS: PostgresCheckpoints also runs this file on view databases, where a
-- projector commits its rows and its checkpoint in one transaction.
CREATE TABLE IF NOT EXISTS consumer_checkpoints
(
    consumer   text        NOT NULL PRIMARY KEY,
    position   text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
