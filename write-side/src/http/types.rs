//! Request and response bodies shared by several services.

use alpes_domain::{Currency, Money};
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

/// A command was carried out on an existing aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The aggregate's id.
    pub id: Uuid,
    /// The aggregate's version after the command (unchanged when the command was a
    /// repeat that was already done).
    pub version: usize,
}

impl From<Executed> for Accepted {
    fn from(executed: Executed) -> Self {
        Accepted {
            id: executed.aggregate_id,
            version: executed.version,
        }
    }
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        (StatusCode::OK, Json(self)).into_response()
    }
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
        let mut response = (StatusCode::CREATED, Json(self.body)).into_response();
        if let Ok(location) = HeaderValue::from_str(&self.location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}
