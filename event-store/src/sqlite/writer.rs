//! The single writer of the SQLite file, with group commit.
//!
//! SQLite has one write lock per file and a durable commit costs an fsync, so everything
//! this process writes to the file goes through one thread that owns the only read-write
//! connection: it takes every job waiting in its queue, runs them all in one transaction
//! and commits once. Jobs are event appends and [`SqlStatement`] groups (the saga's tables,
//! checkpoints). Each job succeeds or fails on its own: an append whose expected sequence
//! is stale hits the UNIQUE (aggregate_type, aggregate_id, sequence) constraint and is
//! undone alone (a savepoint), the rest of the batch commits.
//!
//! Running on a thread of its own with cached prepared statements, a batch costs no
//! hand-offs between threads but the one into the queue and the answers back.
//!
//! After a commit, the appended events go into the [`TailCache`] before the new head is
//! announced, so the consumers it wakes find them in memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use rusqlite::{Connection, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch};

use super::rows::parse_recorded_at;
use super::statement::SqlStatement;
use super::tail::TailCache;
use crate::{upcast, Position, RecordedEvent, StoreError, Upcasters};

/// Events per transaction: bounds the time one commit holds the write lock.
const MAX_EVENTS_PER_BATCH: usize = 4096;

/// Jobs waiting for the writer; senders wait when it is full (back-pressure).
const QUEUE_CAPACITY: usize = 4096;

const INSERT_EVENT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, \
     event_type, event_version, payload, metadata, recorded_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

// Never replace a newer snapshot with an older one.
const UPSERT_SNAPSHOT: &str = "INSERT INTO snapshots \
     (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload) \
     VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET \
       last_sequence = excluded.last_sequence, \
       current_snapshot = excluded.current_snapshot, \
       payload = excluded.payload \
     WHERE excluded.last_sequence > snapshots.last_sequence";

/// One event to append: as the aggregate produced it, and its JSON as stored.
pub(crate) struct NewEvent {
    pub event: SerializedEvent,
    pub sequence: i64,
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
    pub events: Vec<NewEvent>,
    pub snapshot: Option<SnapshotRow>,
}

/// What the writer answers to one append: the global position of its last event.
pub(crate) type AppendResult = Result<i64, PersistenceError>;

enum Job {
    Append {
        append: Append,
        reply: oneshot::Sender<AppendResult>,
    },
    Statements {
        context: String,
        statements: Vec<SqlStatement>,
        chain: Option<WriteChain>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// Writes that commit in the order they were queued, and none after one that failed: what
/// a consumer queues without waiting for each commit (its learning, its checkpoints) can
/// then never commit a later checkpoint over an earlier write that was lost. Once broken,
/// a chain stays broken; the consumer starts a new one from what did commit.
#[derive(Clone, Debug, Default)]
pub struct WriteChain {
    broken: Arc<AtomicBool>,
}

impl WriteChain {
    pub fn new() -> Self {
        WriteChain::default()
    }

    /// Whether a write of the chain failed (every later one then fails unrun).
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    fn break_off(&self) {
        self.broken.store(true, Ordering::Release);
    }
}

/// A write in the writer's queue: [`QueuedWrite::committed`] answers once it is durable,
/// or why it is not.
#[derive(Debug)]
pub struct QueuedWrite {
    context: String,
    answer: oneshot::Receiver<Result<(), StoreError>>,
}

impl QueuedWrite {
    pub async fn committed(self) -> Result<(), StoreError> {
        self.answer
            .await
            .map_err(|_| writer_stopped(&self.context))?
    }

    /// The answer if the writer has given it, without waiting.
    pub fn try_committed(&mut self) -> Option<Result<(), StoreError>> {
        match self.answer.try_recv() {
            Ok(answer) => Some(answer),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(writer_stopped(&self.context))),
        }
    }
}

fn writer_stopped(context: &str) -> StoreError {
    StoreError::Database {
        context: context.to_string(),
        source: "the SQLite writer has stopped".into(),
    }
}

impl Job {
    fn events(&self) -> usize {
        match self {
            Job::Append { append, .. } => append.events.len(),
            Job::Statements { statements, .. } => statements.len(),
        }
    }
}

/// Sends jobs to the writer thread.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    jobs: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Appends, and returns the global position of the last event once committed.
    pub async fn append(&self, append: Append) -> AppendResult {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append { append, reply })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs `statements` in order, all or none, and returns once they are committed.
    /// `context` says what they do, for the error.
    pub async fn write(
        &self,
        context: String,
        statements: Vec<SqlStatement>,
    ) -> Result<(), StoreError> {
        if statements.is_empty() {
            return Ok(());
        }
        self.queue(context, statements, None)
            .await?
            .committed()
            .await
    }

    /// Queues `statements` (in order, all or none) for the next group commit, after every
    /// job queued before; `chain` makes them fail unrun if an earlier write of the chain
    /// failed. Waits only for room in the queue.
    pub async fn queue(
        &self,
        context: String,
        statements: Vec<SqlStatement>,
        chain: Option<WriteChain>,
    ) -> Result<QueuedWrite, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Statements {
            context: context.clone(),
            statements,
            chain,
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            return Err(writer_stopped(&context));
        }
        Ok(QueuedWrite { context, answer })
    }
}

fn writer_gone() -> PersistenceError {
    PersistenceError::ConnectionError("the SQLite event writer has stopped".into())
}

/// What the writer publishes after each commit.
pub(crate) struct Published {
    /// The last committed position; changes wake waiting consumers.
    pub committed: watch::Sender<i64>,
    /// Committed events, for readers at the head.
    pub tail: Arc<TailCache>,
    /// Applied to the events put in the tail, as every reader of the log sees them.
    pub upcasters: Upcasters,
}

/// Starts the writer on its own thread, owning `connection`. It runs until every
/// [`WriterHandle`] is dropped.
pub(crate) fn spawn(
    connection: Connection,
    published: Published,
) -> Result<WriterHandle, StoreError> {
    let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
    std::thread::Builder::new()
        .name("alpes-sqlite-writer".to_string())
        .spawn(move || run(&connection, queue, &published))
        .map_err(|error| StoreError::Database {
            context: "starting the SQLite writer".to_string(),
            source: Box::new(error),
        })?;
    Ok(WriterHandle { jobs })
}

fn run(connection: &Connection, mut queue: mpsc::Receiver<Job>, published: &Published) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = gather(first, &mut queue);
        let started = std::time::Instant::now();
        let recorded_at = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let outcomes = write_batch(connection, &batch, &recorded_at);
        tracing::debug!(
            jobs = batch.len(),
            events = batch.iter().map(Job::events).sum::<usize>(),
            commit_ms = started.elapsed().as_secs_f64() * 1_000.0,
            "group commit"
        );
        if let Ok(outcomes) = &outcomes {
            publish(&mut batch, outcomes, &recorded_at, published);
        }
        let outcomes = outcomes.map_err(|error| {
            tracing::error!(%error, jobs = batch.len(), "SQLite commit failed");
            error.to_string()
        });
        reply(batch, outcomes);
    }
}

/// Takes every job already waiting, up to the batch bound.
fn gather(first: Job, queue: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut events = first.events();
    let mut batch = vec![first];
    while events < MAX_EVENTS_PER_BATCH {
        match queue.try_recv() {
            Ok(job) => {
                events += job.events();
                batch.push(job);
            }
            Err(_) => break,
        }
    }
    batch
}

/// How one job of a committed batch went.
enum Outcome {
    /// An append: the positions of its events.
    Appended(Vec<i64>),
    /// Statements that ran.
    Written,
    /// Undone alone; the rest of the batch committed.
    Failed(rusqlite::Error),
    /// Not run: an earlier write of its chain failed.
    ChainBroken,
}

/// Runs every job in one transaction; the outer error means nothing was committed.
fn write_batch(
    connection: &Connection,
    batch: &[Job],
    recorded_at: &str,
) -> Result<Vec<Outcome>, rusqlite::Error> {
    run_control(connection, "BEGIN IMMEDIATE")?;
    let outcomes = batch
        .iter()
        .map(|job| run_job(connection, job, recorded_at))
        .collect::<Result<Vec<_>, _>>();
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(error) => {
            rollback(connection);
            return Err(error);
        }
    };
    if let Err(error) = run_control(connection, "COMMIT") {
        rollback(connection);
        return Err(error);
    }
    Ok(outcomes)
}

/// Runs one job; the outer error is a failure of the transaction itself.
fn run_job(
    connection: &Connection,
    job: &Job,
    recorded_at: &str,
) -> Result<Outcome, rusqlite::Error> {
    match job {
        // One statement is atomic on its own: a failing INSERT leaves nothing behind.
        Job::Append { append, .. } if append.events.len() == 1 && append.snapshot.is_none() => {
            Ok(match insert_events(connection, append, recorded_at) {
                Ok(positions) => Outcome::Appended(positions),
                Err(error) => Outcome::Failed(error),
            })
        }
        Job::Append { append, .. } => in_savepoint(connection, || {
            let positions = insert_events(connection, append, recorded_at)?;
            save_snapshot(connection, append)?;
            Ok(Outcome::Appended(positions))
        }),
        Job::Statements { chain, .. } if chain.as_ref().is_some_and(WriteChain::is_broken) => {
            Ok(Outcome::ChainBroken)
        }
        Job::Statements {
            statements, chain, ..
        } => {
            let outcome = if let [statement] = statements.as_slice() {
                match statement.run(connection) {
                    Ok(_) => Outcome::Written,
                    Err(error) => Outcome::Failed(error),
                }
            } else {
                in_savepoint(connection, || {
                    for statement in statements {
                        statement.run(connection)?;
                    }
                    Ok(Outcome::Written)
                })?
            };
            if let (Outcome::Failed(_), Some(chain)) = (&outcome, chain) {
                chain.break_off();
            }
            Ok(outcome)
        }
    }
}

/// Runs `work` in a savepoint, undone alone when it fails.
fn in_savepoint(
    connection: &Connection,
    work: impl FnOnce() -> Result<Outcome, rusqlite::Error>,
) -> Result<Outcome, rusqlite::Error> {
    run_control(connection, "SAVEPOINT job")?;
    match work() {
        Ok(outcome) => {
            run_control(connection, "RELEASE job")?;
            Ok(outcome)
        }
        Err(error) => {
            run_control(connection, "ROLLBACK TO job")?;
            run_control(connection, "RELEASE job")?;
            Ok(Outcome::Failed(error))
        }
    }
}

/// A transaction control statement, prepared once (`execute_batch` would parse it again on
/// every batch).
fn run_control(connection: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    connection.prepare_cached(sql)?.raw_execute().map(drop)
}

fn insert_events(
    connection: &Connection,
    append: &Append,
    recorded_at: &str,
) -> Result<Vec<i64>, rusqlite::Error> {
    let mut statement = connection.prepare_cached(INSERT_EVENT)?;
    let mut positions = Vec::with_capacity(append.events.len());
    for new in &append.events {
        statement.execute(rusqlite::params![
            append.aggregate_type,
            new.event.aggregate_id,
            new.sequence,
            new.event.event_type,
            new.event.event_version,
            new.payload,
            new.metadata,
            recorded_at,
        ])?;
        positions.push(connection.last_insert_rowid());
    }
    Ok(positions)
}

fn save_snapshot(connection: &Connection, append: &Append) -> Result<(), rusqlite::Error> {
    let Some(snapshot) = &append.snapshot else {
        return Ok(());
    };
    connection
        .prepare_cached(UPSERT_SNAPSHOT)?
        .execute(rusqlite::params![
            append.aggregate_type,
            snapshot.aggregate_id,
            snapshot.last_sequence,
            snapshot.current_snapshot,
            snapshot.payload,
        ])?;
    Ok(())
}

fn rollback(connection: &Connection) {
    if let Err(error) = run_control(connection, "ROLLBACK") {
        tracing::warn!(%error, "rolling back an SQLite batch failed");
    }
}

/// Moves the committed events into the tail cache (the jobs keep only their replies),
/// then announces the new head.
fn publish(batch: &mut [Job], outcomes: &[Outcome], recorded_at: &str, published: &Published) {
    let committed: Vec<(NewEvent, i64)> = batch
        .iter_mut()
        .zip(outcomes)
        .filter_map(|(job, outcome)| match (job, outcome) {
            (Job::Append { append, .. }, Outcome::Appended(positions)) => Some(
                std::mem::take(&mut append.events)
                    .into_iter()
                    .zip(positions.iter().copied()),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    let Some(last) = committed.iter().map(|(_, position)| *position).max() else {
        return;
    };
    // Without a readable time the events are not cached: readers find them in the table.
    if let Ok(recorded_at) = parse_recorded_at(recorded_at) {
        let events = committed
            .into_iter()
            .map(|(new, position)| RecordedEvent {
                position: Position::new(position as u64, 0),
                recorded_at,
                stored_version: new.event.event_version.clone(),
                event: Arc::new(upcast(new.event, &published.upcasters)),
            })
            .collect();
        published.tail.push(events);
    }
    published.committed.send_if_modified(|head| {
        let advanced = last > *head;
        if advanced {
            *head = last;
        }
        advanced
    });
}

/// Answers every job of the batch (the outcomes are in the same order), or with the error
/// that stopped the whole batch.
fn reply(batch: Vec<Job>, outcomes: Result<Vec<Outcome>, String>) {
    // Defined as a Result of all outcomes so a failed batch answers every job alike.
    let outcomes: Vec<Result<Outcome, String>> = match outcomes {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(shared) => batch.iter().map(|_| Err(shared.clone())).collect(),
    };
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        // A caller may have given up waiting; what committed stays committed all the same.
        match job {
            Job::Append { reply, .. } => {
                let _ = reply.send(append_result(outcome));
            }
            Job::Statements {
                context,
                chain,
                reply,
                ..
            } => {
                let written = write_result(&context, outcome);
                if let (Err(_), Some(chain)) = (&written, chain) {
                    // The whole batch was undone: later writes of the chain must not run.
                    chain.break_off();
                }
                let _ = reply.send(written);
            }
        }
    }
}

fn append_result(outcome: Result<Outcome, String>) -> AppendResult {
    match outcome {
        Ok(Outcome::Appended(positions)) => Ok(positions.last().copied().unwrap_or(0)),
        Ok(Outcome::Written) => Ok(0),
        Ok(Outcome::ChainBroken) => Err(PersistenceError::ConnectionError(
            "an append is never part of a write chain".into(),
        )),
        Ok(Outcome::Failed(error)) if is_conflict(&error) => {
            Err(PersistenceError::OptimisticLockError)
        }
        Ok(Outcome::Failed(error)) => {
            tracing::error!(%error, "SQLite event append failed");
            Err(PersistenceError::UnknownError(Box::new(error)))
        }
        Err(shared) => Err(PersistenceError::ConnectionError(shared.into())),
    }
}

fn write_result(context: &str, outcome: Result<Outcome, String>) -> Result<(), StoreError> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Database {
        context: context.to_string(),
        source,
    };
    match outcome {
        Ok(Outcome::Written | Outcome::Appended(_)) => Ok(()),
        Ok(Outcome::Failed(error)) => Err(failed(Box::new(error))),
        Ok(Outcome::ChainBroken) => Err(failed(
            "not run: an earlier write queued by the same consumer failed".into(),
        )),
        Err(shared) => Err(failed(shared.into())),
    }
}

/// A UNIQUE or PRIMARY KEY violation: an append whose expected sequence is taken.
fn is_conflict(error: &rusqlite::Error) -> bool {
    const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && matches!(failure.extended_code, SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE)
    )
}
