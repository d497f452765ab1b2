//! The SQLite backend: one file, WAL, `synchronous=FULL`.
//!
//! - Events live in the sqlite-es `events` table (migrations/sqlite/); the global position
//!   is the rowid, named `global_position`.
//! - Appends go through one writer task that drains every pending append into one
//!   transaction (group commit: one fsync for many appends), each append still checked
//!   against its own expected sequence.
//! - Reads (aggregate loads, the global log, checkpoints) use a separate pool; readers never
//!   wait for the writer (WAL).
//! - The writer signals each commit in-process, so consumers wake at once.
//! - A reader of the whole log (the audit export) can scan it on its own connection and
//!   thread instead ([`SqliteEventStore::scan_log`]).

mod checkpoints;
mod leases;
mod log;
mod log_scan;
mod repository;
mod rows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};

use crate::url::EventStoreUrl;
use crate::{CheckpointStore, EventLog, LeaseProvider, StoreError, StoreOptions};

pub use checkpoints::{load_checkpoint, save_checkpoint, SqliteCheckpointStore};
pub use leases::ProcessLeaseProvider;
pub use log::SqliteEventLog;
pub use log_scan::{ScanBatch, ScannedEvent, SqliteLogScan, StoredEventText};
pub use repository::SqliteEventRepository;

/// How long a connection waits for another process's write lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open SQLite event store. Cheap to clone; every clone shares the writer and the pool.
#[derive(Clone)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    url: EventStoreUrl,
    pool: SqlitePool,
    repository: SqliteEventRepository,
    log: Arc<SqliteEventLog>,
    checkpoints: Arc<SqliteCheckpointStore>,
    leases: Arc<ProcessLeaseProvider>,
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
        let connect_options = connect_options(path);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect_options.clone())
            .await
            .map_err(|error| cannot_open(&url, &error))?;
        migrate(&pool, &url).await?;
        let writer_connection = connect_options
            // One prepared INSERT per batch size; keep them all.
            .statement_cache_capacity(writer::MAX_ROWS_PER_STATEMENT + 16)
            .connect()
            .await
            .map_err(|error| cannot_open(&url, &error))?;
        Self::start(url, pool, writer_connection, options).await
    }

    async fn start(
        url: EventStoreUrl,
        pool: SqlitePool,
        writer_connection: SqliteConnection,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        let head = last_position(&pool).await?;
        let (writer, committed) = writer::spawn(writer_connection, head);
        let repository = SqliteEventRepository::new(pool.clone(), writer);
        let log = Arc::new(SqliteEventLog::new(
            pool.clone(),
            committed,
            options.upcasters.clone(),
        ));
        let checkpoints = Arc::new(SqliteCheckpointStore::new(pool.clone()));
        let leases = Arc::new(ProcessLeaseProvider::new(lease_scope(&url)));
        Ok(SqliteEventStore {
            inner: Arc::new(Inner {
                url,
                pool,
                repository,
                log,
                checkpoints,
                leases,
            }),
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

    /// The read pool, for SQL consumers that keep their rows in the same file and save their
    /// checkpoint in the same transaction (see [`save_checkpoint`]). Never use it to write
    /// events: only the writer task may append.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }
}

/// WAL so readers never block the writer; `synchronous=FULL` so a committed append survives
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

fn cannot_open(url: &EventStoreUrl, error: &sqlx::Error) -> StoreError {
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

async fn last_position(pool: &SqlitePool) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COALESCE(MAX(global_position), 0) AS head FROM events")
        .fetch_one(pool)
        .await
        .map_err(|error| StoreError::Database {
            context: "reading the last position of the SQLite event log".to_string(),
            source: Box::new(error),
        })?;
    row.try_get("head").map_err(|error| StoreError::Database {
        context: "reading the last position of the SQLite event log".to_string(),
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
