//! The PostgreSQL backend (`postgres://…`): postgres-es's event table plus the columns of a
//! gap-free global log, a cqrs-es repository with group commit, the log itself (woken by
//! LISTEN/NOTIFY), checkpoints and advisory-lock leases.
//!
//! See ARCHITECTURE.md, "Gap-free global order on PostgreSQL".

mod batching;
mod checkpoints;
mod connect;
mod group_commit;
mod group_read;
mod leases;
mod log;
mod repository;
mod rows;

use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool};

pub use checkpoints::PostgresCheckpoints;
pub use leases::{PostgresLease, PostgresLeases};
pub use log::PostgresLog;
pub use repository::PostgresRepository;

use crate::{EventLog, StoreError, StoreOptions};

/// An open PostgreSQL event store: a pool on a migrated database.
///
/// Cheap to clone; every clone shares the pool, the group-commit writers and the listener.
#[derive(Clone)]
pub struct PostgresEventStore {
    pool: PgPool,
    connect_options: PgConnectOptions,
    repository: PostgresRepository,
    log: Arc<PostgresLog>,
}

impl PostgresEventStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`) and brings its
    /// tables up to date (migrations/postgres).
    ///
    /// A URL that cannot be parsed, a server that cannot be reached, refused credentials or a
    /// missing database each give one [`StoreError`] that names the URL (password masked)
    /// and says what to do.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect_options = connect::parse_url(url)?;
        connect::check(url, &connect_options).await?;
        let pool = connect::open_pool(url, &connect_options, options.max_connections).await?;
        connect::migrate(url, &pool).await?;
        Ok(PostgresEventStore {
            repository: PostgresRepository::new(pool.clone()),
            log: Arc::new(PostgresLog::new(
                connect::open_log_pool(&connect_options),
                options.upcasters.clone(),
            )),
            pool,
            connect_options,
        })
    }

    /// The cqrs-es repository of this store (events as stored; the aggregate store upcasts).
    pub fn repository(&self) -> PostgresRepository {
        self.repository.clone()
    }

    /// The global log, every event upcast.
    pub fn log(&self) -> Arc<dyn EventLog> {
        self.log.clone()
    }

    /// Checkpoints kept in this database.
    pub fn checkpoints(&self) -> PostgresCheckpoints {
        PostgresCheckpoints::new(self.pool.clone())
    }

    /// Leases (advisory locks) taken on this database's server.
    pub fn leases(&self) -> PostgresLeases {
        PostgresLeases::new(self.connect_options.clone())
    }

    /// The connection pool, for callers that keep their own tables in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
