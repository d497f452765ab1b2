//! Read-only connections for aggregate loads and log reads, used straight from the calling
//! task: a load is one indexed lookup of a few microseconds, less than handing it to
//! another thread and waking up again (what a query through sqlx's SQLite worker costs).
//! Readers never wait for the writer (WAL).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::connection::open_reader;
use crate::StoreError;

/// Idle connections kept for reuse; more are opened when more callers read at once.
const KEEP_IDLE: usize = 8;

/// A pool of read-only connections to one file. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Readers {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Readers {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `read` on a connection of the pool, in the calling thread: for short reads.
    pub(crate) fn with<T>(
        &self,
        context: &str,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let connection = match self.take() {
            Some(connection) => connection,
            None => open_reader(&self.inner.path).map_err(|error| StoreError::Database {
                context: format!("{context}: opening a connection"),
                source: Box::new(error),
            })?,
        };
        let result = read(&connection);
        self.give_back(connection);
        result
    }

    /// Runs `read` on a blocking thread: for reads of many rows.
    pub(crate) async fn with_blocking<T: Send + 'static>(
        &self,
        context: &'static str,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.with(context, read))
            .await
            .map_err(|error| StoreError::Database {
                context: context.to_string(),
                source: Box::new(error),
            })?
    }

    fn take(&self) -> Option<Connection> {
        self.lock().pop()
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.lock();
        if idle.len() < KEEP_IDLE {
            idle.push(connection);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A Vec of connections cannot be left half-updated.
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
