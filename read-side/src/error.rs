//! The one error type of the read side's public API.

use alpes_event_store::{Position, StoreError};

use crate::db::RowError;

/// What went wrong on the read side, in the caller's terms.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The `--views` URL cannot be used. `url` has its password masked.
    #[error("invalid views URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL, password masked.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The views database could not be opened or brought up to date.
    #[error("cannot open the views database at '{url}': {reason}")]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A statement on the views database failed.
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: String,
        /// The database's error.
        #[source]
        source: sqlx::Error,
    },
    /// A view row does not read back as the code expects (a schema the code does not know).
    #[error("unreadable row of {table}: {source}")]
    Row {
        /// The table.
        table: String,
        /// The column at fault.
        #[source]
        source: RowError,
    },
    /// The event store failed (reading the log, a checkpoint, a lease).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An event of the log cannot be projected by this code.
    #[error("projection {projection} cannot apply the event at {position}: {reason}")]
    UnreadableEvent {
        /// The projection.
        projection: String,
        /// Where the event is in the log.
        position: Position,
        /// Why.
        reason: String,
    },
    /// No projection has this name.
    #[error("unknown projection '{name}'; the projections are: {known}")]
    UnknownProjection {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A pagination cursor that no page of this list handed out.
    #[error("invalid cursor '{0}': pass the cursor of a row of a previous page")]
    InvalidCursor(String),
    /// A page size out of range.
    #[error("page size {asked} is out of range: ask for 1 to {max} rows")]
    InvalidPageSize {
        /// The size asked for.
        asked: u32,
        /// The largest page.
        max: u32,
    },
    /// Another rebuild of the same projection is running.
    #[error(
        "another rebuild of projection {projection} is running (it made progress {seconds_ago} s ago); \
         wait for it to finish, or stop it and try again"
    )]
    RebuildRunning {
        /// The projection.
        projection: String,
        /// How long ago the other rebuild last committed.
        seconds_ago: i64,
    },
    /// A rebuild could not catch up with the live projection before swapping.
    #[error("rebuild of {projection} stopped: {reason}")]
    RebuildFailed {
        /// The projection.
        projection: String,
        /// Why.
        reason: String,
    },
}

impl ReadError {
    /// A failed statement, with what was being done.
    pub(crate) fn database(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ReadError {
        let context = context.into();
        move |source| ReadError::Database { context, source }
    }

    /// An unreadable row of `table`.
    pub(crate) fn row(table: &str) -> impl FnOnce(RowError) -> ReadError + '_ {
        move |source| ReadError::Row {
            table: table.to_string(),
            source,
        }
    }
}
