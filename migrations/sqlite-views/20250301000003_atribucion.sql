-- Atribucion's views (alpes-read, projection "atribucion").

CREATE TABLE atribuciones
(
  id                   text    NOT NULL PRIMARY KEY,
  conversion_id        text    NOT NULL,
  campana_id           text    NOT NULL,
  journey_id           text    NOT NULL,
  tipo_conversion      text    NOT NULL,
  valor                integer NOT NULL,
  moneda               text    NOT NULL,
  pedido_id            text,
  conversion_en        text    NOT NULL,
  estado               text    NOT NULL,
  modelo               text,
  motivo_no_atribucion text,
  fraude_origen        text,
  fraude_reportado_por text,
  fraude_motivo        text,
  fraude_puntuacion    integer,
  fraude_umbral        integer,
  fraude_reglas        text,
  motivo_reversion     text,
  decidida_en          text    NOT NULL,
  actualizada_en       text    NOT NULL,
  version              integer NOT NULL,
  seq_high             integer NOT NULL,
  seq_low              integer NOT NULL,
  log_position         text    NOT NULL
) STRICT;
CREATE INDEX atribuciones_seq ON atribuciones (seq_high, seq_low);
CREATE INDEX atribuciones_campana ON atribuciones (campana_id, seq_high, seq_low);
CREATE INDEX atribuciones_journey ON atribuciones (journey_id);

CREATE TABLE atribucion_creditos
(
  atribucion_id text    NOT NULL,
  partner_id    text    NOT NULL,
  touchpoint_id text    NOT NULL,
  monto         integer NOT NULL,
  moneda        text    NOT NULL,
  campana_id    text    NOT NULL,
  seq_high      integer NOT NULL,
  seq_low       integer NOT NULL,
  PRIMARY KEY (atribucion_id, partner_id)
) STRICT;
CREATE INDEX atribucion_creditos_partner ON atribucion_creditos (partner_id, seq_high, seq_low);
