//! The SQL database where the write side keeps its own small tables (idempotency keys, the
//! commissions known to the comisiones service): the event store's database on SQLite and
//! PostgreSQL, the consumers' (views) database when the events live in EventStoreDB.
//! The tables are created by migrations/{sqlite,postgres}/20250201* with the event store's.

use alpes_event_store::postgres::PostgresEventStore;
use alpes_event_store::sqlite::SqliteEventStore;
use alpes_event_store::{EventStoreBackend, EventStoreUrl, StoreError};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

/// A pool on the write side's SQL database.
#[derive(Clone, Debug)]
pub enum SqlDatabase {
    /// An SQLite file (the event store's).
    Sqlite(SqliteTables),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

/// The write side's tables in an SQLite file: read on its pool, written in batches through
/// the file's writer (see [`SqliteEventStore::write`]).
#[derive(Clone, Debug)]
pub struct SqliteTables {
    pub pool: SqlitePool,
    pub store: SqliteEventStore,
}

impl SqliteTables {
    fn of(store: &SqliteEventStore) -> Self {
        SqliteTables {
            pool: store.pool().clone(),
            store: store.clone(),
        }
    }
}

impl SqlDatabase {
    /// The event store's own database, or, for EventStoreDB, the SQL database at
    /// `views_url` (opened and migrated here).
    pub async fn for_backend(
        backend: &EventStoreBackend,
        views_url: Option<&str>,
    ) -> Result<SqlDatabase, StoreError> {
        if let Some(sqlite) = backend.as_sqlite() {
            return Ok(SqlDatabase::Sqlite(SqliteTables::of(sqlite)));
        }
        if let Some(postgres) = backend.as_postgres() {
            return Ok(SqlDatabase::Postgres(postgres.pool().clone()));
        }
        let Some(url) = views_url else {
            return Err(StoreError::InvalidUrl {
                url: backend.url().masked(),
                reason: "EventStoreDB keeps no SQL tables: give the views database too \
                         (--views postgres://… or sqlite://PATH)"
                    .to_string(),
            });
        };
        match EventStoreUrl::parse(url)? {
            EventStoreUrl::Sqlite { .. } => {
                let store = SqliteEventStore::connect(url, backend.options()).await?;
                Ok(SqlDatabase::Sqlite(SqliteTables::of(&store)))
            }
            EventStoreUrl::Postgres { .. } => {
                let store = PostgresEventStore::connect(url, backend.options()).await?;
                Ok(SqlDatabase::Postgres(store.pool().clone()))
            }
            other => Err(StoreError::InvalidUrl {
                url: other.masked(),
                reason: "the views database must be SQL (postgres://… or sqlite://PATH)"
                    .to_string(),
            }),
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                sqlx::query("SELECT 1").execute(pool).await.map(drop)
            }
            SqlDatabase::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }
}
