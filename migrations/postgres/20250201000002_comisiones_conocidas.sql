-- The commissions known to the comisiones service, fed from the global log by its own
-- consumer (write-side/src/http/lotes.rs) in the same transaction as its checkpoint, so
-- that POST /comisiones/lotes can find the eligible ones by campaign and partner without
-- reading another service's views. The Comision aggregate stays the authority: a row that
-- lags behind only makes a batch try a command the aggregate then skips.
--
-- estado: Reservada, Aprobada, Pagada or Revertida. disponible_desde: the end of the
-- hold period; NULL when it is beyond the calendar.
CREATE TABLE IF NOT EXISTS comisiones_conocidas
(
    comision_id      uuid        NOT NULL PRIMARY KEY,
    campana_id       uuid        NOT NULL,
    partner_id       uuid        NOT NULL,
    estado           text        NOT NULL,
    disponible_desde timestamptz
);

CREATE INDEX IF NOT EXISTS comisiones_conocidas_elegibles
    ON comisiones_conocidas (estado, disponible_desde);
