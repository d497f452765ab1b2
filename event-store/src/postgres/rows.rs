//! Event rows as the repository and the log read them, and what their errors mean.

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::postgres::PgRow;
use sqlx::Row;

/// The columns that make up a [`SerializedEvent`], as selected by every event query.
pub(crate) const EVENT_COLUMNS: &str =
    "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";

/// PostgreSQL's unique_violation: another writer stored this aggregate's sequence first.
const UNIQUE_VIOLATION: &str = "23505";

/// Reads the [`EVENT_COLUMNS`] of a row.
pub(crate) fn serialized_event(row: &PgRow) -> Result<SerializedEvent, sqlx::Error> {
    let sequence: i64 = row.try_get("sequence")?;
    let sequence = usize::try_from(sequence).map_err(|error| sqlx::Error::ColumnDecode {
        index: "sequence".to_string(),
        source: Box::new(error),
    })?;
    Ok(SerializedEvent {
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
    })
}

/// True when the database refused a row because its (type, id, sequence) exists.
pub(crate) fn is_conflict(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION))
}

/// The cqrs-es meaning of a database error.
pub(crate) fn persistence_error(error: sqlx::Error) -> PersistenceError {
    if is_conflict(&error) {
        return PersistenceError::OptimisticLockError;
    }
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => PersistenceError::ConnectionError(Box::new(error)),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

/// The cqrs-es meaning of a database error that several callers share (a batch's).
pub(crate) fn shared_persistence_error(error: &sqlx::Error) -> PersistenceError {
    let message = error.to_string().into();
    if is_conflict(error) {
        return PersistenceError::OptimisticLockError;
    }
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => PersistenceError::ConnectionError(message),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            PersistenceError::DeserializationError(message)
        }
        _ => PersistenceError::UnknownError(message),
    }
}

/// A sequence number as the `bigint` column stores it.
pub(crate) fn sequence_column(sequence: usize) -> Result<i64, PersistenceError> {
    i64::try_from(sequence).map_err(|error| PersistenceError::UnknownError(Box::new(error)))
}
