//! Extractors whose failures are problems naming what is wrong: a JSON body that names the
//! field at fault, a path id, and the metadata every command carries.

use alpes_domain::ids::ALPES_NAMESPACE;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::error::ApiError;
use super::idempotency::IDEMPOTENCY_KEY;
use super::MAX_BODY_BYTES;
use crate::commands::CommandContext;

/// Who is recorded as the actor of commands sent through the REST API.
pub const API_ACTOR: &str = "api";

/// Header that carries the business flow a command belongs to.
pub const CORRELATION_ID: &str = "x-correlation-id";

/// A JSON body deserialized into `T`; a syntax error is `MalformedJson`, a wrong or missing
/// field is `InvalidField` naming the field's path (`presupuesto.currency`, `[3].tipo`).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The raw bytes of a body that claims to be JSON (or says nothing of its type).
#[derive(Debug, Clone)]
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !declares_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        Ok(JsonBytes(bytes))
    }
}

/// A body without a content type is read as JSON (curl without `-H`); any other type than
/// `application/json` or `application/*+json` is refused.
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        }
    } else {
        ApiError::MalformedJson {
            detail: rejection.body_text(),
        }
    }
}

/// Deserializes `bytes` into `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    deserialize(bytes)
}

/// The items of a JSON array body, each as its own text: a batch is checked for syntax
/// once, and each item is then read on its own, so one bad item fails alone.
pub fn parse_json_items(bytes: &[u8]) -> Result<Vec<&RawValue>, ApiError> {
    deserialize(bytes)
}

/// Deserializes one item of [`parse_json_items`] into `T`, naming the field at fault.
pub fn from_json_item<T: DeserializeOwned>(item: &RawValue) -> Result<T, ApiError> {
    deserialize(item.get().as_bytes())
}

/// Reads `bytes` as one JSON `T`. Tracking the path of every field costs about as much as
/// the parse itself, so it is done only when a plain parse has failed, to name the field.
fn deserialize<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(path_error)?;
    deserializer
        .end()
        .map_err(|error| ApiError::MalformedJson {
            detail: error.to_string(),
        })?;
    Ok(value)
}

fn path_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let field = error.path().to_string();
    let inner = error.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => ApiError::InvalidField {
            field: if field == "." {
                "body".to_string()
            } else {
                field
            },
            detail: strip_position(&inner.to_string()),
        },
        serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof
        | serde_json::error::Category::Io => ApiError::MalformedJson {
            detail: inner.to_string(),
        },
    }
}

/// serde_json appends " at line 1 column 42" to data errors; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The `{id}` of a path, a UUID.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("id", "the path has no id"))?;
        Uuid::parse_str(&text)
            .map(IdPath)
            .map_err(|_| ApiError::field("id", "the id in the path is not a UUID"))
    }
}

/// The metadata of the commands a request sends, and the ids it may create.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Recorded on every event the request's commands append.
    pub context: CommandContext,
    /// The request's Idempotency-Key, if it has one.
    pub idempotency_key: Option<String>,
}

impl RequestMeta {
    /// A new id for the `index`-th aggregate of kind `kind` that this request creates
    /// without an id given by the client. With an Idempotency-Key the id is derived from it
    /// (UUID v5), so a retry after a lost or failed answer targets the same aggregate instead
    /// of creating a duplicate; without one it is a UUID v7: time-ordered, so the rows keyed
    /// by new ids (the log's stream index, the saga's and the views' tables) are appended
    /// at the end of their indexes instead of dirtying a random page each.
    pub fn new_id(&self, kind: &str, index: usize) -> Uuid {
        match &self.idempotency_key {
            Some(key) => Uuid::new_v5(
                &ALPES_NAMESPACE,
                format!("http:{kind}:{index}:{key}").as_bytes(),
            ),
            None => Uuid::now_v7(),
        }
    }

    /// The context with `correlation_id` as the command's business flow (unless the client
    /// named one).
    pub fn correlated(&self, correlation_id: Uuid) -> CommandContext {
        let mut context = self.context.clone();
        context
            .correlation_id
            .get_or_insert_with(|| correlation_id.to_string());
        context
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header_text = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let context = CommandContext {
            correlation_id: header_text(CORRELATION_ID),
            causation_id: None,
            actor: API_ACTOR.to_string(),
            request_id: header_text(super::observability::REQUEST_ID),
        };
        Ok(RequestMeta {
            context,
            idempotency_key: header_text(IDEMPOTENCY_KEY),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        items: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn a_wrong_field_is_named_by_its_path() {
        let error =
            parse_json::<Outer>(br#"{"inner":{"n":1},"items":[{"n":1},{"n":"x"}]}"#).unwrap_err();
        match error {
            ApiError::InvalidField { field, detail } => {
                assert_eq!(field, "items[1].n");
                assert!(!detail.contains("line"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_field_is_named_by_its_parent_path() {
        let error = parse_json::<Outer>(br#"{"inner":{},"items":[]}"#).unwrap_err();
        assert_eq!(error.problem().field.as_deref(), Some("inner"));
        assert!(error.to_string().contains("missing field `n`"), "{error}");
    }

    #[test]
    fn broken_json_and_trailing_garbage_are_malformed() {
        for body in [&br#"{"inner":"#[..], br#"{"inner":{"n":1},"items":[]} x"#] {
            let error = parse_json::<Outer>(body).unwrap_err();
            assert_eq!(error.code(), "MalformedJson", "{error}");
        }
    }

    #[test]
    fn ids_derived_from_an_idempotency_key_are_stable_and_distinct() {
        let meta = |key: Option<&str>| RequestMeta {
            context: CommandContext::by(API_ACTOR),
            idempotency_key: key.map(str::to_string),
        };
        let keyed = meta(Some("k-1"));
        assert_eq!(keyed.new_id("campana", 0), keyed.new_id("campana", 0));
        assert_ne!(keyed.new_id("campana", 0), keyed.new_id("campana", 1));
        assert_ne!(
            keyed.new_id("campana", 0),
            meta(Some("k-2")).new_id("campana", 0)
        );
        let random = meta(None);
        let (first, second) = (random.new_id("campana", 0), random.new_id("campana", 0));
        assert_ne!(first, second);
        assert_eq!(first.get_version_num(), 7, "time-ordered: {first}");
        assert!(first < second, "{first} then {second}");
    }
}
