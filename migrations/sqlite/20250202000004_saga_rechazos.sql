-- Commands of saga reactors that an aggregate rejected (a business rule, an invalid
-- transition): logged, recorded here, and skipped so the reactor moves on. One row per
-- (reactor, causing event, aggregate); a redelivery records nothing new.
CREATE TABLE saga_rechazos
(
  consumer    text NOT NULL,
  -- The causing event ("{stream}#{sequence}") or, for scheduled reactors, what was due.
  causa       text NOT NULL,
  -- The aggregate the command was sent to ("{Aggregate}-{id}").
  aggregate   text NOT NULL,
  command     text NOT NULL,
  -- The rule's code (e.g. CampanaNoActiva) and the aggregate's message.
  code        text NOT NULL,
  reason      text NOT NULL,
  recorded_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (consumer, causa, aggregate)
) STRICT;
