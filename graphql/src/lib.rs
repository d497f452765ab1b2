//! The GraphQL API over the read side's views (see ../shared/ARCHITECTURE.md, "Read side").
//!
//! - [`router`] serves it: `POST /graphql` runs a query, `GET /graphql` opens GraphiQL,
//!   `GET /graphql/ws` upgrades to a WebSocket for subscriptions (graphql-transport-ws and
//!   the older graphql-ws protocol).
//! - Lists are Relay connections over the views' keyset cursors; money is an object with a
//!   decimal amount and a currency.
//! - Nested objects of a list (a commission's campaign, a journey's interactions) load
//!   through DataLoaders: one query of the views per field, not one per row. Every
//!   response says how many calls of the query API it took (`extensions.viewQueries`).
//! - A request with the header `X-Consistency-Token: HIGH:LOW` waits until every projection
//!   has applied the log up to that position (see [`consistency`]).
//! - Subscriptions follow the global log (see [`subscription`]).

#![warn(missing_docs)]

pub mod consistency;
mod context;
mod error;
mod http;
mod loaders;
mod money;
mod query;
mod schema;
mod service;
pub mod subscription;
mod types;

use std::time::Duration;

pub use context::ReadContext;
pub use error::ErrorCode;
pub use http::{router, CONSISTENCY_HEADER};
pub use schema::{build_schema, AlpesSchema};
pub use service::GraphqlService;

/// The limits and waits of the GraphQL API (`alpes serve` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphqlSettings {
    /// The deepest selection a query may nest.
    pub max_depth: usize,
    /// The largest complexity a query may have (each field 1; a list's fields count once
    /// per row asked for with `first`).
    pub max_complexity: usize,
    /// How long a request with a consistency token waits for the views at most.
    pub consistency_timeout: Duration,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        GraphqlSettings {
            max_depth: 12,
            max_complexity: 20_000,
            consistency_timeout: Duration::from_secs(5),
        }
    }
}
