//! The global log on SQLite: the `events` table in rowid order, its newest part served
//! from the writer's [`TailCache`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use tokio::sync::watch;

use super::readers::Readers;
use super::rows::{database_failure, parse_recorded_at, stored_event, StoredEvent, EVENT_COLUMNS};
use super::tail::TailCache;
use super::wal_sync::{WalFile, WalSync};
use crate::{
    upcast, EventFilter, EventLog, Position, RecordedEvent, StoreError, Upcasters, WantedEvents,
};

/// How stale the knowledge of the file's last row may be before a reader at the head of
/// this process's writes looks for rows of other processes again. Those come with no
/// wake-up signal anyway (consumers find them by polling), so this only bounds how much
/// later than the poll they may be seen.
const FOREIGN_ROWS_RECHECK: Duration = Duration::from_millis(100);

/// Reads the SQLite event log. Positions are `(rowid, 0)`.
pub struct SqliteEventLog {
    readers: Readers,
    /// The last position this process's writer made durable; changes wake waiting
    /// consumers.
    committed: watch::Receiver<i64>,
    /// The last position this process's writer committed, durable or not yet: rows up to
    /// it come through the tail once synced.
    written: Arc<AtomicI64>,
    /// Synced before handing out rows read beyond `committed`: SQLite shows commits (of
    /// this process's writer, or another process's) before they are durable.
    wal: Arc<Mutex<WalFile>>,
    tail: Arc<TailCache>,
    upcasters: Upcasters,
    /// When the file's last rowid was last read, and what it was.
    file_head: Mutex<Option<(Instant, i64)>>,
    read_sql: String,
}

impl SqliteEventLog {
    pub(crate) fn new(
        readers: Readers,
        committed: watch::Receiver<i64>,
        written: Arc<AtomicI64>,
        wal: WalFile,
        tail: Arc<TailCache>,
        upcasters: Upcasters,
    ) -> Self {
        SqliteEventLog {
            readers,
            committed,
            written,
            wal: Arc::new(Mutex::new(wal)),
            tail,
            upcasters,
            file_head: Mutex::new(None),
            read_sql: format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ?1 \
                 ORDER BY global_position LIMIT ?2"
            ),
        }
    }

    /// The upcasters every event read goes through.
    pub(crate) fn upcasters(&self) -> &Upcasters {
        &self.upcasters
    }

    fn recorded(&self, stored: StoredEvent) -> RecordedEvent {
        let stored_version = stored.event.event_version.clone();
        RecordedEvent {
            position: Position::new(stored.position as u64, 0),
            recorded_at: stored.recorded_at,
            stored_version,
            event: Arc::new(upcast(stored.event, &self.upcasters)),
        }
    }

    /// Whether a read after `after` surely finds nothing yet: `after` is this process's last
    /// durable commit, and the file had no later row a moment ago but this process's
    /// commits being synced (the tail brings those).
    fn nothing_after(&self, after: i64) -> Result<bool, StoreError> {
        if after < *self.committed.borrow() {
            return Ok(false);
        }
        let mut file_head = self
            .file_head
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let head = match *file_head {
            Some((read_at, head)) if read_at.elapsed() < FOREIGN_ROWS_RECHECK => head,
            _ => {
                let head = self
                    .readers
                    .with("reading the head of the SQLite event log", |c| {
                        last_rowid(c)
                    })?;
                *file_head = Some((Instant::now(), head));
                head
            }
        };
        Ok(head <= after.max(self.written.load(Ordering::Acquire)))
    }

    async fn read_table(&self, after: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = self.read_sql.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let durable = *self.committed.borrow();
        let wal = self.wal.clone();
        let stored = self
            .readers
            .with_blocking("reading the SQLite event log", move |connection| {
                let mut statement = connection
                    .prepare_cached(&sql)
                    .map_err(database_failure("reading the SQLite event log"))?;
                let mut rows = statement
                    .query(rusqlite::params![after, limit])
                    .map_err(database_failure("reading the SQLite event log"))?;
                let mut events = Vec::new();
                while let Some(row) = rows
                    .next()
                    .map_err(database_failure("reading the SQLite event log"))?
                {
                    events.push(stored_event(row)?);
                }
                if events.last().is_some_and(|last| last.position > durable) {
                    sync_wal(&wal)?;
                }
                Ok(events)
            })
            .await?;
        Ok(stored
            .into_iter()
            .map(|event| self.recorded(event))
            .collect())
    }
}

/// Makes every row a reader saw so far durable (they were in the WAL when it saw them).
fn sync_wal(wal: &Mutex<WalFile>) -> Result<(), StoreError> {
    wal.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .sync()
        .map_err(|error| StoreError::Database {
            context: "syncing the SQLite WAL before handing out rows read beyond the synced head"
                .to_string(),
            source: Box::new(error),
        })
}

/// The last rowid of the file, 0 when it holds no event.
pub(crate) fn last_rowid(connection: &rusqlite::Connection) -> Result<i64, StoreError> {
    connection
        .prepare_cached("SELECT COALESCE(MAX(global_position), 0) FROM events")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(database_failure(
            "reading the last position of the SQLite event log",
        ))
}

/// SQLite integers are signed; a position past `i64::MAX` is past every event.
fn rowid_after(position: Position) -> i64 {
    i64::try_from(position.high).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl EventLog for SqliteEventLog {
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // Rowids are given in commit order (one writer at a time), and a reader only sees
        // committed transactions, so no later reader can find a row before `after`.
        let after = rowid_after(after);
        let cached = self.tail.read_after(after, limit);
        if !cached.is_empty() || limit == 0 || self.nothing_after(after)? {
            return Ok(cached);
        }
        self.read_table(after, limit).await
    }

    async fn read_wanted_after(
        &self,
        after: Position,
        limit: usize,
        wanted: &EventFilter<'_>,
    ) -> Result<WantedEvents, StoreError> {
        let rowid = rowid_after(after);
        let (events, scanned_to) = self.tail.read_wanted_after(rowid, limit, wanted);
        if let Some(scanned_to) = scanned_to {
            return Ok(WantedEvents {
                events,
                scanned_to: Some(Position::new(scanned_to as u64, 0)),
            });
        }
        if limit == 0 || self.nothing_after(rowid)? {
            return Ok(WantedEvents::default());
        }
        let events = self.read_table(rowid, limit).await?;
        let scanned_to = events.last().map(|event| event.position);
        Ok(WantedEvents {
            events: events
                .into_iter()
                .filter(|event| wanted(&event.event.aggregate_type, &event.event.event_type))
                .collect(),
            scanned_to,
        })
    }

    async fn wait_for_events(&self, after: Position, timeout: Duration) -> Result<(), StoreError> {
        let mut committed = self.committed.clone();
        let after = rowid_after(after);
        // Events written by another process do not signal: the timeout is the fallback.
        let writer_stopped = tokio::time::timeout(timeout, async {
            committed.wait_for(|head| *head > after).await.is_err()
        })
        .await
        .unwrap_or(false);
        if writer_stopped {
            tokio::time::sleep(timeout).await;
        }
        Ok(())
    }

    async fn head(&self) -> Result<Option<(Position, DateTime<Utc>)>, StoreError> {
        const CONTEXT: &str = "reading the head of the SQLite event log";
        let head: Option<(i64, String)> = self.readers.with(CONTEXT, |connection| {
            connection
                .prepare_cached(
                    "SELECT global_position, recorded_at FROM events \
                     ORDER BY global_position DESC LIMIT 1",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(database_failure(CONTEXT))
        })?;
        let Some((position, recorded_at)) = head else {
            return Ok(None);
        };
        let recorded_at =
            parse_recorded_at(&recorded_at).map_err(|error| StoreError::Database {
                context: format!("reading the time of the last event ('{recorded_at}')"),
                source: Box::new(error),
            })?;
        Ok(Some((Position::new(position as u64, 0), recorded_at)))
    }
}
