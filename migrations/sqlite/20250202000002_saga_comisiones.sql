-- What the comisiones service learns from the global log for its saga reactors (see
-- write-side/src/saga/comisiones.rs). Same conventions as 20250202000001_saga_atribucion.

-- Each campaign's hold period (saga.ReservarComision).
CREATE TABLE saga_comisiones_campanas
(
  campana_id     text    NOT NULL PRIMARY KEY,
  dias_retencion integer NOT NULL
) STRICT;

-- The facts of each attributed conversion a commission needs (saga.ReservarComision).
CREATE TABLE saga_comisiones_conversiones
(
  conversion_id text NOT NULL PRIMARY KEY,
  journey_id    text NOT NULL,
  campana_id    text NOT NULL,
  occurred_at   text NOT NULL
) STRICT;

-- Every reserved commission, its state and the end of its hold period
-- (saga.RevertirComision keeps it; the approval schedule reads it).
CREATE TABLE saga_comisiones
(
  comision_id         text    NOT NULL PRIMARY KEY,
  conversion_id       text    NOT NULL,
  journey_id          text    NOT NULL,
  -- Reservada, Aprobada, Pagada or Revertida.
  estado              text    NOT NULL,
  -- The end of the hold period in milliseconds since the epoch, rounded up.
  disponible_desde_ms integer NOT NULL,
  -- The ComisionReservada event ("{stream}#{sequence}").
  reservada_por       text    NOT NULL
) STRICT;

CREATE INDEX saga_comisiones_conversion ON saga_comisiones (conversion_id);
CREATE INDEX saga_comisiones_vencimiento ON saga_comisiones (estado, disponible_desde_ms);

-- Conversions whose commissions are being taken back (attribution reverted, or fraud):
-- a commission reserved for one of them later is reverted too (saga.RevertirComision).
CREATE TABLE saga_comisiones_compensaciones
(
  conversion_id text NOT NULL PRIMARY KEY,
  motivo        text NOT NULL
) STRICT;
