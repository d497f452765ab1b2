//! Reading one's own writes: a REST command answers with the log position of its last
//! event (the consistency token); a GraphQL request that carries it waits until every
//! projection has applied the log up to there.
//!
//! Projectors save their checkpoint in the views database with each batch, so the wait
//! reads the checkpoints until the slowest one reaches the token, a few milliseconds
//! apart, bounded by `--graphql-consistency-timeout-ms`.

use std::time::Duration;

use alpes_event_store::Position;
use alpes_read::Views;
use tokio::time::Instant;

use async_graphql::ErrorExtensions;

use crate::error::{coded, read_error, ErrorCode};

/// How often the checkpoints are read while waiting.
const CHECK_EVERY: Duration = Duration::from_millis(5);

/// Parses the text of the `X-Consistency-Token` header.
pub fn parse_token(text: &str) -> Result<Position, async_graphql::Error> {
    text.trim().parse::<Position>().map_err(|error| {
        coded(
            ErrorCode::InvalidConsistencyToken,
            format!("invalid X-Consistency-Token: {error}"),
        )
    })
}

/// Parses the raw bytes of the `X-Consistency-Token` header.
pub fn parse_header(bytes: &[u8]) -> Result<Position, async_graphql::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_token(text),
        Err(_) => Err(coded(
            ErrorCode::InvalidConsistencyToken,
            "invalid X-Consistency-Token: not text (expected HIGH:LOW, e.g. 42:0)",
        )),
    }
}

/// Waits until every projection of `views` has applied the log up to `token`, at most
/// `timeout`.
pub async fn wait_for(
    views: &Views,
    token: Position,
    timeout: Duration,
) -> Result<(), async_graphql::Error> {
    let deadline = Instant::now() + timeout;
    loop {
        let reached = views
            .slowest_checkpoint()
            .await
            .map_err(|error| read_error(&error))?;
        if reached >= token {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(coded(
                ErrorCode::ConsistencyTimeout,
                format!(
                    "the views have not reached log position {token} within {} ms \
                     (the slowest projection is at {reached}); retry later or without \
                     X-Consistency-Token",
                    timeout.as_millis()
                ),
            )
            .extend_with(|_, extensions| extensions.set("position", token.to_string())));
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
