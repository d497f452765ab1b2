-- Idempotency keys of the REST command API (write-side/src/http/idempotency.rs).
--
-- A row is claimed (status NULL) when the first request with a key starts, and completed
-- with that request's answer, which every retry with the same key and the same request
-- (fingerprint = SHA-256 of method, path and body) gets back without running again.
-- `claim` is the token of the request that owns an unfinished row, so that only it can
-- complete or release the row. `created_at` is Unix milliseconds; rows are kept at least
-- 24 hours, then purged.
CREATE TABLE IF NOT EXISTS idempotency_keys
(
    idempotency_key text     NOT NULL PRIMARY KEY,
    fingerprint     text     NOT NULL,
    claim           text     NOT NULL,
    status          smallint CHECK (status BETWEEN 100 AND 599),
    content_type    text,
    location        text,
    body            bytea,
    created_at      bigint   NOT NULL
);

CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
