-- Marketing's views (alpes-read, projection "marketing").

CREATE TABLE campanas
(
  id                 text    NOT NULL PRIMARY KEY,
  marca_id           text    NOT NULL,
  marca_nombre       text    NOT NULL,
  nombre             text    NOT NULL,
  descripcion        text    NOT NULL,
  tipo               text    NOT NULL,
  estado             text    NOT NULL,
  motivo_cancelacion text,
  fecha_inicio       text    NOT NULL,
  fecha_fin          text    NOT NULL,
  canales            text    NOT NULL,
  segmento           text    NOT NULL,
  frecuencia_maxima  integer,
  moneda             text    NOT NULL,
  presupuesto        integer NOT NULL,
  reservado          integer NOT NULL,
  disponible         integer NOT NULL,
  reglas_comision    text    NOT NULL,
  reglas_resumen     text    NOT NULL,
  modelo_atribucion  text    NOT NULL,
  ventana_dias       integer NOT NULL,
  dias_retencion     integer NOT NULL,
  umbral_fraude      integer NOT NULL,
  creada_en          text    NOT NULL,
  actualizada_en     text    NOT NULL,
  version            integer NOT NULL,
  seq_high           integer NOT NULL,
  seq_low            integer NOT NULL,
  log_position       text    NOT NULL
) STRICT;
CREATE INDEX campanas_seq ON campanas (seq_high, seq_low);
CREATE INDEX campanas_marca ON campanas (marca_id, seq_high, seq_low);
CREATE INDEX campanas_estado ON campanas (estado, seq_high, seq_low);

CREATE TABLE estadisticas_campana
(
  campana_id                 text    NOT NULL PRIMARY KEY,
  moneda                     text,
  vistas                     integer NOT NULL,
  clicks                     integer NOT NULL,
  engagements                integer NOT NULL,
  leads                      integer NOT NULL,
  registros                  integer NOT NULL,
  compras                    integer NOT NULL,
  descartadas                integer NOT NULL,
  conversiones_atribuidas    integer NOT NULL,
  conversiones_no_atribuidas integer NOT NULL,
  conversiones_revertidas    integer NOT NULL,
  fraudes_detectados         integer NOT NULL,
  ingresos_atribuidos        integer NOT NULL,
  ingresos_otra_moneda       integer NOT NULL,
  comisiones_reservadas      integer NOT NULL,
  monto_reservado            integer NOT NULL,
  comisiones_aprobadas       integer NOT NULL,
  monto_aprobado             integer NOT NULL,
  comisiones_pagadas         integer NOT NULL,
  monto_pagado               integer NOT NULL,
  comisiones_revertidas      integer NOT NULL,
  monto_revertido            integer NOT NULL,
  reservas_insuficientes     integer NOT NULL,
  presupuesto                integer NOT NULL,
  presupuesto_reservado      integer NOT NULL,
  presupuesto_disponible     integer NOT NULL,
  actualizada_en             text    NOT NULL,
  log_position               text    NOT NULL
) STRICT;

-- Marketing's own records of interactions and commissions (their campaign, type, amount),
-- so that discards and commission state changes count against the right campaign.
CREATE TABLE marketing_interacciones
(
  id         text    NOT NULL PRIMARY KEY,
  campana_id text    NOT NULL,
  tipo       text    NOT NULL,
  descartada integer NOT NULL
) STRICT;

CREATE TABLE marketing_comisiones
(
  id         text    NOT NULL PRIMARY KEY,
  campana_id text    NOT NULL,
  monto      integer NOT NULL,
  estado     text    NOT NULL
) STRICT;
