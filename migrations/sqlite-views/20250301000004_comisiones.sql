-- Comisiones' views (alpes-read, projection "comisiones").

CREATE TABLE comisiones
(
  id               text    NOT NULL PRIMARY KEY,
  conversion_id    text    NOT NULL,
  atribucion_id    text    NOT NULL,
  campana_id       text    NOT NULL,
  partner_id       text    NOT NULL,
  journey_id       text    NOT NULL,
  monto            integer NOT NULL,
  moneda           text    NOT NULL,
  estado           text    NOT NULL,
  fecha_conversion text    NOT NULL,
  dias_retencion   integer NOT NULL,
  disponible_desde text,
  reservada_en     text    NOT NULL,
  aprobada_en      text,
  lote_aprobacion  text,
  pagada_en        text,
  lote_pago        text,
  referencia_pago  text,
  revertida_en     text,
  motivo_reversion text,
  clawback         integer NOT NULL,
  actualizada_en   text    NOT NULL,
  version          integer NOT NULL,
  seq_high         integer NOT NULL,
  seq_low          integer NOT NULL,
  log_position     text    NOT NULL
) STRICT;
CREATE INDEX comisiones_seq ON comisiones (seq_high, seq_low);
CREATE INDEX comisiones_partner ON comisiones (partner_id, seq_high, seq_low);
CREATE INDEX comisiones_campana ON comisiones (campana_id, seq_high, seq_low);
CREATE INDEX comisiones_lote_aprobacion ON comisiones (lote_aprobacion);
CREATE INDEX comisiones_lote_pago ON comisiones (lote_pago);

CREATE TABLE saldos_partner
(
  partner_id     text    NOT NULL,
  moneda         text    NOT NULL,
  comisiones     integer NOT NULL,
  reservado      integer NOT NULL,
  aprobado       integer NOT NULL,
  pagado         integer NOT NULL,
  revertido      integer NOT NULL,
  por_recuperar  integer NOT NULL,
  actualizada_en text    NOT NULL,
  log_position   text    NOT NULL,
  PRIMARY KEY (partner_id, moneda)
) STRICT;

CREATE TABLE estadisticas_comisiones
(
  campana_id      text    NOT NULL,
  moneda          text    NOT NULL,
  reservadas      integer NOT NULL,
  monto_reservado integer NOT NULL,
  aprobadas       integer NOT NULL,
  monto_aprobado  integer NOT NULL,
  pagadas         integer NOT NULL,
  monto_pagado    integer NOT NULL,
  revertidas      integer NOT NULL,
  monto_revertido integer NOT NULL,
  clawbacks       integer NOT NULL,
  monto_clawback  integer NOT NULL,
  actualizada_en  text    NOT NULL,
  log_position    text    NOT NULL,
  PRIMARY KEY (campana_id, moneda)
) STRICT;
