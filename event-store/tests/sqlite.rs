//! The SQLite backend: the contract suite on a fresh temp file per test, plus what only
//! SQLite has (the file itself, its pragmas, SQL consumers sharing its transactions).

#[macro_use]
mod contract;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::sqlite::{save_checkpoint, SqliteEventStore};
use alpes_event_store::{
    Consumer, ConsumerError, ConsumerRunner, EventStoreBackend, Position, RecordedEvent,
    RunnerOptions, StoreError, StoreOptions,
};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use contract::tally::Tally;
use contract::{HeldAppend, TestStore};

contract_suite!(fresh_sqlite);

fn fresh_sqlite(options: StoreOptions) -> BoxFuture<'static, Option<TestStore>> {
    Box::pin(async move {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("events.db");
        let url = format!("sqlite://{}", path.display());
        let backend = EventStoreBackend::open(&url, options).await.unwrap();
        let held_append = held_append(&path).await;
        Some(TestStore {
            url,
            backend,
            held_append: Some(held_append),
            guard: Box::new(folder),
        })
    })
}

/// Appends on a connection of its own that keeps the write transaction (and so SQLite's
/// write lock) for `hold` before committing: the store's writer must wait, not fail.
async fn held_append(path: &Path) -> HeldAppend {
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    Arc::new(move |events: Vec<SerializedEvent>, hold: Duration| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            for event in events {
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                     event_version, payload, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(event.aggregate_type)
                .bind(event.aggregate_id)
                .bind(event.sequence as i64)
                .bind(event.event_type)
                .bind(event.event_version)
                .bind(event.payload.to_string())
                .bind(event.metadata.to_string())
                .execute(&mut *transaction)
                .await
                .unwrap();
            }
            tokio::time::sleep(hold).await;
            transaction.commit().await.unwrap();
        }) as BoxFuture<'static, ()>
    })
}

#[tokio::test]
async fn opening_creates_the_file_and_its_folders() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("data/nested/alpes.db");
    let url = format!("sqlite://{}", path.display());
    EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    assert!(path.is_file());
}

#[tokio::test]
async fn reopening_keeps_the_events_and_continues_the_positions() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("events.db").display());
    let first = EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    let tallies = first.aggregate_store::<Tally>();
    tallies
        .execute("a", add(1), &(), Default::default())
        .await
        .unwrap();
    drop(tallies);
    drop(first);

    let again = EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    let outcome = again
        .aggregate_store::<Tally>()
        .execute("a", add(2), &(), Default::default())
        .await
        .unwrap();
    assert_eq!(outcome.version, 2);
    let events = again.log().read_after(Position::START, 10).await.unwrap();
    let positions: Vec<Position> = events.iter().map(|event| event.position).collect();
    assert_eq!(positions, vec![Position::new(1, 0), Position::new(2, 0)]);
}

#[tokio::test]
async fn the_file_is_in_wal_mode_and_commits_durably() {
    let folder = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&folder.path().join("events.db"), &StoreOptions::default())
        .await
        .unwrap();
    let mut connection = store.pool().acquire().await.unwrap();
    let journal: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *connection)
        .await
        .unwrap()
        .get(0);
    let synchronous: i64 = sqlx::query("PRAGMA synchronous")
        .fetch_one(&mut *connection)
        .await
        .unwrap()
        .get(0);
    assert_eq!(journal, "wal");
    assert_eq!(synchronous, 2, "synchronous=FULL");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_one_clear_error() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("notes.db");
    std::fs::write(
        &path,
        "these are not the tables you are looking for".repeat(100),
    )
    .unwrap();
    let url = format!("sqlite://{}", path.display());
    let error = match EventStoreBackend::open(&url, StoreOptions::default()).await {
        Err(error) => error,
        Ok(_) => panic!("opened a text file as an event store"),
    };
    let message = error.to_string();
    assert!(message.contains(&url), "{message}");
}

#[tokio::test]
async fn a_folder_that_cannot_be_created_is_one_clear_error() {
    let folder = tempfile::tempdir().unwrap();
    let blocker = folder.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let url = format!("sqlite://{}", blocker.join("sub/events.db").display());
    let error = match EventStoreBackend::open(&url, StoreOptions::default()).await {
        Err(error) => error,
        Ok(_) => panic!("created a folder inside a file"),
    };
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&url) && message.contains("--events"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bad_url_is_one_error_with_the_password_masked() {
    let error =
        match EventStoreBackend::open("mysql://alpes:s3cret@db/alpes", StoreOptions::default())
            .await
        {
            Err(error) => error,
            Ok(_) => panic!("opened a MySQL URL"),
        };
    let message = error.to_string();
    assert!(matches!(error, StoreError::InvalidUrl { .. }));
    assert!(message.contains("mysql://alpes:****@db/alpes"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

/// The tables are sqlite-es's: its own repository reads what we wrote.
#[tokio::test]
async fn sqlite_es_reads_the_events_we_write() {
    let folder = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&folder.path().join("events.db"), &StoreOptions::default())
        .await
        .unwrap();
    let backend_tallies = alpes_event_store::AggregateStore::<Tally, _>::new(
        store.repository(),
        Default::default(),
        None,
    );
    backend_tallies
        .execute("t", add(3), &(), Default::default())
        .await
        .unwrap();
    let theirs = sqlite_es::SqliteEventRepository::new(store.pool().clone());
    let events = theirs.get_events::<Tally>("t").await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].sequence, 1);
    assert_eq!(events[0].payload["Added"]["amount"], 3);
}

fn add(amount: i64) -> contract::tally::TallyCommand {
    contract::tally::TallyCommand::Add {
        amount,
        label: format!("add-{amount}"),
    }
}

/// A projector keeping its rows in the same file writes them and its checkpoint in one
/// transaction: killed in the middle, it leaves nothing half done, and on restart every
/// event lands exactly once.
struct CountingProjector {
    pool: SqlitePool,
    batches: AtomicUsize,
    stall_on_batch: Option<usize>,
    stalled: Arc<tokio::sync::Notify>,
}

const PROJECTOR: &str = "counting-projector";

#[async_trait::async_trait]
impl Consumer for CountingProjector {
    fn name(&self) -> &str {
        PROJECTOR
    }

    async fn checkpoint(&self) -> Result<Position, ConsumerError> {
        let mut connection = self.pool.acquire().await.map_err(ConsumerError::new)?;
        Ok(alpes_event_store::sqlite::load_checkpoint(&mut connection, PROJECTOR).await?)
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        let mut transaction = self.pool.begin().await.map_err(ConsumerError::new)?;
        for event in batch {
            // The primary key refuses a second copy of an event.
            sqlx::query("INSERT INTO projected (stream, sequence) VALUES (?, ?)")
                .bind(event.stream())
                .bind(event.event.sequence as i64)
                .execute(&mut *transaction)
                .await
                .map_err(ConsumerError::new)?;
        }
        if let Some(last) = batch.last() {
            save_checkpoint(&mut transaction, PROJECTOR, last.position).await?;
        }
        let batch_number = self.batches.fetch_add(1, Ordering::SeqCst) + 1;
        if self.stall_on_batch == Some(batch_number) {
            self.stalled.notify_one();
            std::future::pending::<()>().await;
        }
        transaction.commit().await.map_err(ConsumerError::new)?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_consumer_commits_its_rows_and_checkpoint_together() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("events.db");
    let store = SqliteEventStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE projected (stream TEXT, sequence INTEGER, PRIMARY KEY (stream, sequence))",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let tallies = alpes_event_store::AggregateStore::<Tally, _>::new(
        store.repository(),
        Default::default(),
        None,
    );
    for index in 0..40 {
        tallies
            .execute(
                &format!("p-{}", index % 3),
                add(index + 1),
                &(),
                Default::default(),
            )
            .await
            .unwrap();
    }
    let options = RunnerOptions {
        batch_size: 10,
        idle_wait: Duration::from_millis(100),
        first_retry_delay: Duration::from_millis(20),
        max_retry_delay: Duration::from_millis(80),
    };

    let stalled = Arc::new(tokio::sync::Notify::new());
    let projector = Arc::new(CountingProjector {
        pool: store.pool().clone(),
        batches: AtomicUsize::new(0),
        stall_on_batch: Some(2),
        stalled: stalled.clone(),
    });
    let task = ConsumerRunner::new(projector, store.log(), store.leases())
        .with_options(options.clone())
        .spawn(CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(30), stalled.notified())
        .await
        .unwrap();
    task.abort();
    let _ = task.await;

    let restarted = SqliteEventStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    let projector = Arc::new(CountingProjector {
        pool: restarted.pool().clone(),
        batches: AtomicUsize::new(0),
        stall_on_batch: None,
        stalled: Arc::new(tokio::sync::Notify::new()),
    });
    let runner =
        ConsumerRunner::new(projector, restarted.log(), restarted.leases()).with_options(options);
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    let started = std::time::Instant::now();
    while stats.position() < Position::new(40, 0) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the projector did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    task.await.unwrap();

    assert_eq!(stats.failed_batches(), 0, "no event was projected twice");
    let rows = sqlx::query("SELECT stream, sequence FROM projected")
        .fetch_all(restarted.pool())
        .await
        .unwrap();
    let projected: HashSet<(String, i64)> = rows
        .iter()
        .map(|row| (row.get("stream"), row.get("sequence")))
        .collect();
    assert_eq!(rows.len(), 40);
    assert_eq!(projected.len(), 40);
}

/// Two stores on one file (two processes, say) each write through their own writer and
/// keep their own newest events in memory; each log still hands out every event of the
/// file, in order, however the two writers' appends interleave.
#[tokio::test]
async fn two_writers_on_one_file_both_see_every_event_in_order() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("events.db");
    let ours = SqliteEventStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    let theirs = SqliteEventStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    let tally = |store: &SqliteEventStore| {
        alpes_event_store::AggregateStore::<Tally, _>::new(
            store.repository(),
            Default::default(),
            None,
        )
    };
    let (mine, other) = (tally(&ours), tally(&theirs));
    let log = ours.log();
    let mut expected = Vec::new();
    for round in 0..5 {
        mine.execute("ours", add(1), &(), Default::default())
            .await
            .unwrap();
        expected.push(("ours".to_string(), round + 1));
        // Read ours before theirs lands, so the next read starts right before a gap.
        assert_eq!(read_all(&*log).await.len(), expected.len());
        other
            .execute("theirs", add(1), &(), Default::default())
            .await
            .unwrap();
        expected.push(("theirs".to_string(), round + 1));
    }
    mine.execute("ours", add(1), &(), Default::default())
        .await
        .unwrap();
    expected.push(("ours".to_string(), 6));

    for store in [&ours, &theirs] {
        let events = read_all(&*store.log()).await;
        let streams: Vec<(String, usize)> = events
            .iter()
            .map(|event| (event.event.aggregate_id.clone(), event.event.sequence))
            .collect();
        assert_eq!(streams, expected);
        // Read one event at a time, across every change of writer.
        let mut after = Position::START;
        for (stream, sequence) in &expected {
            let next = store.log().read_after(after, 1).await.unwrap();
            assert_eq!(next.len(), 1, "nothing after {after}");
            assert_eq!(
                (&next[0].event.aggregate_id, next[0].event.sequence),
                (stream, *sequence)
            );
            after = next[0].position;
        }
    }
}

/// Statements written through the store's writer commit together or not at all, and a
/// group that fails does not take down the appends committed with it.
#[tokio::test]
async fn a_group_of_statements_commits_whole_or_not_at_all() {
    use alpes_event_store::sqlite::{checkpoint_statement, SqlStatement};

    let folder = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&folder.path().join("events.db"), &StoreOptions::default())
        .await
        .unwrap();
    let failing = vec![
        checkpoint_statement("first", Position::new(7, 0)).unwrap(),
        SqlStatement::new("INSERT INTO no_such_table VALUES (1)", Vec::new()),
    ];
    let tallies = alpes_event_store::AggregateStore::<Tally, _>::new(
        store.repository(),
        Default::default(),
        None,
    );
    let (written, appended) = tokio::join!(
        store.write("a test group", failing),
        tallies.execute("t", add(1), &(), Default::default()),
    );
    let error = written.unwrap_err().to_string();
    assert!(
        error.contains("a test group") && error.contains("no_such_table"),
        "{error}"
    );
    assert_eq!(appended.unwrap().version, 1);
    let checkpoints = store.checkpoints();
    assert_eq!(checkpoints.load("first").await.unwrap(), Position::START);

    store
        .write(
            "a good group",
            vec![
                checkpoint_statement("first", Position::new(7, 0)).unwrap(),
                checkpoint_statement("second", Position::new(9, 0)).unwrap(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        checkpoints.load("first").await.unwrap(),
        Position::new(7, 0)
    );
    assert_eq!(
        checkpoints.load("second").await.unwrap(),
        Position::new(9, 0)
    );
}

/// Writes queued in one chain commit in order, and none after one that failed: a later
/// checkpoint never lands over an earlier write that was lost. A new chain, and writes
/// outside any chain, are not affected.
#[tokio::test]
async fn a_write_chain_stops_at_its_first_failure() {
    use alpes_event_store::sqlite::{checkpoint_statement, SqlStatement, WriteChain};

    let folder = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&folder.path().join("events.db"), &StoreOptions::default())
        .await
        .unwrap();
    let checkpoint = |name: &str, position: u64| {
        vec![checkpoint_statement(name, Position::new(position, 0)).unwrap()]
    };
    let chain = WriteChain::new();
    let first = store
        .queue_write("first", checkpoint("chained", 1), Some(chain.clone()))
        .await
        .unwrap();
    let failing = store
        .queue_write(
            "failing",
            vec![SqlStatement::new(
                "INSERT INTO no_such_table VALUES (1)",
                Vec::new(),
            )],
            Some(chain.clone()),
        )
        .await
        .unwrap();
    let after = store
        .queue_write("after", checkpoint("chained", 3), Some(chain.clone()))
        .await
        .unwrap();
    let unchained = store
        .queue_write("unchained", checkpoint("alone", 5), None)
        .await
        .unwrap();

    first.committed().await.unwrap();
    let error = failing.committed().await.unwrap_err().to_string();
    assert!(error.contains("no_such_table"), "{error}");
    let error = after.committed().await.unwrap_err().to_string();
    assert!(
        error.contains("after") && error.contains("earlier write"),
        "{error}"
    );
    unchained.committed().await.unwrap();
    assert!(chain.is_broken());

    let checkpoints = store.checkpoints();
    assert_eq!(
        checkpoints.load("chained").await.unwrap(),
        Position::new(1, 0)
    );
    assert_eq!(
        checkpoints.load("alone").await.unwrap(),
        Position::new(5, 0)
    );

    let fresh = WriteChain::new();
    store
        .queue_write("again", checkpoint("chained", 3), Some(fresh))
        .await
        .unwrap()
        .committed()
        .await
        .unwrap();
    assert_eq!(
        checkpoints.load("chained").await.unwrap(),
        Position::new(3, 0)
    );
}

/// Every event of the log, read in as many batches as it takes.
async fn read_all(log: &dyn alpes_event_store::EventLog) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(Position::START, |event: &RecordedEvent| event.position);
        let batch = log.read_after(after, 100).await.unwrap();
        if batch.is_empty() {
            return events;
        }
        events.extend(batch);
    }
}
