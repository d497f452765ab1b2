//! Group reads: aggregate loads that arrive while the database is busy are answered
//! together, by one statement that looks each aggregate up on the primary key.

use std::sync::Arc;

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::postgres::PgPool;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::batching::Batches;
use super::rows::{persistence_error, serialized_event, shared_persistence_error, EVENT_COLUMNS};

/// Reader tasks: one reads while the next gathers the following batch.
const READERS: usize = 2;
/// Loads waiting for a reader before `load` itself waits (back-pressure).
const QUEUE_CAPACITY: usize = 4096;
/// Loads per shared statement, at most.
const MAX_BATCH_LOADS: usize = 256;

/// One load waiting for its events.
struct Load {
    aggregate_type: String,
    aggregate_id: String,
    after_sequence: i64,
    loaded: oneshot::Sender<Result<Vec<SerializedEvent>, PersistenceError>>,
}

/// The queue in front of the reader tasks; the tasks end when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct GroupRead {
    queue: mpsc::Sender<Load>,
}

impl GroupRead {
    /// Starts the reader tasks on the current tokio runtime.
    pub(crate) fn start(pool: PgPool) -> GroupRead {
        let (queue, pending) = mpsc::channel(QUEUE_CAPACITY);
        let batches = Arc::new(Batches::new(pending, MAX_BATCH_LOADS));
        for _ in 0..READERS {
            tokio::spawn(run_reader(pool.clone(), batches.clone()));
        }
        GroupRead { queue }
    }

    /// The events of one aggregate after `after_sequence`, in sequence order.
    pub(crate) async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let (loaded, events) = oneshot::channel();
        let load = Load {
            aggregate_type: aggregate_type.to_string(),
            aggregate_id: aggregate_id.to_string(),
            after_sequence,
            loaded,
        };
        self.queue.send(load).await.map_err(|_| reader_stopped())?;
        events.await.map_err(|_| reader_stopped())?
    }
}

fn reader_stopped() -> PersistenceError {
    PersistenceError::ConnectionError("the PostgreSQL event reader has stopped".into())
}

async fn run_reader(pool: PgPool, batches: Arc<Batches<Load>>) {
    while let Some(batch) = batches.next(|_| 1).await {
        batches.execute(read(&pool, batch)).await;
    }
}

/// Answers every load of the batch from one statement. The LATERAL subquery makes each
/// load a primary-key range scan, however many loads the planner expects.
async fn read(pool: &PgPool, batch: Vec<Load>) {
    let select = format!(
        "SELECT wanted.load, found.*
           FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY
                  AS wanted(aggregate_type, aggregate_id, after_sequence, load),
                LATERAL (SELECT {EVENT_COLUMNS} FROM events
                          WHERE aggregate_type = wanted.aggregate_type
                            AND aggregate_id = wanted.aggregate_id
                            AND sequence > wanted.after_sequence
                          ORDER BY sequence) AS found
          ORDER BY wanted.load, found.sequence"
    );
    let types: Vec<&str> = batch.iter().map(|l| l.aggregate_type.as_str()).collect();
    let ids: Vec<&str> = batch.iter().map(|l| l.aggregate_id.as_str()).collect();
    let afters: Vec<i64> = batch.iter().map(|l| l.after_sequence).collect();
    let rows = sqlx::query(&select)
        .bind(&types)
        .bind(&ids)
        .bind(&afters)
        .fetch_all(pool)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => {
            for load in batch {
                let _ = load.loaded.send(Err(shared_persistence_error(&error)));
            }
            return;
        }
    };
    let mut found: Vec<Result<Vec<SerializedEvent>, PersistenceError>> =
        batch.iter().map(|_| Ok(Vec::new())).collect();
    for row in &rows {
        // WITH ORDINALITY counts from 1.
        let index = row
            .try_get::<i64, _>("load")
            .ok()
            .and_then(|load| usize::try_from(load - 1).ok());
        let Some(Ok(events)) = index.and_then(|index| found.get_mut(index)) else {
            continue;
        };
        match serialized_event(row) {
            Ok(event) => events.push(event),
            Err(error) => {
                if let Some(slot) = index.and_then(|index| found.get_mut(index)) {
                    *slot = Err(persistence_error(error));
                }
            }
        }
    }
    for (load, events) in batch.into_iter().zip(found) {
        // The loader may have given up waiting; the outcome is then nobody's business.
        let _ = load.loaded.send(events);
    }
}
