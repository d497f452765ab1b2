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
//! The writer commits with `synchronous=NORMAL` and hands each committed group to a second
//! thread, the syncer, which syncs the WAL (one sync for every group committed meanwhile;
//! see [`super::wal_sync`]) and only then answers the group's jobs and publishes its
//! events: an answer means the commit survives a power cut, as with `synchronous=FULL`,
//! but the writer does not wait for the disk between commits. Published events go into the
//! [`TailCache`] before the new head is announced, so the consumers it wakes find them in
//! memory.
//!
//! SQLite shows a commit to other connections before it is synced. Nothing this process
//! answers depends on that: the log hands out events only up to the synced head (see
//! `log.rs`), a command that appends nothing waits for the sync of what it read
//! ([`WriterHandle::synced`]), and whatever is decided on unsynced rows and written lies
//! after them in the WAL, so it is durable only if they are.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use rusqlite::{Connection, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch};

use super::rows::parse_recorded_at;
use super::statement::SqlStatement;
use super::tail::TailCache;
use super::wal_sync::WalSync;
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
    durability: Arc<Durability>,
}

/// How far the writer's commits are durable.
struct Durability {
    /// Groups the writer began to commit (each may be visible to readers once begun).
    begun: AtomicU64,
    /// The position of the last event the writer committed, synced or not.
    written: Arc<AtomicI64>,
    /// Groups the syncer answered, and why it stopped if a sync failed.
    synced: watch::Sender<Synced>,
}

#[derive(Clone, Debug, Default)]
struct Synced {
    groups: u64,
    /// Once a sync failed, nothing committed after it can be trusted to be durable: every
    /// later job fails with this.
    failure: Option<String>,
}

impl Durability {
    fn failure(&self) -> Option<String> {
        self.synced.borrow().failure.clone()
    }
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

    /// The position of the last event this writer committed, made durable or not yet:
    /// rows of the file up to it reach readers through the tail once synced.
    pub fn written(&self) -> Arc<AtomicI64> {
        self.durability.written.clone()
    }

    /// Returns once everything committed before the call is durable: for an answer that
    /// depends on what a read found but writes nothing itself (SQLite shows a commit
    /// before the syncer has made it durable).
    pub async fn synced(&self) -> Result<(), StoreError> {
        let target = self.durability.begun.load(Ordering::Acquire);
        let mut synced = self.durability.synced.subscribe();
        let reached = synced
            .wait_for(|synced| synced.groups >= target || synced.failure.is_some())
            .await
            .map_err(|_| writer_stopped("waiting for the WAL sync"))?;
        match &reached.failure {
            Some(failure) => Err(StoreError::Database {
                context: "waiting for the WAL sync".to_string(),
                source: failure.clone().into(),
            }),
            None => Ok(()),
        }
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

/// A group the writer committed (or failed to), on its way to the syncer.
struct Committed {
    batch: Vec<Job>,
    outcomes: Result<Vec<Outcome>, String>,
    recorded_at: String,
}

/// Starts the writer on its own thread, owning `connection`, and the syncer on another,
/// syncing with `wal`. They run until every [`WriterHandle`] is dropped; the syncer
/// answers the last groups first.
pub(crate) fn spawn(
    connection: Connection,
    wal: Box<dyn WalSync>,
    published: Published,
) -> Result<WriterHandle, StoreError> {
    let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
    let durability = Arc::new(Durability {
        begun: AtomicU64::new(0),
        written: Arc::new(AtomicI64::new(*published.committed.borrow())),
        synced: watch::channel(Synced::default()).0,
    });
    let (committed, to_sync) = std::sync::mpsc::channel();
    let syncer = {
        let durability = durability.clone();
        std::thread::Builder::new()
            .name("alpes-sqlite-sync".to_string())
            .spawn(move || sync_and_answer(&to_sync, wal, &published, &durability))
            .map_err(|error| cannot_start(Box::new(error)))?
    };
    let writer_durability = durability.clone();
    std::thread::Builder::new()
        .name("alpes-sqlite-writer".to_string())
        .spawn(move || {
            run(&connection, queue, &committed, &writer_durability);
            // The syncer finishes with the groups already handed over, then stops.
            drop(committed);
            if syncer.join().is_err() {
                tracing::error!("the SQLite syncer panicked");
            }
        })
        .map_err(|error| cannot_start(Box::new(error)))?;
    Ok(WriterHandle { jobs, durability })
}

fn cannot_start(source: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    StoreError::Database {
        context: "starting the SQLite writer".to_string(),
        source,
    }
}

fn run(
    connection: &Connection,
    mut queue: mpsc::Receiver<Job>,
    committed: &std::sync::mpsc::Sender<Committed>,
    durability: &Durability,
) {
    while let Some(first) = queue.blocking_recv() {
        let batch = gather(first, &mut queue);
        let recorded_at = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        // Counted before the commit: readers may see it as soon as SQLite commits it.
        durability.begun.fetch_add(1, Ordering::AcqRel);
        let outcomes = match durability.failure() {
            Some(failure) => Err(failure),
            None => commit(connection, &batch, &recorded_at),
        };
        if let Some(last) = outcomes
            .iter()
            .flatten()
            .filter_map(Outcome::last_position)
            .max()
        {
            durability.written.fetch_max(last, Ordering::AcqRel);
        }
        let group = Committed {
            batch,
            outcomes,
            recorded_at,
        };
        if let Err(unsent) = committed.send(group) {
            reply(
                unsent.0.batch,
                Err("the SQLite syncer has stopped".to_string()),
            );
        }
    }
}

/// Writes and commits one group, logging how long it took.
fn commit(
    connection: &Connection,
    batch: &[Job],
    recorded_at: &str,
) -> Result<Vec<Outcome>, String> {
    let started = std::time::Instant::now();
    let outcomes = write_batch(connection, batch, recorded_at);
    tracing::debug!(
        jobs = batch.len(),
        events = batch.iter().map(Job::events).sum::<usize>(),
        commit_ms = started.elapsed().as_secs_f64() * 1_000.0,
        "group commit"
    );
    outcomes.map_err(|error| {
        tracing::error!(%error, jobs = batch.len(), "SQLite commit failed");
        error.to_string()
    })
}

/// The syncer: syncs the WAL once for every group committed since the last sync, then
/// publishes their events and answers their jobs, in commit order.
fn sync_and_answer(
    committed: &std::sync::mpsc::Receiver<Committed>,
    mut wal: Box<dyn WalSync>,
    published: &Published,
    durability: &Durability,
) {
    while let Ok(first) = committed.recv() {
        let mut groups = vec![first];
        groups.extend(committed.try_iter());
        let synced = match durability.failure() {
            // After a failed sync, a later one may report success for data the disk lost.
            Some(failure) => Err(failure),
            None => sync(wal.as_mut(), groups.len(), durability),
        };
        for mut group in groups {
            let outcomes = match (&synced, group.outcomes) {
                (Ok(()), Ok(outcomes)) => {
                    publish(&mut group.batch, &outcomes, &group.recorded_at, published);
                    Ok(outcomes)
                }
                (Err(failure), Ok(_)) => Err(failure.clone()),
                (_, Err(failure)) => Err(failure),
            };
            durability.synced.send_modify(|synced| synced.groups += 1);
            reply(group.batch, outcomes);
        }
    }
}

/// Syncs the WAL for `groups` groups; a failure is recorded for every later write.
fn sync(wal: &mut dyn WalSync, groups: usize, durability: &Durability) -> Result<(), String> {
    let started = std::time::Instant::now();
    let synced = wal.sync();
    tracing::debug!(
        groups,
        sync_ms = started.elapsed().as_secs_f64() * 1_000.0,
        "WAL synced"
    );
    synced.map_err(|error| {
        tracing::error!(%error, "syncing the SQLite WAL failed: no further write is accepted");
        let failure = format!("syncing the SQLite WAL failed: {error}");
        durability
            .synced
            .send_modify(|synced| synced.failure = Some(failure.clone()));
        failure
    })
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

impl Outcome {
    /// The position of the last event of an append.
    fn last_position(&self) -> Option<i64> {
        match self {
            Outcome::Appended(positions) => positions.last().copied(),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::sqlite::connection::open_writer;

    /// A sync that waits for the test to say how it went.
    struct GatedSync {
        gate: std::sync::mpsc::Receiver<io::Result<()>>,
    }

    impl WalSync for GatedSync {
        fn sync(&mut self) -> io::Result<()> {
            self.gate.recv().unwrap_or(Ok(()))
        }
    }

    struct TestWriter {
        handle: WriterHandle,
        committed: watch::Receiver<i64>,
        tail: Arc<TailCache>,
        release: std::sync::mpsc::Sender<io::Result<()>>,
        path: std::path::PathBuf,
        _folder: tempfile::TempDir,
    }

    fn writer() -> TestWriter {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("events.db");
        let connection = open_writer(&path).unwrap();
        connection
            .execute_batch(include_str!(
                "../../../migrations/sqlite/20250101000001_event_store.sql"
            ))
            .unwrap();
        let (committed, receiver) = watch::channel(0);
        let tail = Arc::new(TailCache::default());
        let (release, gate) = std::sync::mpsc::channel();
        let published = Published {
            committed,
            tail: tail.clone(),
            upcasters: Upcasters::default(),
        };
        let handle = spawn(connection, Box::new(GatedSync { gate }), published).unwrap();
        TestWriter {
            handle,
            committed: receiver,
            tail,
            release,
            path,
            _folder: folder,
        }
    }

    fn append(id: &str) -> Append {
        let event = SerializedEvent::new(
            id.to_string(),
            1,
            "Tally".to_string(),
            "Added".to_string(),
            "1.0".to_string(),
            json!({"Added": {}}),
            json!({}),
        );
        Append {
            aggregate_type: "Tally",
            events: vec![NewEvent {
                sequence: 1,
                payload: event.payload.to_string(),
                metadata: event.metadata.to_string(),
                event,
            }],
            snapshot: None,
        }
    }

    fn rows_in_file(path: &std::path::Path) -> i64 {
        let reader = rusqlite::Connection::open(path).unwrap();
        reader
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))
            .unwrap()
    }

    async fn still_waiting<T>(task: &tokio::task::JoinHandle<T>) -> bool {
        tokio::time::sleep(Duration::from_millis(100)).await;
        !task.is_finished()
    }

    #[tokio::test]
    async fn an_append_is_answered_and_published_only_once_the_wal_is_synced() {
        let writer = writer();
        let handle = writer.handle.clone();
        let appending = tokio::spawn(async move { handle.append(append("a")).await });
        assert!(still_waiting(&appending).await, "answered before the sync");
        assert_eq!(rows_in_file(&writer.path), 1, "committed: SQLite shows it");
        assert_eq!(
            *writer.committed.borrow(),
            0,
            "not published before the sync"
        );
        assert!(writer.tail.read_after(0, 10).is_empty());

        writer.release.send(Ok(())).unwrap();
        let position = appending.await.unwrap().unwrap();
        assert_eq!(position, 1);
        assert_eq!(*writer.committed.borrow(), 1);
        assert_eq!(writer.tail.read_after(0, 10).len(), 1);
    }

    #[tokio::test]
    async fn synced_waits_for_every_group_committed_before_it() {
        let writer = writer();
        let handle = writer.handle.clone();
        let appending = tokio::spawn(async move { handle.append(append("a")).await });
        while rows_in_file(&writer.path) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let handle = writer.handle.clone();
        let waiting = tokio::spawn(async move { handle.synced().await });
        assert!(
            still_waiting(&waiting).await,
            "the append it could have read is not durable"
        );
        writer.release.send(Ok(())).unwrap();
        waiting.await.unwrap().unwrap();
        appending.await.unwrap().unwrap();
        // Nothing in flight: no wait.
        writer.handle.synced().await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_sync_fails_its_group_and_every_later_write() {
        let writer = writer();
        writer
            .release
            .send(Err(io::Error::other("disk gone")))
            .unwrap();
        let failed = writer.handle.append(append("a")).await;
        assert!(
            matches!(&failed, Err(PersistenceError::ConnectionError(reason)) if reason.to_string().contains("disk gone")),
            "{failed:?}"
        );
        assert_eq!(*writer.committed.borrow(), 0, "nothing published");
        let later = writer.handle.append(append("b")).await;
        assert!(later.is_err(), "{later:?}");
        assert_eq!(
            rows_in_file(&writer.path),
            1,
            "the later one was not even written"
        );
        assert!(writer.handle.synced().await.is_err());
    }
}
