-- Comisiones' views (alpes-read, projection "comisiones").

CREATE TABLE comisiones
(
    id               uuid        NOT NULL PRIMARY KEY,
    conversion_id    uuid        NOT NULL,
    atribucion_id    uuid        NOT NULL,
    campana_id       uuid        NOT NULL,
    partner_id       uuid        NOT NULL,
    journey_id       uuid        NOT NULL,
    monto            bigint      NOT NULL,
    moneda           text        NOT NULL,
    estado           text        NOT NULL,
    fecha_conversion timestamptz NOT NULL,
    dias_retencion   bigint      NOT NULL,
    disponible_desde timestamptz,
    reservada_en     timestamptz NOT NULL,
    aprobada_en      timestamptz,
    lote_aprobacion  uuid,
    pagada_en        timestamptz,
    lote_pago        uuid,
    referencia_pago  text,
    revertida_en     timestamptz,
    motivo_reversion text,
    clawback         boolean     NOT NULL,
    actualizada_en   timestamptz NOT NULL,
    version          bigint      NOT NULL,
    seq_high         bigint      NOT NULL,
    seq_low          bigint      NOT NULL,
    log_position     text        NOT NULL
);
CREATE INDEX comisiones_seq ON comisiones (seq_high, seq_low);
CREATE INDEX comisiones_partner ON comisiones (partner_id, seq_high, seq_low);
CREATE INDEX comisiones_campana ON comisiones (campana_id, seq_high, seq_low);
CREATE INDEX comisiones_lote_aprobacion ON comisiones (lote_aprobacion);
CREATE INDEX comisiones_lote_pago ON comisiones (lote_pago);

CREATE TABLE saldos_partner
(
    partner_id     uuid        NOT NULL,
    moneda         text        NOT NULL,
    comisiones     bigint      NOT NULL,
    reservado      bigint      NOT NULL,
    aprobado       bigint      NOT NULL,
    pagado         bigint      NOT NULL,
    revertido      bigint      NOT NULL,
    por_recuperar  bigint      NOT NULL,
    actualizada_en timestamptz NOT NULL,
    log_position   text        NOT NULL,
    PRIMARY KEY (partner_id, moneda)
);

CREATE TABLE estadisticas_comisiones
(
    campana_id      uuid        NOT NULL,
    moneda          text        NOT NULL,
    reservadas      bigint      NOT NULL,
    monto_reservado bigint      NOT NULL,
    aprobadas       bigint      NOT NULL,
    monto_aprobado  bigint      NOT NULL,
    pagadas         bigint      NOT NULL,
    monto_pagado    bigint      NOT NULL,
    revertidas      bigint      NOT NULL,
    monto_revertido bigint      NOT NULL,
    clawbacks       bigint      NOT NULL,
    monto_clawback  bigint      NOT NULL,
    actualizada_en  timestamptz NOT NULL,
    log_position    text        NOT NULL,
    PRIMARY KEY (campana_id, moneda)
);
