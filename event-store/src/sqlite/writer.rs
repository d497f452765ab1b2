//! The single writer of the SQLite event store, with group commit.
//!
//! SQLite has one write lock per file and a durable commit costs an fsync, so appends that
//! arrive together are written in one transaction: the writer takes every pending append
//! from its channel and inserts them all, then commits once. Each append is still checked on
//! its own: the UNIQUE (aggregate_type, aggregate_id, sequence) constraint rejects an append
//! whose expected sequence is stale, and that append alone fails (the others commit).
//!
//! Fast path: all appends of a batch in as few multi-row INSERTs as fit; a constraint
//! violation there rolls back and retries the batch one append at a time, each inside its
//! own savepoint, so the conflicting ones are found and skipped.

use cqrs_es::persist::PersistenceError;
use sqlx::sqlite::SqliteConnection;
use sqlx::Executor;
use tokio::sync::{mpsc, oneshot, watch};

/// Rows per INSERT statement: 7 parameters a row, well under SQLite's 32,766.
pub(crate) const MAX_ROWS_PER_STATEMENT: usize = 256;

/// Events per transaction: bounds the time one commit holds the write lock.
const MAX_EVENTS_PER_BATCH: usize = 4096;

/// Appends waiting for the writer; senders wait when it is full (back-pressure).
const QUEUE_CAPACITY: usize = 4096;

/// One event, already serialized by the caller (off the writer's critical path).
pub(crate) struct EventRow {
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

/// The aggregate's state after the append, saved in the same transaction.
pub(crate) struct SnapshotRow {
    pub aggregate_id: String,
    pub last_sequence: i64,
    pub current_snapshot: i64,
    pub payload: String,
}

/// The events of one aggregate instance that must commit together, or not at all.
pub(crate) struct Append {
    pub aggregate_type: &'static str,
    pub events: Vec<EventRow>,
    pub snapshot: Option<SnapshotRow>,
}

/// What the writer answers to one append.
pub(crate) type AppendResult = Result<i64, PersistenceError>;

struct Request {
    append: Append,
    reply: oneshot::Sender<AppendResult>,
}

/// Sends appends to the writer task.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    requests: mpsc::Sender<Request>,
}

impl WriterHandle {
    /// Appends, and returns the global position of the last event once committed.
    pub async fn append(&self, append: Append) -> AppendResult {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { append, reply })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> PersistenceError {
    PersistenceError::ConnectionError("the SQLite event writer has stopped".into())
}

/// Starts the writer on its own connection. `head` is the last position already in the
/// file; the returned receiver holds the last committed position from then on.
pub(crate) fn spawn(
    connection: SqliteConnection,
    head: i64,
) -> (WriterHandle, watch::Receiver<i64>) {
    let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
    let (committed, committed_receiver) = watch::channel(head);
    tokio::spawn(run(connection, queue, committed));
    (WriterHandle { requests }, committed_receiver)
}

/// Runs until every [`WriterHandle`] is dropped.
async fn run(
    mut connection: SqliteConnection,
    mut queue: mpsc::Receiver<Request>,
    committed: watch::Sender<i64>,
) {
    while let Some(first) = queue.recv().await {
        let batch = gather(first, &mut queue).await;
        let appends: Vec<&Append> = batch.iter().map(|request| &request.append).collect();
        tracing::trace!(appends = appends.len(), "group commit");
        let results = match write_batch(&mut connection, &appends).await {
            Ok(results) => results,
            Err(error) => {
                tracing::error!(%error, appends = batch.len(), "SQLite event append failed");
                let shared = error.to_string();
                (0..batch.len())
                    .map(|_| Err(database_error(&shared)))
                    .collect()
            }
        };
        if let Some(last) = results
            .iter()
            .filter_map(|result| result.as_ref().ok())
            .max()
        {
            committed.send_if_modified(|head| {
                let advanced = *last > *head;
                if advanced {
                    *head = *last;
                }
                advanced
            });
        }
        for (request, result) in batch.into_iter().zip(results) {
            // The caller may have given up waiting; its events are committed all the same.
            let _ = request.reply.send(result);
        }
    }
}

fn database_error(message: &str) -> PersistenceError {
    PersistenceError::ConnectionError(message.to_string().into())
}

/// Takes every append already waiting, then lets the tasks that were just woken by the
/// previous commit queue theirs too, up to the batch bound.
async fn gather(first: Request, queue: &mut mpsc::Receiver<Request>) -> Vec<Request> {
    let mut events = first.append.events.len();
    let mut batch = vec![first];
    for round in 0..2 {
        if round > 0 {
            tokio::task::yield_now().await;
        }
        while events < MAX_EVENTS_PER_BATCH {
            match queue.try_recv() {
                Ok(request) => {
                    events += request.append.events.len();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
    }
    batch
}

/// Writes a batch in one transaction; the outer error means nothing was committed.
async fn write_batch(
    connection: &mut SqliteConnection,
    appends: &[&Append],
) -> Result<Vec<AppendResult>, sqlx::Error> {
    let event_count: usize = appends.iter().map(|append| append.events.len()).sum();
    let has_snapshots = appends.iter().any(|append| append.snapshot.is_some());
    if event_count <= MAX_ROWS_PER_STATEMENT && !has_snapshots {
        // One statement outside BEGIN … COMMIT is a transaction of its own: all its rows
        // commit (one fsync) or none does, and it saves two round trips to SQLite's thread.
        match insert_together(connection, appends).await {
            Ok(positions) => return Ok(positions.into_iter().map(Ok).collect()),
            Err(error) if appends.len() == 1 && is_conflict(&error) => {
                return Ok(vec![Err(PersistenceError::OptimisticLockError)]);
            }
            Err(error) => note_batch_failure(&error),
        }
    } else if appends.len() > 1 {
        connection.execute("BEGIN IMMEDIATE").await?;
        match insert_together(connection, appends).await {
            Ok(positions) => {
                commit(connection).await?;
                return Ok(positions.into_iter().map(Ok).collect());
            }
            Err(error) => {
                rollback(connection).await;
                note_batch_failure(&error);
            }
        }
    }
    write_one_by_one(connection, appends).await
}

/// A conflict is expected (and resolved append by append); anything else is worth a line.
fn note_batch_failure(error: &sqlx::Error) {
    if !is_conflict(error) {
        tracing::warn!(%error, "batched SQLite append failed; retrying one by one");
    }
}

/// The common case: no append conflicts, so all go in a few statements.
async fn insert_together(
    connection: &mut SqliteConnection,
    appends: &[&Append],
) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(&'static str, &EventRow)> = appends
        .iter()
        .flat_map(|append| append.events.iter().map(|row| (append.aggregate_type, row)))
        .collect();
    let positions = insert_rows(connection, &rows).await?;
    for append in appends {
        save_snapshot(connection, append).await?;
    }
    let mut last_positions = Vec::with_capacity(appends.len());
    let mut end = 0;
    for append in appends {
        end += append.events.len();
        last_positions.push(last_position_before(&positions, end));
    }
    Ok(last_positions)
}

/// Isolates failing appends: each in a savepoint, rolled back alone on a conflict (or any
/// other error of its own), so the rest of the batch still commits.
async fn write_one_by_one(
    connection: &mut SqliteConnection,
    appends: &[&Append],
) -> Result<Vec<AppendResult>, sqlx::Error> {
    connection.execute("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(appends.len());
    for append in appends {
        match write_in_savepoint(connection, append).await {
            Ok(result) => results.push(result),
            Err(error) => {
                rollback(connection).await;
                return Err(error);
            }
        }
    }
    commit(connection).await?;
    Ok(results)
}

/// The outer error is a failure of the transaction itself (the savepoint could not be
/// taken or undone); the inner one is this append's own failure.
async fn write_in_savepoint(
    connection: &mut SqliteConnection,
    append: &Append,
) -> Result<AppendResult, sqlx::Error> {
    connection.execute("SAVEPOINT append").await?;
    let rows: Vec<(&'static str, &EventRow)> = append
        .events
        .iter()
        .map(|row| (append.aggregate_type, row))
        .collect();
    let written = match insert_rows(connection, &rows).await {
        Ok(positions) => save_snapshot(connection, append)
            .await
            .map(|()| last_position_before(&positions, positions.len())),
        Err(error) => Err(error),
    };
    match written {
        Ok(position) => {
            connection.execute("RELEASE append").await?;
            Ok(Ok(position))
        }
        Err(error) => {
            connection.execute("ROLLBACK TO append").await?;
            connection.execute("RELEASE append").await?;
            if is_conflict(&error) {
                Ok(Err(PersistenceError::OptimisticLockError))
            } else {
                tracing::error!(%error, "SQLite event append failed");
                Ok(Err(PersistenceError::UnknownError(Box::new(error))))
            }
        }
    }
}

/// Inserts the rows in order and returns each row's global position.
async fn insert_rows(
    connection: &mut SqliteConnection,
    rows: &[(&'static str, &EventRow)],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut positions = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
        let sql = insert_statement(chunk.len());
        let mut query = sqlx::query(&sql);
        for (aggregate_type, row) in chunk {
            query = query
                .bind(*aggregate_type)
                .bind(row.aggregate_id.as_str())
                .bind(row.sequence)
                .bind(row.event_type.as_str())
                .bind(row.event_version.as_str())
                .bind(row.payload.as_str())
                .bind(row.metadata.as_str());
        }
        let last = query.execute(&mut *connection).await?.last_insert_rowid();
        // A new rowid is one more than the largest in the table, and this connection holds
        // the write lock, so the rows of one statement get consecutive positions.
        let first = last - chunk.len() as i64 + 1;
        positions.extend(first..=last);
    }
    Ok(positions)
}

fn insert_statement(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO events \
         (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ",
    );
    for index in 0..rows {
        if index > 0 {
            sql.push(',');
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
    }
    sql
}

/// The position of row `end - 1`; 0 for an append without events.
fn last_position_before(positions: &[i64], end: usize) -> i64 {
    end.checked_sub(1)
        .and_then(|index| positions.get(index))
        .copied()
        .unwrap_or(0)
}

async fn save_snapshot(
    connection: &mut SqliteConnection,
    append: &Append,
) -> Result<(), sqlx::Error> {
    let Some(snapshot) = &append.snapshot else {
        return Ok(());
    };
    // Never replace a newer snapshot with an older one.
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload) \
         VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET \
           last_sequence = excluded.last_sequence, \
           current_snapshot = excluded.current_snapshot, \
           payload = excluded.payload \
         WHERE excluded.last_sequence > snapshots.last_sequence",
    )
    .bind(append.aggregate_type)
    .bind(snapshot.aggregate_id.as_str())
    .bind(snapshot.last_sequence)
    .bind(snapshot.current_snapshot)
    .bind(snapshot.payload.as_str())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn commit(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    if let Err(error) = connection.execute("COMMIT").await {
        rollback(connection).await;
        return Err(error);
    }
    Ok(())
}

async fn rollback(connection: &mut SqliteConnection) {
    if let Err(error) = connection.execute("ROLLBACK").await {
        tracing::warn!(%error, "rolling back an SQLite event append failed");
    }
}

/// A UNIQUE or PRIMARY KEY violation: an append whose expected sequence is taken.
fn is_conflict(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}
