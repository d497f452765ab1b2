//! The cqrs-es repository over the sqlite-es tables: reads from the pool, appends through
//! the group-committing writer.

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayFeed, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use super::rows::{read_failure, stored_event, to_persistence_error, EVENT_COLUMNS};
use super::writer::{Append, EventRow, SnapshotRow, WriterHandle};
use crate::aggregate_store::PositionedRepository;
use crate::Position;

/// Events per page when streaming a whole aggregate type.
const STREAM_PAGE: i64 = 1000;

/// The cqrs-es event repository of the SQLite backend. Cheap to clone.
#[derive(Clone)]
pub struct SqliteEventRepository {
    pool: SqlitePool,
    writer: WriterHandle,
}

impl SqliteEventRepository {
    pub(crate) fn new(pool: SqlitePool, writer: WriterHandle) -> Self {
        SqliteEventRepository { pool, writer }
    }

    /// Appends the events of one aggregate instance (and its snapshot) atomically and
    /// returns the global position of the last one (`None` when there were no events).
    /// A stale expected sequence fails with [`PersistenceError::OptimisticLockError`].
    pub async fn append<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        let Some(last) = events.last() else {
            return Ok(None);
        };
        let rows = events
            .iter()
            .map(event_row)
            .collect::<Result<Vec<_>, _>>()?;
        let snapshot = snapshot_update
            .map(|(aggregate_id, payload, current_snapshot)| {
                Ok::<_, PersistenceError>(SnapshotRow {
                    aggregate_id,
                    last_sequence: to_i64(last.sequence)?,
                    current_snapshot: to_i64(current_snapshot)?,
                    payload: payload.to_string(),
                })
            })
            .transpose()?;
        let position = self
            .writer
            .append(Append {
                aggregate_type: A::TYPE,
                events: rows,
                snapshot,
            })
            .await?;
        Ok(Some(Position::new(position as u64, 0)))
    }

    async fn select_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE aggregate_type = ? AND aggregate_id = ? AND sequence > ? \
             ORDER BY sequence"
        );
        let rows = sqlx::query(&sql)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(to_i64(after_sequence)?)
            .fetch_all(&self.pool)
            .await
            .map_err(|error| read_failure("loading the events of an aggregate", error))?;
        rows.iter()
            .map(|row| {
                stored_event(row)
                    .map(|stored| stored.event)
                    .map_err(to_persistence_error)
            })
            .collect()
    }
}

impl PositionedRepository for SqliteEventRepository {
    async fn persist_at<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        self.append::<A>(events, snapshot_update).await
    }
}

impl PersistedEventRepository for SqliteEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events(A::TYPE, aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let row = sqlx::query(
            "SELECT last_sequence, current_snapshot, payload FROM snapshots \
             WHERE aggregate_type = ? AND aggregate_id = ?",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|error| read_failure("loading a snapshot", error))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let snapshot_column =
            |error| read_failure("reading a row of the SQLite snapshots table", error);
        let last_sequence: i64 = row.try_get("last_sequence").map_err(snapshot_column)?;
        let current_snapshot: i64 = row.try_get("current_snapshot").map_err(snapshot_column)?;
        let payload: String = row.try_get("payload").map_err(snapshot_column)?;
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_string(),
            aggregate: serde_json::from_str(&payload)?,
            current_sequence: usize::try_from(last_sequence).unwrap_or_default(),
            current_snapshot: usize::try_from(current_snapshot).unwrap_or_default(),
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.append::<A>(events, snapshot_update).await.map(|_| ())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }

    /// Every event of the aggregate type, in commit order (not by per-instance sequence).
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let (feed, stream) = ReplayStream::new(STREAM_PAGE as usize);
        tokio::spawn(stream_type(self.pool.clone(), A::TYPE, feed));
        Ok(stream)
    }
}

/// Feeds every event of one aggregate type, page by page, stopping at the first error
/// (which is fed too) or when the receiver is gone.
async fn stream_type(pool: SqlitePool, aggregate_type: &'static str, mut feed: ReplayFeed) {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE aggregate_type = ? AND global_position > ? \
         ORDER BY global_position LIMIT ?"
    );
    let mut after = 0_i64;
    loop {
        let page = sqlx::query(&sql)
            .bind(aggregate_type)
            .bind(after)
            .bind(STREAM_PAGE)
            .fetch_all(&pool)
            .await;
        let rows = match page {
            Ok(rows) => rows,
            Err(error) => {
                let _ = feed
                    .push(Err(read_failure("streaming all events of a type", error)))
                    .await;
                return;
            }
        };
        for row in &rows {
            let event = stored_event(row).map_err(to_persistence_error);
            let failed = event.is_err();
            if let Ok(stored) = &event {
                after = stored.position;
            }
            if feed.push(event.map(|stored| stored.event)).await.is_err() || failed {
                return;
            }
        }
        if (rows.len() as i64) < STREAM_PAGE {
            return;
        }
    }
}

fn event_row(event: &SerializedEvent) -> Result<EventRow, PersistenceError> {
    Ok(EventRow {
        aggregate_id: event.aggregate_id.clone(),
        sequence: to_i64(event.sequence)?,
        event_type: event.event_type.clone(),
        event_version: event.event_version.clone(),
        payload: event.payload.to_string(),
        metadata: event.metadata.to_string(),
    })
}

fn to_i64(value: usize) -> Result<i64, PersistenceError> {
    i64::try_from(value)
        .map_err(|_| PersistenceError::UnknownError(format!("{value} does not fit SQLite").into()))
}
