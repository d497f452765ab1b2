//! The SQLite backend: one file, WAL, every acknowledged commit synced to disk.
//!
//! - Events live in the sqlite-es `events` table (migrations/sqlite/); the global position
//!   is the rowid, named `global_position`.
//! - Everything this process writes to the file (appends, and through [`SqliteEventStore::write`]
//!   the saga's tables and checkpoints) goes through one writer thread that drains every
//!   pending job into one transaction (group commit), each job still succeeding or failing
//!   on its own (an append against its expected sequence). A second thread syncs the WAL
//!   behind it, once for every group committed meanwhile, and only then are the groups
//!   answered and their events handed to consumers (`writer`, `wal_sync`).
//! - Aggregate loads and log reads use read-only connections in the calling task; readers
//!   never wait for the writer (WAL). Other SQL (migrations, the write side's own reads)
//!   uses an sqlx pool.
//! - A thread of its own copies the WAL back into the file (`wal_copier`), so commits do
//!   not wait for checkpoints.
//! - The writer keeps the newest events in memory and signals each commit in-process, so
//!   consumers wake at once and read them without a query.
//! - A reader of the whole log (the audit export) can scan it on its own connection and
//!   thread instead ([`SqliteEventStore::scan_log`]).

mod checkpoints;
mod connection;
mod leases;
mod log;
mod log_scan;
mod readers;
mod repository;
mod rows;
mod statement;
mod tail;
mod wal_copier;
mod wal_sync;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::watch;

use crate::url::EventStoreUrl;
use crate::{CheckpointStore, EventLog, LeaseProvider, StoreError, StoreOptions};

pub use checkpoints::{
    checkpoint_statement, load_checkpoint, save_checkpoint, SqliteCheckpointStore,
};
pub use connection::install_short_waits;
pub use leases::ProcessLeaseProvider;
pub use log::SqliteEventLog;
pub use log_scan::{ScanBatch, ScannedEvent, SqliteLogScan, StoredEventText};
pub use repository::SqliteEventRepository;
pub use statement::{SqlParam, SqlStatement};
pub use writer::{QueuedWrite, WriteChain};

/// How long a connection waits for another process's write lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open SQLite event store. Cheap to clone; every clone shares the writer and the pool.
#[derive(Clone)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEventStore")
            .field("url", &self.inner.url.masked())
            .finish_non_exhaustive()
    }
}

struct Inner {
    url: EventStoreUrl,
    pool: SqlitePool,
    readers: readers::Readers,
    writer: writer::WriterHandle,
    repository: SqliteEventRepository,
    log: Arc<SqliteEventLog>,
    checkpoints: Arc<SqliteCheckpointStore>,
    leases: Arc<ProcessLeaseProvider>,
    _wal_copier: wal_copier::WalCopier,
}

impl SqliteEventStore {
    /// Opens the store named by an `sqlite://PATH` URL; see [`SqliteEventStore::open`].
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        match EventStoreUrl::parse(url)? {
            EventStoreUrl::Sqlite { path } => Self::open(&path, options).await,
            other => Err(StoreError::InvalidUrl {
                url: other.masked(),
                reason: format!(
                    "this is a {} URL, not an SQLite one (sqlite://PATH)",
                    other.backend_name()
                ),
            }),
        }
    }

    /// Opens (creating it and its folder if needed) the SQLite file at `path` and brings its
    /// tables up to date.
    pub async fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let url = EventStoreUrl::Sqlite {
            path: path.to_path_buf(),
        };
        create_parent_folder(path, &url)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            // A connection to a local file does not go stale; the ping would cost every
            // query one more round trip to the connection's thread.
            .test_before_acquire(false)
            .after_connect(|connection, _| Box::pin(install_short_waits(connection)))
            .connect_with(connect_options(path))
            .await
            .map_err(|error| cannot_open(&url, &error))?;
        migrate(&pool, &url).await?;
        let writer_connection =
            connection::open_writer(path).map_err(|error| cannot_open(&url, &error))?;
        let readers = readers::Readers::new(path.to_path_buf());
        let head = readers.with("opening the SQLite event store", log::last_rowid)?;
        let (committed, committed_receiver) = watch::channel(head);
        let tail = Arc::new(tail::TailCache::default());
        let writer = writer::spawn(
            writer_connection,
            Box::new(wal_sync::WalFile::of(path)),
            writer::Published {
                committed,
                tail: tail.clone(),
                upcasters: options.upcasters.clone(),
            },
        )?;
        let wal_copier = wal_copier::spawn(path)?;
        let repository = SqliteEventRepository::new(readers.clone(), writer.clone());
        let log = Arc::new(SqliteEventLog::new(
            readers.clone(),
            committed_receiver,
            writer.written(),
            wal_sync::WalFile::of(path),
            tail,
            options.upcasters.clone(),
        ));
        let checkpoints = Arc::new(SqliteCheckpointStore::new(pool.clone(), writer.clone()));
        let leases = Arc::new(ProcessLeaseProvider::new(lease_scope(&url)));
        Ok(SqliteEventStore {
            inner: Arc::new(Inner {
                url,
                pool,
                readers,
                writer,
                repository,
                log,
                checkpoints,
                leases,
                _wal_copier: wal_copier,
            }),
        })
    }

    /// Runs `statements` in order, all or none, in the writer's next group commit, and
    /// returns once they are durable. For the tables other parts of Alpes keep in this file
    /// (with their checkpoint: see [`checkpoint_statement`]); `context` says what they do,
    /// for the error. Events are never written this way.
    pub async fn write(
        &self,
        context: impl Into<String>,
        statements: Vec<SqlStatement>,
    ) -> Result<(), StoreError> {
        self.inner.writer.write(context.into(), statements).await
    }

    /// Like [`SqliteEventStore::write`], but returns once the statements are queued: they
    /// commit after everything queued before them, and [`QueuedWrite::committed`] tells
    /// when they are durable. With a `chain`, they are not run if a write queued earlier in
    /// the same chain failed.
    pub async fn queue_write(
        &self,
        context: impl Into<String>,
        statements: Vec<SqlStatement>,
        chain: Option<WriteChain>,
    ) -> Result<QueuedWrite, StoreError> {
        self.inner
            .writer
            .queue(context.into(), statements, chain)
            .await
    }

    /// Runs the query `statement` on the tables other parts of Alpes keep in this file and
    /// answers its rows (columns in order). It runs on a read-only connection in the
    /// calling task: an indexed lookup takes microseconds, less than a hand-off to an sqlx
    /// connection's thread — which, on busy cores, also waits for a core each way. Sees
    /// every write committed before it starts (WAL); never waits for the writer.
    pub fn query(
        &self,
        context: &str,
        statement: &SqlStatement,
    ) -> Result<Vec<Vec<SqlParam>>, StoreError> {
        self.inner.readers.with(context, |connection| {
            statement
                .rows(connection)
                .map_err(|error| StoreError::Database {
                    context: context.to_string(),
                    source: Box::new(error),
                })
        })
    }

    /// The URL the store was opened with.
    pub fn url(&self) -> &EventStoreUrl {
        &self.inner.url
    }

    /// The cqrs-es repository (group-committing appends).
    pub fn repository(&self) -> SqliteEventRepository {
        self.inner.repository.clone()
    }

    /// The global log, in commit order.
    pub fn log(&self) -> Arc<dyn EventLog> {
        self.inner.log.clone()
    }

    /// Checkpoints kept in the `consumer_checkpoints` table of this file.
    pub fn checkpoints(&self) -> Arc<dyn CheckpointStore> {
        self.inner.checkpoints.clone()
    }

    /// Leases held by this process (SQLite has a single node).
    pub fn leases(&self) -> Arc<dyn LeaseProvider> {
        self.inner.leases.clone()
    }

    /// An sqlx pool on the file, for reads of the tables other parts of Alpes keep here.
    /// Write through [`SqliteEventStore::write`] instead: a write on this pool has to wait
    /// for the writer's lock. Never write events: only the writer may append.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }
}

/// WAL so readers never block the writer; `synchronous=FULL` so what this pool commits survives
/// a power cut (NORMAL could lose the last commits in WAL mode).
fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
}

fn create_parent_folder(path: &Path, url: &EventStoreUrl) -> Result<(), StoreError> {
    let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    std::fs::create_dir_all(parent).map_err(|error| StoreError::Unreachable {
        url: url.masked(),
        reason: format!("cannot create the folder {}: {error}", parent.display()),
        hint: "Check that the folder can be created and written by this user, or pass another \
               --events URL (e.g. sqlite://data/alpes.db)."
            .to_string(),
    })
}

fn cannot_open(url: &EventStoreUrl, error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Unreachable {
        url: url.masked(),
        reason: error.to_string(),
        hint: "Check that the path is an SQLite database (or does not exist yet) and that its \
               folder is writable, or pass another --events URL."
            .to_string(),
    }
}

async fn migrate(pool: &SqlitePool, url: &EventStoreUrl) -> Result<(), StoreError> {
    let mut migrator = sqlx::migrate!("../migrations/sqlite");
    // Views of other services may keep their own migrations in the same file.
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|error| StoreError::Database {
            context: format!("cannot bring the SQLite event store at '{url}' up to date"),
            source: Box::new(error),
        })
}

/// Two stores opened on the same file in one process share their leases.
fn lease_scope(url: &EventStoreUrl) -> String {
    match url {
        EventStoreUrl::Sqlite { path } => std::fs::canonicalize(path)
            .unwrap_or_else(|_| PathBuf::from(path))
            .display()
            .to_string(),
        other => other.masked(),
    }
}
