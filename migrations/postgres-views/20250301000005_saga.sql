-- The saga's view (alpes-read, projection "saga").

CREATE TABLE journeys
(
    id                    uuid        NOT NULL PRIMARY KEY,
    estado                text        NOT NULL,
    campana_id            uuid,
    interacciones         bigint      NOT NULL,
    conversiones          bigint      NOT NULL,
    creditos              bigint      NOT NULL,
    comisiones_reservadas bigint      NOT NULL,
    descartadas           bigint      NOT NULL,
    pasos                 bigint      NOT NULL,
    iniciado_en           timestamptz NOT NULL,
    actualizado_en        timestamptz NOT NULL,
    seq_high              bigint      NOT NULL,
    seq_low               bigint      NOT NULL,
    log_position          text        NOT NULL
);
CREATE INDEX journeys_seq ON journeys (seq_high, seq_low);
CREATE INDEX journeys_campana ON journeys (campana_id, seq_high, seq_low);

CREATE TABLE journey_pasos
(
    journey_id  uuid        NOT NULL,
    n           bigint      NOT NULL,
    paso        text        NOT NULL,
    evento      text        NOT NULL,
    comando     text        NOT NULL,
    agregado    text        NOT NULL,
    resultado   text        NOT NULL,
    actor       text,
    ocurrido_en timestamptz NOT NULL,
    seq_high    bigint      NOT NULL,
    seq_low     bigint      NOT NULL,
    PRIMARY KEY (journey_id, n)
);

-- Which journey an interaction or commission belongs to (for events that do not say).
CREATE TABLE saga_referencias
(
    id         uuid NOT NULL PRIMARY KEY,
    tipo       text NOT NULL,
    journey_id uuid NOT NULL
);
