//! The cqrs-es repository: aggregate loads, snapshots and appends (through group commit).

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;

use super::group_commit::{EventRows, GroupCommit};
use super::group_read::GroupRead;
use super::rows::{persistence_error, sequence_column, serialized_event, EVENT_COLUMNS};
use crate::aggregate_store::PositionedRepository;
use crate::json::json_text;
use crate::Position;

/// Events buffered ahead of a consumer of [`PersistedEventRepository::stream_all_events`].
const REPLAY_CHANNEL_SIZE: usize = 500;

/// A cqrs-es [`PersistedEventRepository`] on the tables of migrations/postgres.
///
/// Same tables and the same optimistic locking as postgres-es's `PostgresEventRepository`
/// (a second writer of an aggregate's sequence gets
/// [`PersistenceError::OptimisticLockError`]), but appends without a snapshot go through
/// group commit: concurrent appends share one transaction, and each still succeeds or
/// fails on its own; likewise concurrent loads share one statement.
///
/// Events are returned as stored; the aggregate store applies the upcasters, as it does
/// for every repository. Cheap to clone.
#[derive(Clone)]
pub struct PostgresRepository {
    pool: PgPool,
    writer: GroupCommit,
    reader: GroupRead,
}

impl PostgresRepository {
    /// Starts the group-commit writers and group readers on the current tokio runtime.
    pub(crate) fn new(pool: PgPool) -> PostgresRepository {
        PostgresRepository {
            writer: GroupCommit::start(pool.clone()),
            reader: GroupRead::start(pool.clone()),
            pool,
        }
    }

    /// Appends the events of one aggregate instance (and its snapshot) atomically and
    /// returns the global position of the last one (`None` when there were no events).
    /// A stale expected sequence fails with [`PersistenceError::OptimisticLockError`].
    pub async fn append<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        match snapshot_update {
            Some((aggregate_id, snapshot, current_snapshot)) => {
                self.persist_with_snapshot(
                    A::TYPE,
                    events,
                    &aggregate_id,
                    &snapshot,
                    current_snapshot,
                )
                .await
            }
            None if events.is_empty() => Ok(None),
            None => self.writer.append(EventRows::of(A::TYPE, events)?).await,
        }
    }

    /// Events and the snapshot they lead to, in one transaction of their own.
    async fn persist_with_snapshot(
        &self,
        aggregate_type: &str,
        events: &[SerializedEvent],
        aggregate_id: &str,
        snapshot: &Value,
        current_snapshot: usize,
    ) -> Result<Option<Position>, PersistenceError> {
        // The snapshot covers every event of this commit (see the aggregate store).
        let Some(last_event) = events.last() else {
            return Err(PersistenceError::UnknownError(
                "a snapshot must be persisted with the events it covers".into(),
            ));
        };
        let rows = EventRows::of(aggregate_type, events)?;
        let mut transaction = self.pool.begin().await.map_err(persistence_error)?;
        let inserted = rows
            .insert(&mut *transaction)
            .await
            .map_err(persistence_error)?;
        sqlx::query(
            "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
             VALUES ($1, $2, $3, $4, $5::json)
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                SET last_sequence = excluded.last_sequence,
                    current_snapshot = excluded.current_snapshot,
                    payload = excluded.payload
              WHERE snapshots.last_sequence < excluded.last_sequence",
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(sequence_column(last_event.sequence)?)
        .bind(sequence_column(current_snapshot)?)
        .bind(json_text(snapshot))
        .execute(&mut *transaction)
        .await
        .map_err(persistence_error)?;
        transaction.commit().await.map_err(persistence_error)?;
        Ok(inserted.last_of(&rows))
    }
}

impl PositionedRepository for PostgresRepository {
    async fn persist_at<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        self.append::<A>(&events, snapshot_update).await
    }
}

impl PersistedEventRepository for PostgresRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reader.load(A::TYPE, aggregate_id, -1).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reader
            .load(A::TYPE, aggregate_id, sequence_column(last_sequence)?)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let row = sqlx::query(
            "SELECT aggregate_id, last_sequence, current_snapshot, payload FROM snapshots
              WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(persistence_error)?;
        row.map(|row| serialized_snapshot(&row).map_err(persistence_error))
            .transpose()
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.append::<A>(events, snapshot_update).await.map(drop)
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

    /// Every event of aggregate type `A`, in the order of the global log, read in one
    /// statement (one snapshot of the table); a database error ends the stream with it.
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let pool = self.pool.clone();
        let (mut feed, stream) = ReplayStream::new(REPLAY_CHANNEL_SIZE);
        tokio::spawn(async move {
            let select = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE aggregate_type = $1
                  ORDER BY transaction_id, global_position"
            );
            let mut rows = sqlx::query(&select).bind(A::TYPE).fetch(&pool);
            loop {
                let next = match rows.try_next().await {
                    Ok(Some(row)) => serialized_event(&row).map_err(persistence_error),
                    Ok(None) => return,
                    Err(error) => Err(persistence_error(error)),
                };
                let failed = next.is_err();
                // A closed feed means the consumer stopped listening.
                if feed.push(next).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(stream)
    }
}

fn serialized_snapshot(row: &PgRow) -> Result<SerializedSnapshot, sqlx::Error> {
    let count = |column: &str| -> Result<usize, sqlx::Error> {
        let value: i64 = row.try_get(column)?;
        usize::try_from(value).map_err(|error| sqlx::Error::ColumnDecode {
            index: column.to_string(),
            source: Box::new(error),
        })
    };
    Ok(SerializedSnapshot {
        aggregate_id: row.try_get("aggregate_id")?,
        aggregate: row.try_get("payload")?,
        current_sequence: count("last_sequence")?,
        current_snapshot: count("current_snapshot")?,
    })
}
