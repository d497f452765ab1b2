//! Consumer leases as PostgreSQL session advisory locks, each held by a connection of its
//! own: the server releases the lock when that session ends, so when the holding process
//! dies (or its connection does), a waiting instance takes over at once.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::{Lease, LeaseProvider, StoreError};

/// How long a liveness check of the holding connection may take before the lease counts
/// as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes the server notice a vanished peer: TCP keepalives end a holder's session when its
/// machine disappears, and the connection check ends a waiter whose process gave up (PG 14+).
const SESSION_SETTINGS: [&str; 4] = [
    "SET tcp_keepalives_idle = 10",
    "SET tcp_keepalives_interval = 5",
    "SET tcp_keepalives_count = 3",
    "SET client_connection_check_interval = '2s'",
];

/// One advisory lock per consumer name, keyed by a 64-bit hash of the name (a namespace
/// prefix keeps it apart from other users of advisory locks).
const LOCK: &str = "SELECT pg_advisory_lock(hashtextextended('alpes consumer ' || $1, 0))";

/// Hands out leases on the server of a [`super::PostgresEventStore`].
#[derive(Clone)]
pub struct PostgresLeases {
    options: PgConnectOptions,
}

impl PostgresLeases {
    /// Leases taken on the server (and database) that `options` connect to.
    pub fn new(options: PgConnectOptions) -> PostgresLeases {
        PostgresLeases { options }
    }
}

#[async_trait::async_trait]
impl LeaseProvider for PostgresLeases {
    /// Opens a connection of its own (application_name `alpes lease CONSUMER`) and waits on
    /// it until the lock is granted.
    async fn acquire(&self, consumer: &str) -> Result<Box<dyn Lease>, StoreError> {
        let failed = |action: &str, error: sqlx::Error| StoreError::Consumer {
            consumer: consumer.to_string(),
            reason: format!("{action} its lease on PostgreSQL: {error}"),
        };
        let mut connection = self
            .options
            .clone()
            .application_name(&format!("alpes lease {consumer}"))
            .connect()
            .await
            .map_err(|error| failed("cannot connect to take", error))?;
        for setting in SESSION_SETTINGS {
            if let Err(error) = sqlx::query(setting).execute(&mut connection).await {
                tracing::debug!(consumer, setting, %error, "lease connection setting not applied");
            }
        }
        tracing::debug!(consumer, "waiting for the lease");
        sqlx::query(LOCK)
            .bind(consumer)
            .execute(&mut connection)
            .await
            .map_err(|error| failed("lost the connection while waiting for", error))?;
        tracing::info!(consumer, "lease acquired");
        Ok(Box::new(PostgresLease {
            consumer: consumer.to_string(),
            connection: Some(connection),
        }))
    }
}

/// A held lease: the session that holds the advisory lock. Dropping it ends the session,
/// which releases the lock.
pub struct PostgresLease {
    consumer: String,
    /// `None` once the lease is lost.
    connection: Option<PgConnection>,
}

#[async_trait::async_trait]
impl Lease for PostgresLease {
    /// Pings the holding session; a session that does not answer is closed, so that the
    /// lock is surely free for the next instance and never held twice.
    async fn is_held(&mut self) -> bool {
        let Some(connection) = self.connection.as_mut() else {
            return false;
        };
        match tokio::time::timeout(PING_TIMEOUT, connection.ping()).await {
            Ok(Ok(())) => true,
            outcome => {
                tracing::warn!(consumer = %self.consumer, ?outcome, "lease lost: its connection is gone");
                self.connection = None;
                false
            }
        }
    }
}

impl Drop for PostgresLease {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        // A graceful goodbye frees the lock at once; without a runtime, closing the socket
        // does the same a moment later.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = connection.close().await;
            });
        }
        tracing::info!(consumer = %self.consumer, "lease released");
    }
}
