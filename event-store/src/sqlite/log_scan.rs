//! One pass over a range of the SQLite log, for readers of the whole log (the audit
//! export).
//!
//! [`super::SqliteEventLog::read_after`] hands out decoded, upcast events one batch per
//! query, each row crossing from sqlx's SQLite thread to the async side and each payload
//! parsed into a JSON tree. A scan instead steps one prepared statement on its own
//! read-only connection in a dedicated thread, and hands over batches of rows whose JSON
//! is still the stored text: a reader that only copies or hashes the JSON pays for no tree.
//! Rows of an older version, which an upcaster changes, are decoded and upcast on the scan
//! thread, so a scan shows exactly what the log shows.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tokio::sync::mpsc;

use super::wal_sync::{WalFile, WalSync};
use super::{SqliteEventStore, BUSY_TIMEOUT};
use crate::url::EventStoreUrl;
use crate::{upcast, Position, RecordedEvent, StoreError, Upcasters};

/// Batches read ahead of the consumer: the scan's memory is bounded by this many batches.
const BATCHES_AHEAD: usize = 2;
/// A batch is handed over at this many bytes of text even when it has fewer rows, so large
/// payloads do not make a batch large.
const MAX_BATCH_TEXT: usize = 4 << 20;

/// The same columns, in the same order, as every other read of the events table.
const SCAN_SQL: &str = "SELECT global_position, recorded_at, aggregate_type, aggregate_id, \
     sequence, event_type, event_version, payload, metadata FROM events \
     WHERE global_position > ?1 AND global_position <= ?2 ORDER BY global_position";

/// The text columns of a row, in the order they are kept in a batch.
const TEXT_COLUMNS: [(usize, &str); 7] = [
    (1, "recorded_at"),
    (2, "aggregate_type"),
    (3, "aggregate_id"),
    (5, "event_type"),
    (6, "event_version"),
    (7, "payload"),
    (8, "metadata"),
];

impl SqliteEventStore {
    /// Reads every event after `after` up to and including `up_to`, in commit order, in
    /// batches of at most `batch_rows` events (fewer when their text passes a few MiB).
    /// The whole range is read from one snapshot of the file.
    pub fn scan_log(
        &self,
        after: Position,
        up_to: Position,
        batch_rows: usize,
    ) -> Result<SqliteLogScan, StoreError> {
        let EventStoreUrl::Sqlite { path } = &self.inner.url else {
            return Err(StoreError::InvalidUrl {
                url: self.inner.url.masked(),
                reason: "not an SQLite URL".to_string(),
            });
        };
        let scan = Scan {
            path: path.clone(),
            after: rowid(after),
            up_to: rowid(up_to),
            batch_rows: batch_rows.max(1),
            upcasters: self.inner.log.upcasters().clone(),
        };
        let (sender, batches) = mpsc::channel(BATCHES_AHEAD);
        std::thread::Builder::new()
            .name("alpes-log-scan".to_string())
            .spawn(move || scan.run(&sender))
            .map_err(|error| StoreError::Database {
                context: "starting the SQLite log scan".to_string(),
                source: Box::new(error),
            })?;
        Ok(SqliteLogScan { batches })
    }
}

/// SQLite integers are signed; a position past `i64::MAX` is past every event.
fn rowid(position: Position) -> i64 {
    i64::try_from(position.high).unwrap_or(i64::MAX)
}

/// A running scan; dropping it stops the scan thread at its next batch.
pub struct SqliteLogScan {
    batches: mpsc::Receiver<Result<ScanBatch, StoreError>>,
}

impl SqliteLogScan {
    /// The next batch, in commit order; `None` once the range is read.
    pub async fn next_batch(&mut self) -> Result<Option<ScanBatch>, StoreError> {
        self.batches.recv().await.transpose()
    }
}

/// Consecutive events of a scan. Their text lives in one buffer.
pub struct ScanBatch {
    text: String,
    rows: Vec<Row>,
}

enum Row {
    AsStored(StoredRow),
    Upcast(Box<RecordedEvent>),
}

/// Where a stored row's columns are: integers, and the text columns' ranges in the
/// batch's buffer (in the order of [`TEXT_COLUMNS`]).
struct StoredRow {
    position: i64,
    sequence: i64,
    text: [Range<usize>; 7],
}

impl ScanBatch {
    fn new(capacity: usize) -> Self {
        ScanBatch {
            text: String::with_capacity(capacity),
            rows: Vec::new(),
        }
    }

    /// The number of events in the batch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The events, in commit order.
    pub fn events(&self) -> impl Iterator<Item = ScannedEvent<'_>> {
        self.rows.iter().map(|row| match row {
            Row::AsStored(stored) => ScannedEvent::AsStored(self.text_of(stored)),
            Row::Upcast(event) => ScannedEvent::Upcast(event),
        })
    }

    fn text_of(&self, row: &StoredRow) -> StoredEventText<'_> {
        let column = |index: usize| &self.text[row.text[index].clone()];
        StoredEventText {
            position: Position::new(row.position as u64, 0),
            recorded_at: column(0),
            aggregate_type: column(1),
            aggregate_id: column(2),
            sequence: row.sequence,
            event_type: column(3),
            event_version: column(4),
            payload: column(5),
            metadata: column(6),
        }
    }
}

/// One event of a scan.
pub enum ScannedEvent<'a> {
    /// Stored at a version that no upcaster changes: the columns as stored, JSON as text.
    AsStored(StoredEventText<'a>),
    /// Stored at an older version: decoded and upcast, as the log hands it out.
    Upcast(&'a RecordedEvent),
}

/// A row of the events table as stored, its payload and metadata still JSON text.
#[derive(Debug, Clone, Copy)]
pub struct StoredEventText<'a> {
    pub position: Position,
    /// As stored: RFC 3339, UTC.
    pub recorded_at: &'a str,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: &'a str,
    pub metadata: &'a str,
}

impl StoredEventText<'_> {
    /// The event as [`crate::EventLog::read_after`] hands it out when no upcaster changes
    /// it (an [`ScannedEvent::AsStored`] event). Fails as the log does on a payload or
    /// metadata that is not JSON, naming the stream, sequence and version.
    pub fn decode(&self) -> Result<RecordedEvent, StoreError> {
        let unreadable = |reason: String| StoreError::UnreadableEvent {
            stream: format!("{}-{}", self.aggregate_type, self.aggregate_id),
            sequence: self.sequence.max(0) as u64,
            event_type: self.event_type.to_string(),
            event_version: self.event_version.to_string(),
            reason,
        };
        let payload: Value = serde_json::from_str(self.payload)
            .map_err(|error| unreadable(format!("payload is not JSON: {error}")))?;
        let metadata: Value = serde_json::from_str(self.metadata)
            .map_err(|error| unreadable(format!("metadata is not JSON: {error}")))?;
        let recorded_at = DateTime::parse_from_rfc3339(self.recorded_at)
            .map_err(|error| unreadable(format!("recorded_at '{}': {error}", self.recorded_at)))?
            .with_timezone(&Utc);
        let sequence = usize::try_from(self.sequence)
            .map_err(|_| unreadable(format!("negative sequence {}", self.sequence)))?;
        Ok(RecordedEvent {
            position: self.position,
            recorded_at,
            stored_version: self.event_version.to_string(),
            event: Arc::new(SerializedEvent::new(
                self.aggregate_id.to_string(),
                sequence,
                self.aggregate_type.to_string(),
                self.event_type.to_string(),
                self.event_version.to_string(),
                payload,
                metadata,
            )),
        })
    }
}

/// What the scan thread reads.
struct Scan {
    path: PathBuf,
    after: i64,
    up_to: i64,
    batch_rows: usize,
    upcasters: Upcasters,
}

type BatchSender = mpsc::Sender<Result<ScanBatch, StoreError>>;

impl Scan {
    fn run(self, sender: &BatchSender) {
        if let Err(error) = self.read_into(sender) {
            // The consumer may be gone already; then nobody needs the error.
            let _ = sender.blocking_send(Err(error));
        }
    }

    /// Sends every batch; stops early, without error, when the consumer is gone.
    fn read_into(&self, sender: &BatchSender) -> Result<(), StoreError> {
        // The rows up to `up_to` were committed when it was chosen, but SQLite shows a
        // commit before the writer's syncer has made it durable: sync them before handing
        // any out.
        WalFile::of(&self.path)
            .sync()
            .map_err(failure("syncing the SQLite WAL before a scan"))?;
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failure("opening the SQLite event log for a scan"))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(failure("opening the SQLite event log for a scan"))?;
        let mut statement = connection
            .prepare(SCAN_SQL)
            .map_err(failure("reading the SQLite event log"))?;
        let mut rows = statement
            .query([self.after, self.up_to])
            .map_err(failure("reading the SQLite event log"))?;
        let mut batch = ScanBatch::new(MAX_BATCH_TEXT / 4);
        while let Some(row) = rows
            .next()
            .map_err(failure("reading the SQLite event log"))?
        {
            self.push(&mut batch, row)?;
            if batch.rows.len() >= self.batch_rows || batch.text.len() >= MAX_BATCH_TEXT {
                let capacity = batch.text.capacity();
                let full = std::mem::replace(&mut batch, ScanBatch::new(capacity));
                if sender.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(Ok(batch));
        }
        Ok(())
    }

    fn push(&self, batch: &mut ScanBatch, row: &rusqlite::Row<'_>) -> Result<(), StoreError> {
        let position = integer_column(row, 0, "global_position")?;
        let sequence = integer_column(row, 4, "sequence")?;
        let mut text: [Range<usize>; 7] = Default::default();
        for (slot, (index, name)) in TEXT_COLUMNS.iter().enumerate() {
            let value = text_column(row, *index, name)?;
            let start = batch.text.len();
            batch.text.push_str(value);
            text[slot] = start..batch.text.len();
        }
        let stored = StoredRow {
            position,
            sequence,
            text,
        };
        let event = batch.text_of(&stored);
        let changed_by_upcaster = self
            .upcasters
            .iter()
            .any(|upcaster| upcaster.can_upcast(event.event_type, event.event_version));
        if changed_by_upcaster {
            let mut decoded = event.decode()?;
            decoded.event = Arc::new(upcast(Arc::unwrap_or_clone(decoded.event), &self.upcasters));
            let start = stored.text[0].start;
            batch.text.truncate(start);
            batch.rows.push(Row::Upcast(Box::new(decoded)));
        } else {
            batch.rows.push(Row::AsStored(stored));
        }
        Ok(())
    }
}

fn failure<E: std::error::Error + Send + Sync + 'static>(
    context: &str,
) -> impl FnOnce(E) -> StoreError + '_ {
    move |error| StoreError::Database {
        context: context.to_string(),
        source: Box::new(error),
    }
}

fn integer_column(row: &rusqlite::Row<'_>, index: usize, name: &str) -> Result<i64, StoreError> {
    row.get(index)
        .map_err(|error| column_failure(name, Box::new(error)))
}

fn text_column<'r>(
    row: &'r rusqlite::Row<'_>,
    index: usize,
    name: &str,
) -> Result<&'r str, StoreError> {
    let value = row
        .get_ref(index)
        .map_err(|error| column_failure(name, Box::new(error)))?;
    value
        .as_str()
        .map_err(|error| column_failure(name, Box::new(error)))
}

fn column_failure(name: &str, source: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    StoreError::Database {
        context: format!("reading column '{name}' of the SQLite events table"),
        source,
    }
}
