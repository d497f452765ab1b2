-- What the tracking service learns from the global log for its saga reactor (see
-- write-side/src/saga/tracking.rs): the interactions of each journey, to discard them all
-- when the journey turns out to be fraud (saga.DescartarInteraccion).
CREATE TABLE saga_tracking_interacciones
(
  interaccion_id text NOT NULL PRIMARY KEY,
  journey_id     text NOT NULL
) STRICT;

CREATE INDEX saga_tracking_interacciones_journey ON saga_tracking_interacciones (journey_id);
