//! Group commit: appends that arrive while the database is busy are written together, in
//! one statement (so one transaction and one WAL flush), by a few committer tasks.
//!
//! A commit costs a WAL flush, and the NOTIFY trigger makes the commits of concurrent
//! transactions take turns, so one transaction per append caps the write rate at about one
//! flush per append. Sharing the transaction removes that cap.
//!
//! Each append still succeeds or fails on its own: when the shared statement is refused
//! (typically one append's sequence already exists), nothing of it was stored, and each
//! append of the batch is written again alone, so only the conflicting ones fail.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::postgres::PgPool;
use sqlx::{PgExecutor, Row};
use tokio::sync::{mpsc, oneshot};

use super::batching::Batches;
use super::rows::{persistence_error, sequence_column, shared_persistence_error};
use crate::json::json_text;
use crate::Position;

/// Committer tasks: one commits while the next gathers the following batch.
const COMMITTERS: usize = 2;
/// Appends waiting for a committer before `append` itself waits (back-pressure).
const QUEUE_CAPACITY: usize = 4096;
/// Events per shared statement, at most (a single larger append is written alone).
const MAX_BATCH_EVENTS: usize = 2000;

/// Inserts rows given as parallel arrays, in array order (so `global_position` follows the
/// order of each append's events). The three log columns come from their defaults.
const INSERT_ROWS: &str = "
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload::json, metadata::json
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS appended(aggregate_id, sequence, event_type, event_version, payload, metadata, aggregate_type)
RETURNING aggregate_type, aggregate_id, sequence, global_position, transaction_id::text AS log_transaction";

/// Where the rows of one insert landed in the global log, by (type, id, sequence).
pub(crate) struct Inserted {
    transaction: u64,
    positions: HashMap<(String, String, i64), i64>,
}

impl Inserted {
    fn read(rows: Vec<sqlx::postgres::PgRow>) -> Result<Inserted, sqlx::Error> {
        let mut transaction = 0;
        let mut positions = HashMap::with_capacity(rows.len());
        for row in rows {
            let text: String = row.try_get("log_transaction")?;
            transaction = text.parse().map_err(|error| sqlx::Error::ColumnDecode {
                index: "transaction_id".to_string(),
                source: Box::new(error),
            })?;
            positions.insert(
                (
                    row.try_get("aggregate_type")?,
                    row.try_get("aggregate_id")?,
                    row.try_get("sequence")?,
                ),
                row.try_get("global_position")?,
            );
        }
        Ok(Inserted {
            transaction,
            positions,
        })
    }

    /// The log position of the last row of `rows` (all rows of one insert share its
    /// transaction id); `None` when `rows` is empty or was not part of this insert.
    pub(crate) fn last_of(&self, rows: &EventRows) -> Option<Position> {
        let last = rows.len().checked_sub(1)?;
        let key = (
            rows.aggregate_types[last].clone(),
            rows.aggregate_ids[last].clone(),
            rows.sequences[last],
        );
        let global_position = *self.positions.get(&key)?;
        Some(Position::new(
            self.transaction,
            u64::try_from(global_position).ok()?,
        ))
    }
}

/// The rows of one or more appends, column by column, ready to bind.
#[derive(Default)]
pub(crate) struct EventRows {
    aggregate_ids: Vec<String>,
    sequences: Vec<i64>,
    event_types: Vec<String>,
    event_versions: Vec<String>,
    payloads: Vec<String>,
    metadata: Vec<String>,
    aggregate_types: Vec<String>,
}

impl EventRows {
    /// The rows of `events` of aggregate type `aggregate_type`, JSON already rendered (in the
    /// caller's task, so committers only talk to the database).
    pub(crate) fn of(
        aggregate_type: &str,
        events: &[SerializedEvent],
    ) -> Result<EventRows, PersistenceError> {
        let mut rows = EventRows::default();
        for event in events {
            rows.aggregate_ids.push(event.aggregate_id.clone());
            rows.sequences.push(sequence_column(event.sequence)?);
            rows.event_types.push(event.event_type.clone());
            rows.event_versions.push(event.event_version.clone());
            rows.payloads.push(json_text(&event.payload));
            rows.metadata.push(json_text(&event.metadata));
            rows.aggregate_types.push(aggregate_type.to_string());
        }
        Ok(rows)
    }

    fn len(&self) -> usize {
        self.sequences.len()
    }

    fn extend(&mut self, other: &EventRows) {
        self.aggregate_ids.extend_from_slice(&other.aggregate_ids);
        self.sequences.extend_from_slice(&other.sequences);
        self.event_types.extend_from_slice(&other.event_types);
        self.event_versions.extend_from_slice(&other.event_versions);
        self.payloads.extend_from_slice(&other.payloads);
        self.metadata.extend_from_slice(&other.metadata);
        self.aggregate_types
            .extend_from_slice(&other.aggregate_types);
    }

    /// Inserts every row in one statement: all of them or, on error, none.
    pub(crate) async fn insert(
        &self,
        executor: impl PgExecutor<'_>,
    ) -> Result<Inserted, sqlx::Error> {
        let rows = sqlx::query(INSERT_ROWS)
            .bind(&self.aggregate_ids)
            .bind(&self.sequences)
            .bind(&self.event_types)
            .bind(&self.event_versions)
            .bind(&self.payloads)
            .bind(&self.metadata)
            .bind(&self.aggregate_types)
            .fetch_all(executor)
            .await?;
        Inserted::read(rows)
    }

    /// Inserts the rows alone and answers where the last one landed.
    async fn insert_alone(&self, pool: &PgPool) -> AppendOutcome {
        let inserted = self.insert(pool).await.map_err(persistence_error)?;
        Ok(inserted.last_of(self))
    }
}

/// The log position of an append's last event, once committed.
type AppendOutcome = Result<Option<Position>, PersistenceError>;

/// One append waiting for its commit.
struct Append {
    rows: EventRows,
    committed: oneshot::Sender<AppendOutcome>,
}

/// The queue in front of the committer tasks; the tasks end when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Append>,
}

impl GroupCommit {
    /// Starts the committer tasks on the current tokio runtime.
    pub(crate) fn start(pool: PgPool) -> GroupCommit {
        let (queue, pending) = mpsc::channel(QUEUE_CAPACITY);
        let batches = Arc::new(Batches::new(pending, MAX_BATCH_EVENTS));
        for _ in 0..COMMITTERS {
            tokio::spawn(run_committer(pool.clone(), batches.clone()));
        }
        GroupCommit { queue }
    }

    /// Stores `rows` atomically, possibly in the same transaction as concurrent appends,
    /// and answers the log position of the last row.
    pub(crate) async fn append(&self, rows: EventRows) -> AppendOutcome {
        let (committed, outcome) = oneshot::channel();
        self.queue
            .send(Append { rows, committed })
            .await
            .map_err(|_| writer_stopped())?;
        outcome.await.map_err(|_| writer_stopped())?
    }
}

fn writer_stopped() -> PersistenceError {
    PersistenceError::ConnectionError("the PostgreSQL event writer has stopped".into())
}

async fn run_committer(pool: PgPool, batches: Arc<Batches<Append>>) {
    while let Some(batch) = batches.next(|append| append.rows.len()).await {
        batches.execute(commit(&pool, batch)).await;
    }
}

async fn commit(pool: &PgPool, mut batch: Vec<Append>) {
    if batch.len() == 1 {
        let only = batch.remove(0);
        let outcome = only.rows.insert_alone(pool).await;
        // The appender may have given up waiting; the outcome is then nobody's business.
        let _ = only.committed.send(outcome);
        return;
    }
    let mut rows = EventRows::default();
    for append in &batch {
        rows.extend(&append.rows);
    }
    match rows.insert(pool).await {
        Ok(inserted) => {
            for append in batch {
                let position = inserted.last_of(&append.rows);
                let _ = append.committed.send(Ok(position));
            }
        }
        // The server refused the statement, so none of it was stored: let each append
        // succeed or fail on its own.
        Err(sqlx::Error::Database(_)) => {
            for append in batch {
                let outcome = append.rows.insert_alone(pool).await;
                let _ = append.committed.send(outcome);
            }
        }
        // Lost connection and the like: whether the commit happened is unknown, and writing
        // again would report a conflict for appends that were in fact stored.
        Err(error) => {
            for append in batch {
                let _ = append.committed.send(Err(shared_persistence_error(&error)));
            }
        }
    }
}
