-- Tracking's views (alpes-read, projection "tracking").
-- Keyset lists page by (seq_high, seq_low): the log position of the row's first event.
-- consumer_checkpoints is created by PostgresCheckpoints::install before these run.

CREATE TABLE interacciones
(
    id              uuid        NOT NULL PRIMARY KEY,
    campana_id      uuid        NOT NULL,
    partner_id      uuid,
    journey_id      uuid        NOT NULL,
    tipo            text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    valor           bigint,
    moneda          text,
    pedido_id       text,
    dispositivo     text,
    utm_source      text,
    contexto        jsonb       NOT NULL,
    descartada      boolean     NOT NULL,
    motivo_descarte text,
    descartada_en   timestamptz,
    registrada_en   timestamptz NOT NULL,
    seq_high        bigint      NOT NULL,
    seq_low         bigint      NOT NULL,
    log_position    text        NOT NULL
);
CREATE INDEX interacciones_seq ON interacciones (seq_high, seq_low);
CREATE INDEX interacciones_campana ON interacciones (campana_id, seq_high, seq_low);
CREATE INDEX interacciones_partner ON interacciones (partner_id, seq_high, seq_low);
CREATE INDEX interacciones_journey ON interacciones (journey_id, seq_high, seq_low);

CREATE TABLE estadisticas_diarias
(
    campana_id          uuid        NOT NULL,
    dia                 date        NOT NULL,
    tipo                text        NOT NULL,
    registradas         bigint      NOT NULL,
    descartadas         bigint      NOT NULL,
    valor               bigint      NOT NULL,
    moneda              text,
    valores_otra_moneda bigint      NOT NULL,
    actualizada_en      timestamptz NOT NULL,
    log_position        text        NOT NULL,
    PRIMARY KEY (campana_id, dia, tipo)
);
