//! GraphQL errors with a machine-readable code in `extensions.code`.

use alpes_read::ReadError;
use async_graphql::{Error, ErrorExtensions};

/// The codes of the API's errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// An argument is out of range or malformed (cursor, page size, dates, filter).
    BadUserInput,
    /// The `X-Consistency-Token` header is not a log position.
    InvalidConsistencyToken,
    /// The views did not reach the consistency token's position in time.
    ConsistencyTimeout,
    /// The query nests deeper than `--graphql-max-depth`.
    QueryTooDeep,
    /// The query is more complex than `--graphql-max-complexity`.
    QueryTooComplex,
    /// The views could not be read; details are in the server's log.
    Internal,
}

impl ErrorCode {
    /// As written in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::InvalidConsistencyToken => "INVALID_CONSISTENCY_TOKEN",
            ErrorCode::ConsistencyTimeout => "CONSISTENCY_TIMEOUT",
            ErrorCode::QueryTooDeep => "QUERY_TOO_DEEP",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// An error with `message` and `code`.
pub(crate) fn coded(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, extensions| extensions.set("code", code.as_str()))
}

/// A bad argument.
pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    coded(ErrorCode::BadUserInput, message)
}

/// The GraphQL error of a failed read: the caller's mistakes are shown, the rest is
/// logged and hidden.
pub(crate) fn read_error(error: &ReadError) -> Error {
    match error {
        ReadError::InvalidCursor(_) | ReadError::InvalidPageSize { .. } => {
            bad_input(error.to_string())
        }
        other => {
            tracing::error!(error = %other, "reading the views failed");
            coded(
                ErrorCode::Internal,
                "the views could not be read; the server's log has the details",
            )
        }
    }
}
