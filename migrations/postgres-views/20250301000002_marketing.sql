-- Marketing's views (alpes-read, projection "marketing").

CREATE TABLE campanas
(
    id                 uuid        NOT NULL PRIMARY KEY,
    marca_id           uuid        NOT NULL,
    marca_nombre       text        NOT NULL,
    nombre             text        NOT NULL,
    descripcion        text        NOT NULL,
    tipo               text        NOT NULL,
    estado             text        NOT NULL,
    motivo_cancelacion text,
    fecha_inicio       date        NOT NULL,
    fecha_fin          date        NOT NULL,
    canales            jsonb       NOT NULL,
    segmento           jsonb       NOT NULL,
    frecuencia_maxima  bigint,
    moneda             text        NOT NULL,
    presupuesto        bigint      NOT NULL,
    reservado          bigint      NOT NULL,
    disponible         bigint      NOT NULL,
    reglas_comision    jsonb       NOT NULL,
    reglas_resumen     text        NOT NULL,
    modelo_atribucion  text        NOT NULL,
    ventana_dias       bigint      NOT NULL,
    dias_retencion     bigint      NOT NULL,
    umbral_fraude      bigint      NOT NULL,
    creada_en          timestamptz NOT NULL,
    actualizada_en     timestamptz NOT NULL,
    version            bigint      NOT NULL,
    seq_high           bigint      NOT NULL,
    seq_low            bigint      NOT NULL,
    log_position       text        NOT NULL
);
CREATE INDEX campanas_seq ON campanas (seq_high, seq_low);
CREATE INDEX campanas_marca ON campanas (marca_id, seq_high, seq_low);
CREATE INDEX campanas_estado ON campanas (estado, seq_high, seq_low);

CREATE TABLE estadisticas_campana
(
    campana_id                 uuid        NOT NULL PRIMARY KEY,
    moneda                     text,
    vistas                     bigint      NOT NULL,
    clicks                     bigint      NOT NULL,
    engagements                bigint      NOT NULL,
    leads                      bigint      NOT NULL,
    registros                  bigint      NOT NULL,
    compras                    bigint      NOT NULL,
    descartadas                bigint      NOT NULL,
    conversiones_atribuidas    bigint      NOT NULL,
    conversiones_no_atribuidas bigint      NOT NULL,
    conversiones_revertidas    bigint      NOT NULL,
    fraudes_detectados         bigint      NOT NULL,
    ingresos_atribuidos        bigint      NOT NULL,
    ingresos_otra_moneda       bigint      NOT NULL,
    comisiones_reservadas      bigint      NOT NULL,
    monto_reservado            bigint      NOT NULL,
    comisiones_aprobadas       bigint      NOT NULL,
    monto_aprobado             bigint      NOT NULL,
    comisiones_pagadas         bigint      NOT NULL,
    monto_pagado               bigint      NOT NULL,
    comisiones_revertidas      bigint      NOT NULL,
    monto_revertido            bigint      NOT NULL,
    reservas_insuficientes     bigint      NOT NULL,
    presupuesto                bigint      NOT NULL,
    presupuesto_reservado      bigint      NOT NULL,
    presupuesto_disponible     bigint      NOT NULL,
    actualizada_en             timestamptz NOT NULL,
    log_position               text        NOT NULL
);

-- Marketing's own records of interactions and commissions (their campaign, type, amount),
-- so that discards and commission state changes count against the right campaign.
CREATE TABLE marketing_interacciones
(
    id         uuid    NOT NULL PRIMARY KEY,
    campana_id uuid    NOT NULL,
    tipo       text    NOT NULL,
    descartada boolean NOT NULL
);

CREATE TABLE marketing_comisiones
(
    id         uuid   NOT NULL PRIMARY KEY,
    campana_id uuid   NOT NULL,
    monto      bigint NOT NULL,
    estado     text   NOT NULL
);
