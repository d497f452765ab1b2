//! Rows of the `events` table as the readers see them.

use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use serde_json::Value;

use crate::StoreError;

/// The columns every event read selects, in the order [`stored_event`] expects.
pub(crate) const EVENT_COLUMNS: &str = "global_position, recorded_at, aggregate_type, \
     aggregate_id, sequence, event_type, event_version, payload, metadata";

/// One row of `events`, as stored (not upcast).
pub(crate) struct StoredEvent {
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    pub event: SerializedEvent,
}

/// Reads a row selected with [`EVENT_COLUMNS`]; a payload or metadata that is not JSON is
/// reported naming the stream, sequence and version.
pub(crate) fn stored_event(row: &rusqlite::Row<'_>) -> Result<StoredEvent, StoreError> {
    let position: i64 = column(row, 0, "global_position")?;
    let recorded_at: String = column(row, 1, "recorded_at")?;
    let aggregate_type: String = column(row, 2, "aggregate_type")?;
    let aggregate_id: String = column(row, 3, "aggregate_id")?;
    let sequence: i64 = column(row, 4, "sequence")?;
    let event_type: String = column(row, 5, "event_type")?;
    let event_version: String = column(row, 6, "event_version")?;
    let unreadable = |reason: String| StoreError::UnreadableEvent {
        stream: format!("{aggregate_type}-{aggregate_id}"),
        sequence: sequence.max(0) as u64,
        event_type: event_type.clone(),
        event_version: event_version.clone(),
        reason,
    };
    let payload: Value = serde_json::from_str(text_column(row, 7, "payload")?)
        .map_err(|error| unreadable(format!("payload is not JSON: {error}")))?;
    let metadata: Value = serde_json::from_str(text_column(row, 8, "metadata")?)
        .map_err(|error| unreadable(format!("metadata is not JSON: {error}")))?;
    let recorded_at = parse_recorded_at(&recorded_at)
        .map_err(|error| unreadable(format!("recorded_at '{recorded_at}': {error}")))?;
    let sequence = usize::try_from(sequence)
        .map_err(|_| unreadable(format!("negative sequence {sequence}")))?;
    Ok(StoredEvent {
        position,
        recorded_at,
        event: SerializedEvent::new(
            aggregate_id,
            sequence,
            aggregate_type,
            event_type,
            event_version,
            payload,
            metadata,
        ),
    })
}

/// `recorded_at` as stored: RFC 3339 in UTC.
pub(crate) fn parse_recorded_at(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|at| at.with_timezone(&Utc))
}

fn column<T: rusqlite::types::FromSql>(
    row: &rusqlite::Row<'_>,
    index: usize,
    name: &str,
) -> Result<T, StoreError> {
    row.get(index).map_err(|error| column_failure(name, error))
}

fn text_column<'r>(
    row: &'r rusqlite::Row<'_>,
    index: usize,
    name: &str,
) -> Result<&'r str, StoreError> {
    row.get_ref(index)
        .map_err(|error| column_failure(name, error))?
        .as_str()
        .map_err(|error| column_failure(name, rusqlite::Error::from(error)))
}

fn column_failure(name: &str, error: rusqlite::Error) -> StoreError {
    StoreError::Database {
        context: format!("reading column '{name}' of the SQLite events table"),
        source: Box::new(error),
    }
}

/// A failure of the SQLite database while `context`.
pub(crate) fn database_failure(context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Database {
        context: context.to_string(),
        source: Box::new(error),
    }
}

/// A store error, for the cqrs-es repository: an unreadable event stays a deserialization
/// error, so cqrs-es reports it as such, with the stream, sequence and version in its text.
pub(crate) fn to_persistence_error(error: StoreError) -> PersistenceError {
    match error {
        StoreError::UnreadableEvent { .. } => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        StoreError::ConcurrencyConflict { .. } => PersistenceError::OptimisticLockError,
        StoreError::Database { .. } | StoreError::Unreachable { .. } => {
            PersistenceError::ConnectionError(Box::new(error))
        }
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}
