//! The views database: SQLite (a file, by default the events' file) or PostgreSQL.
//!
//! Views have their own migrations (`migrations/sqlite-views`, `migrations/postgres-views`),
//! since the views database may not be the events database. Both migrators share sqlx's
//! bookkeeping table when it is the same database, so each ignores the other's versions.

mod row;
mod sql;
mod table;
mod value;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use alpes_event_store::postgres::PostgresCheckpoints;
use alpes_event_store::{EventStoreUrl, Position};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::OwnedMutexGuard;

pub use row::{DbRow, RowError};
pub use sql::{Arg, Array, Sql};
pub use table::{TableInfo, ViewRow};
pub use value::{Column, Json, Kind, Value};

pub(crate) use table::{view_row, Conflicts};

use crate::ReadError;

/// How long a connection waits for another process's write lock on an SQLite file.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections of the views pool.
const MAX_CONNECTIONS: u32 = 16;

/// Which SQL dialect the views database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// An open, migrated views database. Cheap to clone.
#[derive(Clone)]
pub struct Views {
    db: Db,
    url: String,
}

#[derive(Clone)]
enum Db {
    Sqlite {
        pool: SqlitePool,
        /// Writers of this file in this process take turns here rather than in SQLite's
        /// busy handler, which sleeps in coarse steps.
        writer: Arc<tokio::sync::Mutex<()>>,
    },
    Postgres {
        pool: PgPool,
    },
}

/// One writer lock per SQLite file for the whole process.
static SQLITE_WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

fn sqlite_writer(path: &Path) -> Arc<tokio::sync::Mutex<()>> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut writers = SQLITE_WRITERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    writers.entry(key).or_default().clone()
}

impl Views {
    /// Opens the views database at `url` (`sqlite://PATH` or `postgres://…`), creating an
    /// SQLite file if missing, and brings its tables up to date.
    pub async fn open(url: &str) -> Result<Views, ReadError> {
        let parsed = EventStoreUrl::parse(url).map_err(|error| ReadError::InvalidUrl {
            url: alpes_event_store::url::mask_password(url),
            reason: error.to_string(),
        })?;
        let masked = parsed.masked();
        let db = match &parsed {
            EventStoreUrl::Sqlite { path } => open_sqlite(path, &masked).await?,
            EventStoreUrl::Postgres { url } => open_postgres(url, &masked).await?,
            EventStoreUrl::EventStoreDb { .. } => {
                return Err(ReadError::InvalidUrl {
                    url: masked,
                    reason: "views live in an SQL database: give sqlite://PATH or postgres://…"
                        .to_string(),
                })
            }
        };
        tracing::info!(url = %masked, "views database open");
        Ok(Views { db, url: masked })
    }

    /// The URL it was opened with, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dialect of the database.
    pub fn dialect(&self) -> Dialect {
        match self.db {
            Db::Sqlite { .. } => Dialect::Sqlite,
            Db::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Runs a query and returns every row.
    pub(crate) async fn fetch_all(
        &self,
        sql: &Sql,
        context: &str,
    ) -> Result<Vec<DbRow>, ReadError> {
        let rows = match &self.db {
            Db::Sqlite { pool, .. } => sql
                .sqlite()
                .map_err(ReadError::database(context))?
                .fetch_all(pool)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect()),
            Db::Postgres { pool } => sql
                .postgres()
                .fetch_all(pool)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Postgres).collect()),
        };
        rows.map_err(ReadError::database(context))
    }

    /// Runs a query and returns its first row, if any.
    pub(crate) async fn fetch_optional(
        &self,
        sql: &Sql,
        context: &str,
    ) -> Result<Option<DbRow>, ReadError> {
        let row = match &self.db {
            Db::Sqlite { pool, .. } => sql
                .sqlite()
                .map_err(ReadError::database(context))?
                .fetch_optional(pool)
                .await
                .map(|row| row.map(DbRow::Sqlite)),
            Db::Postgres { pool } => sql
                .postgres()
                .fetch_optional(pool)
                .await
                .map(|row| row.map(DbRow::Postgres)),
        };
        row.map_err(ReadError::database(context))
    }

    /// Runs a statement outside any transaction of ours (DDL of rebuilds, cleanups).
    pub(crate) async fn execute(&self, sql: &Sql, context: &str) -> Result<u64, ReadError> {
        let done = match &self.db {
            Db::Sqlite { pool, writer } => {
                let _turn = writer.lock().await;
                sql.sqlite()
                    .map_err(ReadError::database(context))?
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            }
            Db::Postgres { pool } => sql
                .postgres()
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
        };
        done.map_err(ReadError::database(context))
    }

    /// Begins a write transaction, serialized with every other writer holding `lock` (the
    /// projection's name): on SQLite the file's write lock (`BEGIN IMMEDIATE`), which
    /// serializes all writers; on PostgreSQL a transaction-scoped advisory lock.
    pub(crate) async fn begin_write(&self, lock: &str) -> Result<WriteTx, ReadError> {
        let context = format!("beginning a write transaction on the views ({lock})");
        match &self.db {
            Db::Sqlite { pool, writer } => {
                let turn = writer.clone().lock_owned().await;
                let transaction = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(ReadError::database(context))?;
                Ok(WriteTx {
                    transaction: Transaction_::Sqlite(transaction),
                    _turn: Some(turn),
                })
            }
            Db::Postgres { pool } => {
                let mut transaction = pool.begin().await.map_err(ReadError::database(&context))?;
                // synchronous_commit=off is safe here for the same reason as SQLite's
                // NORMAL: a commit lost to a crash loses its checkpoint with it.
                sqlx::query(
                    "SELECT set_config('synchronous_commit', 'off', true), \
                            pg_advisory_xact_lock(hashtextextended('alpes view ' || $1, 0))",
                )
                .bind(lock)
                .execute(&mut *transaction)
                .await
                .map_err(ReadError::database(context))?;
                Ok(WriteTx {
                    transaction: Transaction_::Postgres(transaction),
                    _turn: None,
                })
            }
        }
    }

    /// The saved checkpoint of `consumer` and when it was last saved (`None`: never).
    pub(crate) async fn checkpoint_row(
        &self,
        consumer: &str,
    ) -> Result<Option<(Position, chrono::DateTime<chrono::Utc>)>, ReadError> {
        let context = format!("reading the checkpoint of {consumer}");
        let row = match self.dialect() {
            Dialect::Sqlite => {
                let mut sql = Sql::new(
                    "SELECT position_high || ':' || position_low AS position, updated_at \
                     FROM consumer_checkpoints WHERE consumer = ",
                );
                sql.bind(consumer);
                self.fetch_optional(&sql, &context).await?
            }
            Dialect::Postgres => {
                let mut sql = Sql::new(
                    "SELECT position, updated_at FROM consumer_checkpoints WHERE consumer = ",
                );
                sql.bind(consumer);
                self.fetch_optional(&sql, &context).await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let table = "consumer_checkpoints";
        let position: String = Column::from_row(&row, "position").map_err(ReadError::row(table))?;
        let position =
            position
                .parse()
                .map_err(
                    |error: alpes_event_store::log::InvalidPosition| ReadError::Row {
                        table: table.to_string(),
                        source: RowError::new("position", error.to_string()),
                    },
                )?;
        let updated_at = row
            .opt_time("updated_at")
            .map_err(ReadError::row(table))?
            .unwrap_or_default();
        Ok(Some((position, updated_at)))
    }
}

async fn open_sqlite(path: &Path, masked: &str) -> Result<Db, ReadError> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|error| ReadError::Unreachable {
            url: masked.to_string(),
            reason: format!("cannot create the folder {}: {error}", parent.display()),
        })?;
    }
    // synchronous=NORMAL is safe here: a view commit lost to a power cut loses its
    // checkpoint with it, and the projector applies the same events again.
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Projectors upsert rows keyed by UUIDs, all over their indexes: a 64 MiB page
        // cache (SQLite's default is 2 MiB) keeps them from reading pages back.
        .pragma("cache_size", "-65536")
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(|error| ReadError::Unreachable {
            url: masked.to_string(),
            reason: error.to_string(),
        })?;
    let mut migrator = sqlx::migrate!("../migrations/sqlite-views");
    migrator.set_ignore_missing(true);
    migrator
        .run(&pool)
        .await
        .map_err(|error| ReadError::Unreachable {
            url: masked.to_string(),
            reason: format!("migrating the views (migrations/sqlite-views): {error}"),
        })?;
    Ok(Db::Sqlite {
        pool,
        writer: sqlite_writer(path),
    })
}

async fn open_postgres(url: &str, masked: &str) -> Result<Db, ReadError> {
    let unreachable = |reason: String| ReadError::Unreachable {
        url: masked.to_string(),
        reason,
    };
    let options: PgConnectOptions = url
        .parse()
        .map_err(|error: sqlx::Error| unreachable(error.to_string()))?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    PostgresCheckpoints::install(pool.clone())
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let mut migrator = sqlx::migrate!("../migrations/postgres-views");
    migrator.set_ignore_missing(true);
    migrator.run(&pool).await.map_err(|error| {
        unreachable(format!(
            "migrating the views (migrations/postgres-views): {error}"
        ))
    })?;
    Ok(Db::Postgres { pool })
}

/// A write transaction on the views; rolled back when dropped uncommitted.
pub(crate) struct WriteTx {
    transaction: Transaction_,
    /// This process's turn to write the SQLite file.
    _turn: Option<OwnedMutexGuard<()>>,
}

enum Transaction_ {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl WriteTx {
    /// The dialect of the database.
    pub(crate) fn dialect(&self) -> Dialect {
        match self.transaction {
            Transaction_::Sqlite(_) => Dialect::Sqlite,
            Transaction_::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute(&mut self, sql: &Sql, context: &str) -> Result<u64, ReadError> {
        let done = match &mut self.transaction {
            Transaction_::Sqlite(transaction) => sql
                .sqlite()
                .map_err(ReadError::database(context))?
                .execute(&mut **transaction)
                .await
                .map(|done| done.rows_affected()),
            Transaction_::Postgres(transaction) => sql
                .postgres()
                .execute(&mut **transaction)
                .await
                .map(|done| done.rows_affected()),
        };
        done.map_err(ReadError::database(context))
    }

    /// Runs a query; every row.
    pub(crate) async fn fetch_all(
        &mut self,
        sql: &Sql,
        context: &str,
    ) -> Result<Vec<DbRow>, ReadError> {
        let rows = match &mut self.transaction {
            Transaction_::Sqlite(transaction) => sql
                .sqlite()
                .map_err(ReadError::database(context))?
                .fetch_all(&mut **transaction)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Sqlite).collect()),
            Transaction_::Postgres(transaction) => sql
                .postgres()
                .fetch_all(&mut **transaction)
                .await
                .map(|rows| rows.into_iter().map(DbRow::Postgres).collect()),
        };
        rows.map_err(ReadError::database(context))
    }

    /// The checkpoint of `consumer`, read inside this transaction.
    pub(crate) async fn load_checkpoint(&mut self, consumer: &str) -> Result<Position, ReadError> {
        Ok(match &mut self.transaction {
            Transaction_::Sqlite(transaction) => {
                alpes_event_store::sqlite::load_checkpoint(transaction, consumer).await?
            }
            Transaction_::Postgres(transaction) => {
                PostgresCheckpoints::load_in(transaction, consumer).await?
            }
        })
    }

    /// Saves the checkpoint of `consumer` in this transaction: it commits with the rows.
    pub(crate) async fn save_checkpoint(
        &mut self,
        consumer: &str,
        position: Position,
    ) -> Result<(), ReadError> {
        match &mut self.transaction {
            Transaction_::Sqlite(transaction) => {
                alpes_event_store::sqlite::save_checkpoint(transaction, consumer, position).await?
            }
            Transaction_::Postgres(transaction) => {
                PostgresCheckpoints::save_in(transaction, consumer, position).await?
            }
        }
        Ok(())
    }

    /// Forgets the checkpoint of `consumer`.
    pub(crate) async fn delete_checkpoint(&mut self, consumer: &str) -> Result<(), ReadError> {
        let mut sql = Sql::new("DELETE FROM consumer_checkpoints WHERE consumer = ");
        sql.bind(consumer);
        self.execute(&sql, &format!("forgetting the checkpoint of {consumer}"))
            .await?;
        Ok(())
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), ReadError> {
        let done = match self.transaction {
            Transaction_::Sqlite(transaction) => transaction.commit().await,
            Transaction_::Postgres(transaction) => transaction.commit().await,
        };
        done.map_err(ReadError::database("committing to the views"))
    }
}
