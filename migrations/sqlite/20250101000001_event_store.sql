-- The event store on SQLite: the sqlite-es 0.5 `events` and `snapshots` tables (same column
-- names, so sqlite-es's own queries still work on them), plus what Alpes needs.
--
-- `global_position` is the rowid (an INTEGER PRIMARY KEY is an alias of the rowid): the
-- position of an event in the global log. Events are only ever inserted by one writer at a
-- time, so rowid order is commit order. Naming the rowid keeps it stable across VACUUM,
-- which may renumber an implicit rowid; checkpoints store these numbers.
-- The sqlite-es primary key (aggregate_type, aggregate_id, sequence) becomes a UNIQUE
-- constraint: it is what turns a concurrent append into an optimistic-lock error.
CREATE TABLE events
(
  global_position INTEGER PRIMARY KEY,
  aggregate_type  text                          NOT NULL,
  aggregate_id    text                          NOT NULL,
  sequence        integer CHECK (sequence >= 0) NOT NULL,
  event_type      text                          NOT NULL,
  event_version   text                          NOT NULL,
  payload         text                          NOT NULL,
  metadata        text                          NOT NULL,
  -- UTC, RFC 3339 with milliseconds; a default so sqlite-es's inserts fill it too.
  recorded_at     text                          NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (aggregate_type, aggregate_id, sequence)
) STRICT;

-- One snapshot per aggregate instance (sqlite-es keeps one row per instance too, updating
-- it in place), so the key is the instance.
CREATE TABLE snapshots
(
  aggregate_type   text                                  NOT NULL,
  aggregate_id     text                                  NOT NULL,
  last_sequence    integer CHECK (last_sequence >= 0)    NOT NULL,
  current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL,
  payload          text                                  NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id)
) STRICT;

-- Checkpoints of consumers that have no transaction of their own (saga reactors), and of
-- SQL consumers on this file that save theirs with their writes.
CREATE TABLE consumer_checkpoints
(
  consumer      text    NOT NULL PRIMARY KEY,
  position_high integer NOT NULL CHECK (position_high >= 0),
  position_low  integer NOT NULL CHECK (position_low >= 0),
  updated_at    text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
