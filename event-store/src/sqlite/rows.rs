//! Rows of the `events` table as the readers see them.

use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

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
pub(crate) fn stored_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let position: i64 = column(row, "global_position")?;
    let recorded_at: String = column(row, "recorded_at")?;
    let aggregate_type: String = column(row, "aggregate_type")?;
    let aggregate_id: String = column(row, "aggregate_id")?;
    let sequence: i64 = column(row, "sequence")?;
    let event_type: String = column(row, "event_type")?;
    let event_version: String = column(row, "event_version")?;
    let payload: String = column(row, "payload")?;
    let metadata: String = column(row, "metadata")?;
    let unreadable = |reason: String| StoreError::UnreadableEvent {
        stream: format!("{aggregate_type}-{aggregate_id}"),
        sequence: sequence.max(0) as u64,
        event_type: event_type.clone(),
        event_version: event_version.clone(),
        reason,
    };
    let payload: Value = serde_json::from_str(&payload)
        .map_err(|error| unreadable(format!("payload is not JSON: {error}")))?;
    let metadata: Value = serde_json::from_str(&metadata)
        .map_err(|error| unreadable(format!("metadata is not JSON: {error}")))?;
    let recorded_at = DateTime::parse_from_rfc3339(&recorded_at)
        .map_err(|error| unreadable(format!("recorded_at '{recorded_at}': {error}")))?
        .with_timezone(&Utc);
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

fn column<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(name).map_err(|error| StoreError::Database {
        context: format!("reading column '{name}' of the SQLite events table"),
        source: Box::new(error),
    })
}

/// A read failure, for the cqrs-es repository.
pub(crate) fn read_failure(context: &str, error: sqlx::Error) -> PersistenceError {
    PersistenceError::ConnectionError(Box::new(StoreError::Database {
        context: context.to_string(),
        source: Box::new(error),
    }))
}

/// A store error, for the cqrs-es repository: an unreadable event stays a deserialization
/// error, so cqrs-es reports it as such, with the stream, sequence and version in its text.
pub(crate) fn to_persistence_error(error: StoreError) -> PersistenceError {
    match error {
        StoreError::UnreadableEvent { .. } => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        StoreError::ConcurrencyConflict { .. } => PersistenceError::OptimisticLockError,
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}
