//! The cqrs-es repository over the sqlite-es tables: loads on read-only connections in the
//! calling task, appends through the group-committing writer.

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayFeed, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::Aggregate;
use rusqlite::OptionalExtension;
use serde_json::Value;

use super::readers::Readers;
use super::rows::{database_failure, stored_event, to_persistence_error, EVENT_COLUMNS};
use super::writer::{Append, NewEvent, SnapshotRow, WriterHandle};
use crate::aggregate_store::PositionedRepository;
use crate::json::json_text;
use crate::{Position, StoreError};

/// Events per page when streaming a whole aggregate type.
const STREAM_PAGE: i64 = 1000;

/// The cqrs-es event repository of the SQLite backend. Cheap to clone.
#[derive(Clone)]
pub struct SqliteEventRepository {
    readers: Readers,
    writer: WriterHandle,
}

impl SqliteEventRepository {
    pub(crate) fn new(readers: Readers, writer: WriterHandle) -> Self {
        SqliteEventRepository { readers, writer }
    }

    /// Appends the events of one aggregate instance (and its snapshot) atomically and
    /// returns the global position of the last one (`None` when there were no events).
    /// A stale expected sequence fails with [`PersistenceError::OptimisticLockError`].
    pub async fn append<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        self.append_owned::<A>(events.to_vec(), snapshot_update)
            .await
    }

    /// [`SqliteEventRepository::append`] of events it may keep (for the tail of the log).
    pub async fn append_owned<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        let Some(last_sequence) = events.last().map(|last| last.sequence) else {
            return Ok(None);
        };
        let events = events
            .into_iter()
            .map(new_event)
            .collect::<Result<Vec<_>, _>>()?;
        let snapshot = snapshot_update
            .map(|(aggregate_id, payload, current_snapshot)| {
                Ok::<_, PersistenceError>(SnapshotRow {
                    aggregate_id,
                    last_sequence: to_i64(last_sequence)?,
                    current_snapshot: to_i64(current_snapshot)?,
                    payload: json_text(&payload),
                })
            })
            .transpose()?;
        let position = self
            .writer
            .append(Append {
                aggregate_type: A::TYPE,
                events,
                snapshot,
            })
            .await?;
        Ok(Some(Position::new(position as u64, 0)))
    }

    fn select_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        const CONTEXT: &str = "loading the events of an aggregate";
        let after_sequence = to_i64(after_sequence)?;
        self.readers
            .with(CONTEXT, |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events \
                         WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence > ?3 \
                         ORDER BY sequence"
                    ))
                    .map_err(database_failure(CONTEXT))?;
                let mut rows = statement
                    .query(rusqlite::params![
                        aggregate_type,
                        aggregate_id,
                        after_sequence
                    ])
                    .map_err(database_failure(CONTEXT))?;
                let mut events = Vec::new();
                while let Some(row) = rows.next().map_err(database_failure(CONTEXT))? {
                    events.push(stored_event(row)?.event);
                }
                Ok(events)
            })
            .map_err(to_persistence_error)
    }
}

impl PositionedRepository for SqliteEventRepository {
    async fn persist_at<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        self.append_owned::<A>(events, snapshot_update).await
    }

    async fn synced(&self) -> Result<(), PersistenceError> {
        self.writer
            .synced()
            .await
            .map_err(|error| PersistenceError::ConnectionError(Box::new(error)))
    }
}

impl PersistedEventRepository for SqliteEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events(A::TYPE, aggregate_id, 0)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select_events(A::TYPE, aggregate_id, last_sequence)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        const CONTEXT: &str = "loading a snapshot";
        let row: Option<(i64, i64, String)> = self
            .readers
            .with(CONTEXT, |connection| {
                connection
                    .prepare_cached(
                        "SELECT last_sequence, current_snapshot, payload FROM snapshots \
                         WHERE aggregate_type = ?1 AND aggregate_id = ?2",
                    )
                    .and_then(|mut statement| {
                        statement
                            .query_row(rusqlite::params![A::TYPE, aggregate_id], |row| {
                                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                            })
                            .optional()
                    })
                    .map_err(database_failure(CONTEXT))
            })
            .map_err(to_persistence_error)?;
        let Some((last_sequence, current_snapshot, payload)) = row else {
            return Ok(None);
        };
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
        tokio::spawn(stream_type(self.readers.clone(), A::TYPE, feed));
        Ok(stream)
    }
}

/// Feeds every event of one aggregate type, page by page, stopping at the first error
/// (which is fed too) or when the receiver is gone.
async fn stream_type(readers: Readers, aggregate_type: &'static str, mut feed: ReplayFeed) {
    let mut after = 0_i64;
    loop {
        let page = readers
            .with_blocking("streaming all events of a type", move |connection| {
                read_page_of_type(connection, aggregate_type, after)
            })
            .await;
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                let _ = feed.push(Err(to_persistence_error(error))).await;
                return;
            }
        };
        let full = page.len() as i64 >= STREAM_PAGE;
        for (position, event) in page {
            after = position;
            if feed.push(Ok(event)).await.is_err() {
                return;
            }
        }
        if !full {
            return;
        }
    }
}

/// The next page of events of `aggregate_type` after rowid `after`, with their rowids.
fn read_page_of_type(
    connection: &rusqlite::Connection,
    aggregate_type: &str,
    after: i64,
) -> Result<Vec<(i64, SerializedEvent)>, StoreError> {
    const CONTEXT: &str = "streaming all events of a type";
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE aggregate_type = ?1 AND global_position > ?2 \
             ORDER BY global_position LIMIT ?3"
        ))
        .map_err(database_failure(CONTEXT))?;
    let mut rows = statement
        .query(rusqlite::params![aggregate_type, after, STREAM_PAGE])
        .map_err(database_failure(CONTEXT))?;
    let mut page = Vec::new();
    while let Some(row) = rows.next().map_err(database_failure(CONTEXT))? {
        let stored = stored_event(row)?;
        page.push((stored.position, stored.event));
    }
    Ok(page)
}

fn new_event(event: SerializedEvent) -> Result<NewEvent, PersistenceError> {
    Ok(NewEvent {
        sequence: to_i64(event.sequence)?,
        payload: json_text(&event.payload),
        metadata: json_text(&event.metadata),
        event,
    })
}

fn to_i64(value: usize) -> Result<i64, PersistenceError> {
    i64::try_from(value)
        .map_err(|_| PersistenceError::UnknownError(format!("{value} does not fit SQLite").into()))
}
