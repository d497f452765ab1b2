//! The one error type of the HTTP layer and its mapping to `application/problem+json`
//! (RFC 9457). Every handler and extractor answers failures through [`ApiError`]; internal
//! causes are logged here, with context, and never shown to the client.

use alpes_domain::{ErrorKind, RuleViolation};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::commands::CommandError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error body (RFC 9457 problem details) with the rule's stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:alpes:problem:TransicionInvalida",
    "title": "Conflict with the current state",
    "status": 409,
    "detail": "a campaign cannot go from Finalizada to Activa",
    "code": "TransicionInvalida"
}))]
pub struct Problem {
    /// `urn:alpes:problem:{code}`: identifies the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the class of problem (the same for every problem of a status).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// The stable code: a domain rule (`TransicionInvalida`, `PeriodoRetencionVigente`, …)
    /// or an HTTP-layer one (`MalformedJson`, `InvalidField`, `IdempotencyKeyReused`, …).
    pub code: String,
    /// The request field at fault (`datos.presupuesto.currency`, `[3].tipo`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Why a request failed, in the client's terms.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all (syntax error, truncated, trailing garbage).
    #[error("the body is not valid JSON: {detail}")]
    MalformedJson { detail: String },
    /// A field is missing, of the wrong type or out of range.
    #[error("{field}: {detail}")]
    InvalidField { field: String, detail: String },
    /// The body is not JSON by its content type.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A batch with more items than allowed.
    #[error("a batch holds at most {max} items, got {got}")]
    BatchTooLarge { max: usize, got: usize },
    /// The aggregate refused the command (a business rule, an invalid transition, bad
    /// input or an aggregate that does not exist).
    #[error("{detail}")]
    Rejected {
        kind: ErrorKind,
        code: &'static str,
        detail: String,
        field: Option<String>,
    },
    /// Other writers kept appending first, after the server's bounded retries.
    #[error("concurrency conflict on {aggregate}: retried {attempts} times")]
    ConcurrencyConflict { aggregate: String, attempts: usize },
    /// The Idempotency-Key header is unusable.
    #[error("Idempotency-Key: {detail}")]
    InvalidIdempotencyKey { detail: String },
    /// The Idempotency-Key was used before with another request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// The first request with this Idempotency-Key is still being handled.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    IdempotencyKeyInProgress,
    /// No route has this path.
    #[error("no resource at this path")]
    RouteNotFound,
    /// The route exists but not with this method.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// The store (events or the SQL database) failed; not the client's fault. `context` is
    /// logged, never sent.
    #[error("the store is unavailable")]
    StoreUnavailable { context: String },
}

impl ApiError {
    /// A field error naming `field`.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// This error naming `field` as the one at fault, when it is a domain rejection (the
    /// domain names fields in its own terms; the API names them as in the request).
    pub fn at_field(self, field: impl Into<String>) -> Self {
        match self {
            ApiError::Rejected {
                kind, code, detail, ..
            } => ApiError::Rejected {
                kind,
                code,
                detail,
                field: Some(field.into()),
            },
            other => other,
        }
    }

    /// A store failure, logged with `context`.
    pub fn store(context: impl Into<String>) -> Self {
        ApiError::StoreUnavailable {
            context: context.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson { .. }
            | ApiError::InvalidField { .. }
            | ApiError::BatchTooLarge { .. }
            | ApiError::InvalidIdempotencyKey { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Rejected { kind, .. } => match kind {
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::Conflict => StatusCode::CONFLICT,
                ErrorKind::BusinessRule => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            },
            ApiError::ConcurrencyConflict { .. } | ApiError::IdempotencyKeyInProgress => {
                StatusCode::CONFLICT
            }
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson { .. } => "MalformedJson",
            ApiError::InvalidField { .. } => "InvalidField",
            ApiError::UnsupportedMediaType => "UnsupportedMediaType",
            ApiError::PayloadTooLarge { .. } => "PayloadTooLarge",
            ApiError::BatchTooLarge { .. } => "BatchTooLarge",
            ApiError::Rejected { code, .. } => code,
            ApiError::ConcurrencyConflict { .. } => "ConcurrencyConflict",
            ApiError::InvalidIdempotencyKey { .. } => "InvalidIdempotencyKey",
            ApiError::IdempotencyKeyReused => "IdempotencyKeyReused",
            ApiError::IdempotencyKeyInProgress => "IdempotencyKeyInProgress",
            ApiError::RouteNotFound => "RouteNotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::StoreUnavailable { .. } => "StoreUnavailable",
        }
    }

    /// Whether the same request may succeed later, so its answer must not be stored under
    /// its Idempotency-Key (a retry should run it again).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::ConcurrencyConflict { .. }
                | ApiError::IdempotencyKeyInProgress
                | ApiError::StoreUnavailable { .. }
        )
    }

    /// The problem body of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let code = self.code();
        let field = match self {
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            ApiError::Rejected { field, .. } => field.clone(),
            _ => None,
        };
        Problem {
            problem_type: format!("urn:alpes:problem:{code}"),
            title: title(status).to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: code.to_string(),
            field,
        }
    }
}

/// One title per status, so that `title` never varies between occurrences (RFC 9457).
fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "Invalid request",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::CONFLICT => "Conflict with the current state",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
        StatusCode::UNPROCESSABLE_ENTITY => "Business rule violated",
        StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
        _ => "Error",
    }
}

/// Marks a response whose answer must not be replayed for its Idempotency-Key.
#[derive(Debug, Clone, Copy)]
pub struct NotReplayable;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::StoreUnavailable { context } = &self {
            tracing::error!(%context, "store failure answered with 503");
        }
        let transient = self.is_transient();
        let mut response = (self.status(), Json(self.problem())).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::IdempotencyKeyInProgress) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if transient {
            response.extensions_mut().insert(NotReplayable);
        }
        response
    }
}

impl<E: RuleViolation> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(rule) => ApiError::Rejected {
                kind: rule.kind(),
                code: rule.code(),
                detail: rule.to_string(),
                field: None,
            },
            CommandError::Conflict {
                aggregate,
                attempts,
            } => ApiError::ConcurrencyConflict {
                aggregate,
                attempts,
            },
            CommandError::Store { aggregate, reason } => ApiError::StoreUnavailable {
                context: format!("{aggregate}: {reason}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpes_domain::comision::ComisionError;

    #[test]
    fn each_rule_kind_maps_to_its_status() {
        let rejected = |kind| ApiError::Rejected {
            kind,
            code: "X",
            detail: String::new(),
            field: None,
        };
        assert_eq!(rejected(ErrorKind::NotFound).status(), 404);
        assert_eq!(rejected(ErrorKind::Conflict).status(), 409);
        assert_eq!(rejected(ErrorKind::BusinessRule).status(), 422);
        assert_eq!(rejected(ErrorKind::InvalidInput).status(), 400);
    }

    #[test]
    fn a_store_failure_is_503_and_hides_its_cause() {
        let error: ApiError = CommandError::<ComisionError>::Store {
            aggregate: "Comision-1".to_string(),
            reason: "disk I/O error at /var/lib/secret".to_string(),
        }
        .into();
        let problem = error.problem();
        assert_eq!(problem.status, 503);
        assert!(!problem.detail.contains("secret"), "{}", problem.detail);
        assert!(error.is_transient());
    }

    #[test]
    fn a_rejection_carries_the_rule_code() {
        let error: ApiError = CommandError::Rejected(ComisionError::ReferenciaPagoVacia).into();
        let problem = error.problem();
        assert_eq!(problem.code, "ReferenciaPagoVacia");
        assert_eq!(
            problem.problem_type,
            "urn:alpes:problem:ReferenciaPagoVacia"
        );
        assert_eq!(problem.status, 400);
    }
}
