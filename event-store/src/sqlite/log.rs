//! The global log on SQLite: the `events` table in rowid order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::Row;
use tokio::sync::watch;

use super::rows::{stored_event, StoredEvent, EVENT_COLUMNS};
use crate::{upcast, EventLog, Position, RecordedEvent, StoreError, Upcasters};

/// Reads the SQLite event log. Positions are `(rowid, 0)`.
pub struct SqliteEventLog {
    pool: SqlitePool,
    /// The last position the writer committed; changes wake waiting consumers.
    committed: watch::Receiver<i64>,
    upcasters: Upcasters,
}

impl SqliteEventLog {
    pub(crate) fn new(
        pool: SqlitePool,
        committed: watch::Receiver<i64>,
        upcasters: Upcasters,
    ) -> Self {
        SqliteEventLog {
            pool,
            committed,
            upcasters,
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
            event: upcast(stored.event, &self.upcasters),
        }
    }
}

fn read_failure(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |error| StoreError::Database {
        context: context.to_string(),
        source: Box::new(error),
    }
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
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > ? \
             ORDER BY global_position LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(rowid_after(after))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(read_failure("reading the SQLite event log"))?;
        rows.iter()
            .map(|row| stored_event(row).map(|stored| self.recorded(stored)))
            .collect()
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
        let row = sqlx::query(
            "SELECT global_position, recorded_at FROM events ORDER BY global_position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(read_failure("reading the head of the SQLite event log"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let position: i64 = row
            .try_get("global_position")
            .map_err(read_failure("reading the head of the SQLite event log"))?;
        let recorded_at: String = row
            .try_get("recorded_at")
            .map_err(read_failure("reading the head of the SQLite event log"))?;
        let recorded_at = DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|error| StoreError::Database {
                context: format!("reading the time of the last event ('{recorded_at}')"),
                source: Box::new(error),
            })?
            .with_timezone(&Utc);
        Ok(Some((Position::new(position as u64, 0), recorded_at)))
    }
}
