-- What the atribucion service learns from the global log for its saga reactors (see
-- write-side/src/saga/atribucion.rs). Written only by its reactors, each with its own
-- checkpoint in the same transaction; never read by another service.
--
-- UUIDs are hyphenated text; instants are RFC 3339 UTC text with nanoseconds (exact round
-- trip); enums are their JSON text (e.g. "Click").

-- Every interaction of every journey, as attribution and the fraud rules see it
-- (saga.AtribuirConversion). Discarded interactions are deleted: they no longer count.
CREATE TABLE saga_atribucion_touchpoints
(
  interaccion_id text NOT NULL PRIMARY KEY,
  journey_id     text NOT NULL,
  campana_id     text NOT NULL,
  tipo           text NOT NULL,
  partner_id     text,
  occurred_at    text NOT NULL,
  ip_hash        text,
  user_agent     text
) STRICT;

CREATE INDEX saga_atribucion_touchpoints_journey
  ON saga_atribucion_touchpoints (journey_id, campana_id);

-- Each campaign's attribution settings and lifecycle state (saga.AtribuirConversion).
CREATE TABLE saga_atribucion_campanas
(
  campana_id    text    NOT NULL PRIMARY KEY,
  modelo        text    NOT NULL,
  ventana_dias  integer NOT NULL,
  umbral_fraude integer NOT NULL,
  moneda        text    NOT NULL,
  estado        text    NOT NULL
) STRICT;

-- The first conversion (in log order) that converted each order id of a campaign: the
-- evidence of the PedidoYaConvertido fraud rule (saga.AtribuirConversion).
CREATE TABLE saga_atribucion_pedidos
(
  campana_id    text NOT NULL,
  pedido_id     text NOT NULL,
  conversion_id text NOT NULL,
  PRIMARY KEY (campana_id, pedido_id)
) STRICT;

-- Budget reservations of every conversion and whether they were released
-- (saga.RevertirAtribucion.fraude waits for all of them before reverting for fraud).
CREATE TABLE saga_atribucion_reservas
(
  comision_id   text NOT NULL PRIMARY KEY,
  conversion_id text NOT NULL,
  -- The event that released it ("{stream}#{sequence}"); NULL while it is reserved.
  liberada_por  text
) STRICT;

CREATE INDEX saga_atribucion_reservas_conversion
  ON saga_atribucion_reservas (conversion_id);

-- Conversions found to be fraud after attribution, whose reversion is pending or done.
CREATE TABLE saga_atribucion_fraudes
(
  conversion_id text NOT NULL PRIMARY KEY,
  journey_id    text NOT NULL
) STRICT;
