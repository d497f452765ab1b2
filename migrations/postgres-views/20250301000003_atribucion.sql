-- Atribucion's views (alpes-read, projection "atribucion").

CREATE TABLE atribuciones
(
    id                   uuid        NOT NULL PRIMARY KEY,
    conversion_id        uuid        NOT NULL,
    campana_id           uuid        NOT NULL,
    journey_id           uuid        NOT NULL,
    tipo_conversion      text        NOT NULL,
    valor                bigint      NOT NULL,
    moneda               text        NOT NULL,
    pedido_id            text,
    conversion_en        timestamptz NOT NULL,
    estado               text        NOT NULL,
    modelo               text,
    motivo_no_atribucion text,
    fraude_origen        text,
    fraude_reportado_por text,
    fraude_motivo        text,
    fraude_puntuacion    bigint,
    fraude_umbral        bigint,
    fraude_reglas        jsonb,
    motivo_reversion     text,
    decidida_en          timestamptz NOT NULL,
    actualizada_en       timestamptz NOT NULL,
    version              bigint      NOT NULL,
    seq_high             bigint      NOT NULL,
    seq_low              bigint      NOT NULL,
    log_position         text        NOT NULL
);
CREATE INDEX atribuciones_seq ON atribuciones (seq_high, seq_low);
CREATE INDEX atribuciones_campana ON atribuciones (campana_id, seq_high, seq_low);
CREATE INDEX atribuciones_journey ON atribuciones (journey_id);

CREATE TABLE atribucion_creditos
(
    atribucion_id uuid   NOT NULL,
    partner_id    uuid   NOT NULL,
    touchpoint_id uuid   NOT NULL,
    monto         bigint NOT NULL,
    moneda        text   NOT NULL,
    campana_id    uuid   NOT NULL,
    seq_high      bigint NOT NULL,
    seq_low       bigint NOT NULL,
    PRIMARY KEY (atribucion_id, partner_id)
);
CREATE INDEX atribucion_creditos_partner ON atribucion_creditos (partner_id, seq_high, seq_low);
