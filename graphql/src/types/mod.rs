//! The GraphQL objects: one wrapper per view row, with the fields a client reads.

pub(crate) mod atribucion;
pub(crate) mod comisiones;
pub(crate) mod connection;
pub(crate) mod marketing;
pub(crate) mod projections;
pub(crate) mod saga;
pub(crate) mod tracking;

use async_graphql::{Context, Result};

use crate::context::Db;
use crate::error::read_error;

/// The request's access to the views.
pub(crate) fn db<'a>(ctx: &Context<'a>) -> Result<&'a Db> {
    ctx.data::<Db>()
}

/// Turns a failed read into its GraphQL error.
pub(crate) fn or_error<T>(result: Result<T, alpes_read::ReadError>) -> Result<T> {
    result.map_err(|error| read_error(&error))
}

/// Turns a failed DataLoader batch into its GraphQL error.
pub(crate) fn or_load_error<T>(
    result: std::result::Result<T, std::sync::Arc<alpes_read::ReadError>>,
) -> Result<T> {
    result.map_err(|error| read_error(&error))
}
