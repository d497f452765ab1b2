-- The saga's view (alpes-read, projection "saga").

CREATE TABLE journeys
(
  id                    text    NOT NULL PRIMARY KEY,
  estado                text    NOT NULL,
  campana_id            text,
  interacciones         integer NOT NULL,
  conversiones          integer NOT NULL,
  creditos              integer NOT NULL,
  comisiones_reservadas integer NOT NULL,
  descartadas           integer NOT NULL,
  pasos                 integer NOT NULL,
  iniciado_en           text    NOT NULL,
  actualizado_en        text    NOT NULL,
  seq_high              integer NOT NULL,
  seq_low               integer NOT NULL,
  log_position          text    NOT NULL
) STRICT;
CREATE INDEX journeys_seq ON journeys (seq_high, seq_low);
CREATE INDEX journeys_campana ON journeys (campana_id, seq_high, seq_low);

CREATE TABLE journey_pasos
(
  journey_id  text    NOT NULL,
  n           integer NOT NULL,
  paso        text    NOT NULL,
  evento      text    NOT NULL,
  comando     text    NOT NULL,
  agregado    text    NOT NULL,
  resultado   text    NOT NULL,
  actor       text,
  ocurrido_en text    NOT NULL,
  seq_high    integer NOT NULL,
  seq_low     integer NOT NULL,
  PRIMARY KEY (journey_id, n)
) STRICT;

-- Which journey an interaction or commission belongs to (for events that do not say).
CREATE TABLE saga_referencias
(
  id         text NOT NULL PRIMARY KEY,
  tipo       text NOT NULL,
  journey_id text NOT NULL
) STRICT;
