//! The one error type of the event store's public API.

/// What went wrong in the event store, in the caller's terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--events` URL cannot be used. `url` has its password masked.
    #[error("invalid event store URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The server named by the URL could not be reached or refused us.
    #[error("cannot connect to the event store at '{url}': {reason}. {hint}")]
    Unreachable {
        url: String,
        reason: String,
        hint: String,
    },
    /// Another writer appended to the aggregate first.
    #[error(
        "concurrency conflict on {aggregate_type}-{aggregate_id}: expected sequence {expected}"
    )]
    ConcurrencyConflict {
        aggregate_type: String,
        aggregate_id: String,
        expected: u64,
    },
    /// A stored event cannot be read by this code (unknown type or version, bad payload).
    #[error("cannot read event {stream}#{sequence} ({event_type} v{event_version}): {reason}")]
    UnreadableEvent {
        stream: String,
        sequence: u64,
        event_type: String,
        event_version: String,
        reason: String,
    },
    /// A checkpoint, lease or position could not be used.
    #[error("consumer '{consumer}': {reason}")]
    Consumer { consumer: String, reason: String },
    /// Any other database failure, with context.
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
