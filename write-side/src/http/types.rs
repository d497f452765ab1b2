//! Request and response bodies shared by several services.

use alpes_domain::{Currency, Money};
use alpes_event_store::Position;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::commands::Executed;

/// An amount of money: integer minor units (cents) and an ISO 4217 code. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Money, example = json!({"amount": 1250, "currency": "EUR"}))]
pub struct MoneyJson {
    /// Minor units, e.g. 1250 for 12.50 EUR.
    pub amount: i64,
    /// Three upper-case letters, e.g. `EUR`.
    #[schema(value_type = String, example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: Currency,
}

impl From<MoneyJson> for Money {
    fn from(money: MoneyJson) -> Self {
        Money::new(money.amount, money.currency)
    }
}

/// The response header carrying the consistency token of a command's answer.
pub const CONSISTENCY_HEADER: &str = "x-consistency-token";

/// A command was carried out on an existing aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The aggregate's id.
    pub id: Uuid,
    /// The aggregate's version after the command (unchanged when the command was a
    /// repeat that was already done).
    pub version: usize,
    /// The global log position of the command's last event (`HIGH:LOW`), also in the
    /// `X-Consistency-Token` header: a GraphQL query sent with it reads this write. Absent
    /// when the command appended nothing (a repeat already done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "0:42")]
    pub consistency: Option<String>,
}

impl From<Executed> for Accepted {
    fn from(executed: Executed) -> Self {
        Accepted {
            id: executed.aggregate_id,
            version: executed.version,
            consistency: executed.position.map(|position| position.to_string()),
        }
    }
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        let token = self.consistency.clone();
        with_consistency((StatusCode::OK, Json(self)).into_response(), token)
    }
}

/// The latest of `positions`, as a consistency token.
pub fn latest_token(positions: impl IntoIterator<Item = Option<Position>>) -> Option<String> {
    positions
        .into_iter()
        .flatten()
        .max()
        .map(|position| position.to_string())
}

/// `response` with the `X-Consistency-Token` header when there is a token.
pub fn with_consistency(mut response: Response, token: Option<String>) -> Response {
    if let Some(value) = token.and_then(|token| HeaderValue::from_str(&token).ok()) {
        response.headers_mut().insert(CONSISTENCY_HEADER, value);
    }
    response
}

/// A new aggregate, answered 201 with its `Location`.
#[derive(Debug, Clone)]
pub struct Created {
    /// Where the new aggregate lives, e.g. `/api/v1/campanas/{id}`.
    pub location: String,
    /// Its id and version.
    pub body: Accepted,
}

impl Created {
    /// `executed` created an aggregate under `collection` (e.g. `/api/v1/campanas`).
    pub fn at(collection: &str, executed: Executed) -> Self {
        Created {
            location: format!("{collection}/{}", executed.aggregate_id),
            body: executed.into(),
        }
    }
}

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        let token = self.body.consistency.clone();
        let mut response = with_consistency(
            (StatusCode::CREATED, Json(self.body)).into_response(),
            token,
        );
        if let Ok(location) = HeaderValue::from_str(&self.location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}
