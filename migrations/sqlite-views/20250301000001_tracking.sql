-- Tracking's views (alpes-read, projection "tracking").
-- Keyset lists page by (seq_high, seq_low): the log position of the row's first event.

CREATE TABLE IF NOT EXISTS consumer_checkpoints
(
  consumer      text    NOT NULL PRIMARY KEY,
  position_high integer NOT NULL CHECK (position_high >= 0),
  position_low  integer NOT NULL CHECK (position_low >= 0),
  updated_at    text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE interacciones
(
  id              text    NOT NULL PRIMARY KEY,
  campana_id      text    NOT NULL,
  partner_id      text,
  journey_id      text    NOT NULL,
  tipo            text    NOT NULL,
  occurred_at     text    NOT NULL,
  valor           integer,
  moneda          text,
  pedido_id       text,
  dispositivo     text,
  utm_source      text,
  contexto        text    NOT NULL,
  descartada      integer NOT NULL,
  motivo_descarte text,
  descartada_en   text,
  registrada_en   text    NOT NULL,
  seq_high        integer NOT NULL,
  seq_low         integer NOT NULL,
  log_position    text    NOT NULL
) STRICT;
CREATE INDEX interacciones_seq ON interacciones (seq_high, seq_low);
CREATE INDEX interacciones_campana ON interacciones (campana_id, seq_high, seq_low);
CREATE INDEX interacciones_partner ON interacciones (partner_id, seq_high, seq_low);
CREATE INDEX interacciones_journey ON interacciones (journey_id, seq_high, seq_low);

CREATE TABLE estadisticas_diarias
(
  campana_id          text    NOT NULL,
  dia                 text    NOT NULL,
  tipo                text    NOT NULL,
  registradas         integer NOT NULL,
  descartadas         integer NOT NULL,
  valor               integer NOT NULL,
  moneda              text,
  valores_otra_moneda integer NOT NULL,
  actualizada_en      text    NOT NULL,
  log_position        text    NOT NULL,
  PRIMARY KEY (campana_id, dia, tipo)
) STRICT;
