//! `Idempotency-Key` on every command (POST, PUT): a retried request with the same key and
//! the same request gets the first answer back and appends nothing; the same key with
//! another request (method, path or body) is 422 `IdempotencyKeyReused`.
//!
//! - Keys live in the `idempotency_keys` table of the write side's SQL database
//!   ([`SqlDatabase`]) for at least [`KEY_RETENTION`], then are purged (at startup and every
//!   [`PURGE_EVERY`]).
//! - A duplicate that arrives while the first request is still running is answered at once
//!   with 409 `IdempotencyKeyInProgress` and `Retry-After: 1`; it does not wait. A claim
//!   left unfinished for [`ABANDONED_AFTER`] (the server died mid-request) is taken over by
//!   the next request with that key.
//! - Answers that may change on a retry (5xx, 409 concurrency conflicts, an in-progress
//!   key) are not stored: the key is released, and the retry runs the request again.

use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::database::{SqlDatabase, SqliteTables};
use super::error::{ApiError, NotReplayable};
use super::types::CONSISTENCY_HEADER;
use super::MAX_BODY_BYTES;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer replayed from the store.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// The longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;
/// How long keys are kept at least.
pub const KEY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// How often old keys are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);
/// A claim older than this whose request never finished is taken over. Far above the
/// longest command (a 1,000-item batch takes a few seconds), so a slow request is never
/// run twice.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(5 * 60);

/// An answer as stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// What the store says about a key when a request arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's now; complete or release it with `token`.
    Owned { token: Uuid },
    /// The same request was answered before.
    Replay(StoredResponse),
    /// The same request is running now.
    InProgress,
    /// The key was used with another request.
    Reused,
}

/// The idempotency keys table.
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    database: SqlDatabase,
}

struct KeyRow {
    fingerprint: String,
    claim: String,
    response: Option<StoredResponse>,
    created_at: i64,
}

impl IdempotencyStore {
    /// The keys in `database`.
    pub fn new(database: SqlDatabase) -> Self {
        IdempotencyStore { database }
    }

    /// Claims `key` for a request with `fingerprint`, or says what happened to it before.
    pub async fn claim(&self, key: &str, fingerprint: &str) -> Result<Claim, sqlx::Error> {
        // A row can vanish between the insert and the read (released by a failed first
        // request, or purged): then the insert is tried again.
        for _ in 0..3 {
            let token = Uuid::new_v4();
            if self.insert(key, fingerprint, token).await? {
                return Ok(Claim::Owned { token });
            }
            let Some(row) = self.find(key).await? else {
                continue;
            };
            if row.fingerprint != fingerprint {
                return Ok(Claim::Reused);
            }
            if let Some(response) = row.response {
                return Ok(Claim::Replay(response));
            }
            let abandoned_before = now_millis() - ABANDONED_AFTER.as_millis() as i64;
            if row.created_at < abandoned_before && self.take_over(key, &row.claim, token).await? {
                tracing::warn!(key, "taking over an idempotency key left unfinished");
                return Ok(Claim::Owned { token });
            }
            return Ok(Claim::InProgress);
        }
        Ok(Claim::InProgress)
    }

    /// Stores the answer of the request that owns `key`.
    pub async fn complete(
        &self,
        key: &str,
        token: Uuid,
        response: &StoredResponse,
    ) -> Result<(), sqlx::Error> {
        let status = i16::try_from(response.status).unwrap_or(500);
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                sqlx::query(
                    "UPDATE idempotency_keys SET status = ?, content_type = ?, location = ?, \
                     body = ? WHERE idempotency_key = ? AND claim = ?",
                )
                .bind(i64::from(status))
                .bind(&response.content_type)
                .bind(&response.location)
                .bind(&response.body)
                .bind(key)
                .bind(token.to_string())
                .execute(pool)
                .await?;
            }
            SqlDatabase::Postgres(pool) => {
                sqlx::query(
                    "UPDATE idempotency_keys SET status = $1, content_type = $2, location = $3, \
                     body = $4 WHERE idempotency_key = $5 AND claim = $6",
                )
                .bind(status)
                .bind(&response.content_type)
                .bind(&response.location)
                .bind(&response.body)
                .bind(key)
                .bind(token.to_string())
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Gives `key` up, so that a retry runs the request again.
    pub async fn release(&self, key: &str, token: Uuid) -> Result<(), sqlx::Error> {
        let token = token.to_string();
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE idempotency_key = ? AND claim = ? \
                     AND status IS NULL",
                )
                .bind(key)
                .bind(token)
                .execute(pool)
                .await?;
            }
            SqlDatabase::Postgres(pool) => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE idempotency_key = $1 AND claim = $2 \
                     AND status IS NULL",
                )
                .bind(key)
                .bind(token)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Deletes the keys older than `age`; returns how many.
    pub async fn purge_older_than(&self, age: Duration) -> Result<u64, sqlx::Error> {
        let before = now_millis() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let deleted = match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
                    .bind(before)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            SqlDatabase::Postgres(pool) => {
                sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(before)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        };
        Ok(deleted)
    }

    /// Purges keys older than [`KEY_RETENTION`] now and every [`PURGE_EVERY`] until
    /// `shutdown`.
    pub async fn purge_periodically(self, shutdown: CancellationToken) {
        loop {
            match self.purge_older_than(KEY_RETENTION).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "old idempotency keys purged"),
                Err(error) => tracing::warn!(%error, "purging old idempotency keys failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(PURGE_EVERY) => {}
            }
        }
    }

    async fn insert(&self, key: &str, fingerprint: &str, token: Uuid) -> Result<bool, sqlx::Error> {
        let token = token.to_string();
        let inserted = match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => sqlx::query(
                "INSERT INTO idempotency_keys (idempotency_key, fingerprint, claim, created_at) \
                     VALUES (?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(key)
            .bind(fingerprint)
            .bind(token)
            .bind(now_millis())
            .execute(pool)
            .await?
            .rows_affected(),
            SqlDatabase::Postgres(pool) => sqlx::query(
                "INSERT INTO idempotency_keys (idempotency_key, fingerprint, claim, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(key)
            .bind(fingerprint)
            .bind(token)
            .bind(now_millis())
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(inserted == 1)
    }

    async fn find(&self, key: &str) -> Result<Option<KeyRow>, sqlx::Error> {
        const SELECT: &str = "SELECT fingerprint, claim, status, content_type, location, body, \
                              created_at FROM idempotency_keys WHERE idempotency_key = ";
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                let row = sqlx::query(&format!("{SELECT}?"))
                    .bind(key)
                    .fetch_optional(pool)
                    .await?;
                row.map(|row| {
                    let status: Option<i64> = row.try_get("status")?;
                    key_row(
                        row.try_get("fingerprint")?,
                        row.try_get("claim")?,
                        status,
                        row.try_get("content_type")?,
                        row.try_get("location")?,
                        row.try_get("body")?,
                        row.try_get("created_at")?,
                    )
                })
                .transpose()
            }
            SqlDatabase::Postgres(pool) => {
                let row = sqlx::query(&format!("{SELECT}$1"))
                    .bind(key)
                    .fetch_optional(pool)
                    .await?;
                row.map(|row| {
                    let status: Option<i16> = row.try_get("status")?;
                    key_row(
                        row.try_get("fingerprint")?,
                        row.try_get("claim")?,
                        status.map(i64::from),
                        row.try_get("content_type")?,
                        row.try_get("location")?,
                        row.try_get("body")?,
                        row.try_get("created_at")?,
                    )
                })
                .transpose()
            }
        }
    }

    async fn take_over(&self, key: &str, old: &str, token: Uuid) -> Result<bool, sqlx::Error> {
        let token = token.to_string();
        let taken = match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => sqlx::query(
                "UPDATE idempotency_keys SET claim = ?, created_at = ? \
                     WHERE idempotency_key = ? AND claim = ? AND status IS NULL",
            )
            .bind(token)
            .bind(now_millis())
            .bind(key)
            .bind(old)
            .execute(pool)
            .await?
            .rows_affected(),
            SqlDatabase::Postgres(pool) => sqlx::query(
                "UPDATE idempotency_keys SET claim = $1, created_at = $2 \
                     WHERE idempotency_key = $3 AND claim = $4 AND status IS NULL",
            )
            .bind(token)
            .bind(now_millis())
            .bind(key)
            .bind(old)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(taken == 1)
    }
}

#[allow(clippy::too_many_arguments)]
fn key_row(
    fingerprint: String,
    claim: String,
    status: Option<i64>,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<Vec<u8>>,
    created_at: i64,
) -> Result<KeyRow, sqlx::Error> {
    let response = status.map(|status| StoredResponse {
        status: u16::try_from(status).unwrap_or(500),
        content_type,
        location,
        body: body.unwrap_or_default(),
    });
    Ok(KeyRow {
        fingerprint,
        claim,
        response,
        created_at,
    })
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// SHA-256 (hex) of the method, the path with its query, and the body.
pub fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(path_and_query.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex(&hasher.finalize())
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The middleware: runs commands at most once per Idempotency-Key.
pub async fn idempotent(
    State(store): State<IdempotencyStore>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let key = match idempotency_key(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(request).await,
        Err(error) => return error.into_response(),
    };
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            }
            .into_response()
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |path| path.as_str());
    let fingerprint = fingerprint(&parts.method, path, &body);
    let token = match store.claim(&key, &fingerprint).await {
        Ok(Claim::Owned { token }) => token,
        Ok(Claim::Replay(stored)) => return replay(stored),
        Ok(Claim::InProgress) => return ApiError::IdempotencyKeyInProgress.into_response(),
        Ok(Claim::Reused) => return ApiError::IdempotencyKeyReused.into_response(),
        Err(error) => {
            return ApiError::store(format!("claiming an idempotency key: {error}")).into_response()
        }
    };
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    settle(&store, &key, token, response).await
}

/// Stores a final answer under the key, or releases the key for a transient one.
async fn settle(store: &IdempotencyStore, key: &str, token: Uuid, response: Response) -> Response {
    let transient = response.status().is_server_error()
        || response.extensions().get::<NotReplayable>().is_some();
    if transient {
        if let Err(error) = store.release(key, token).await {
            tracing::warn!(%error, "releasing an idempotency key failed");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            if let Err(error) = store.release(key, token).await {
                tracing::warn!(%error, "releasing an idempotency key failed");
            }
            return ApiError::store(format!("reading an answer to store it: {error}"))
                .into_response();
        }
    };
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        content_type: header_text(&parts.headers, header::CONTENT_TYPE),
        location: header_text(&parts.headers, header::LOCATION),
        body: body.to_vec(),
    };
    if let Err(error) = store.complete(key, token, &stored).await {
        // The client still gets its answer; a retry will find the key in progress until it
        // is abandoned, and then run again (ids derived from the key keep that harmless).
        tracing::warn!(%error, "storing an idempotent answer failed");
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let body = Bytes::from(stored.body);
    let mut response = (status, body.clone()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|value| HeaderValue::from_str(&value).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    if let Some(token) = consistency_of(&body) {
        headers.insert(CONSISTENCY_HEADER, token);
    }
    response
}

/// The consistency token of a stored JSON answer (the header is not stored: the body has it).
fn consistency_of(body: &[u8]) -> Option<HeaderValue> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    HeaderValue::from_str(answer.get("consistency")?.as_str()?).ok()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// The request's key: 1 to [`MAX_KEY_LENGTH`] visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid = |detail: &str| ApiError::InvalidIdempotencyKey {
        detail: detail.to_string(),
    };
    let key = value
        .to_str()
        .map_err(|_| invalid("it must be visible ASCII characters"))?
        .trim();
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if key.len() > MAX_KEY_LENGTH {
        return Err(invalid(&format!(
            "it is longer than {MAX_KEY_LENGTH} characters"
        )));
    }
    if !key.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(invalid("it must be visible ASCII characters"));
    }
    Ok(Some(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let base = fingerprint(&Method::POST, "/api/v1/campanas", b"{}");
        assert_eq!(base.len(), 64);
        assert_eq!(base, fingerprint(&Method::POST, "/api/v1/campanas", b"{}"));
        assert_ne!(base, fingerprint(&Method::PUT, "/api/v1/campanas", b"{}"));
        assert_ne!(
            base,
            fingerprint(&Method::POST, "/api/v1/campanas/x", b"{}")
        );
        assert_ne!(base, fingerprint(&Method::POST, "/api/v1/campanas", b"{ }"));
    }

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(value).unwrap());
            idempotency_key(&headers)
        };
        assert_eq!(with("abc-123").unwrap().as_deref(), Some("abc-123"));
        assert!(with("").is_err());
        assert!(with("a b").is_err());
        assert!(with(&"k".repeat(MAX_KEY_LENGTH + 1)).is_err());
        assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
    }
}
