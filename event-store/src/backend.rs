//! Opening the event store named by the `--events` URL.
//!
//! Each backend module exposes `XxxEventStore::connect(url, &StoreOptions)`, `.repository()`,
//! `.log()`, `.checkpoints()` and `.leases()`; this file only dispatches between them.

use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;

use crate::aggregate_store::AggregateStore;
use crate::sqlite::{SqliteEventRepository, SqliteEventStore};
use crate::url::EventStoreUrl;
use crate::{CheckpointStore, EventLog, LeaseProvider, StoreError, StoreOptions};

/// An open event store, whichever backend the URL chose.
#[derive(Clone)]
pub struct EventStoreBackend {
    url: EventStoreUrl,
    options: StoreOptions,
    store: Store,
}

#[derive(Clone)]
enum Store {
    Sqlite(SqliteEventStore),
}

/// The cqrs-es repository of whichever backend is open. Cheap to clone.
#[derive(Clone)]
pub enum EventRepository {
    /// `sqlite://`
    Sqlite(SqliteEventRepository),
}

impl EventStoreBackend {
    /// Opens the store named by `url` (see [`crate::url`]); a bad URL, an unreachable
    /// server or a refused login is one error naming the URL (password masked) and what to
    /// do.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let parsed = EventStoreUrl::parse(url)?;
        let store = match &parsed {
            EventStoreUrl::Sqlite { .. } => {
                Store::Sqlite(SqliteEventStore::connect(url, &options).await?)
            }
            // wired when postgres/ and esdb/ land
            EventStoreUrl::Postgres { .. } | EventStoreUrl::EventStoreDb { .. } => {
                return Err(StoreError::InvalidUrl {
                    url: parsed.masked(),
                    reason: format!(
                        "the {} backend is not available in this build yet; use \
                         sqlite://PATH (e.g. sqlite://data/alpes.db)",
                        parsed.backend_name()
                    ),
                })
            }
        };
        tracing::info!(url = %parsed, backend = parsed.backend_name(), "event store open");
        Ok(EventStoreBackend {
            url: parsed,
            options,
            store,
        })
    }

    /// The URL it was opened with (displays with the password masked).
    pub fn url(&self) -> &EventStoreUrl {
        &self.url
    }

    /// The options it was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// The cqrs-es repository.
    pub fn repository(&self) -> EventRepository {
        match &self.store {
            Store::Sqlite(store) => EventRepository::Sqlite(store.repository()),
        }
    }

    /// The store of aggregate `A`, with the backend's upcasters and snapshot policy.
    pub fn aggregate_store<A: Aggregate>(&self) -> AggregateStore<A, EventRepository> {
        AggregateStore::new(
            self.repository(),
            self.options.upcasters.clone(),
            self.options.snapshot_every,
        )
    }

    /// The global log, in commit order.
    pub fn log(&self) -> Arc<dyn EventLog> {
        match &self.store {
            Store::Sqlite(store) => store.log(),
        }
    }

    /// Where consumers without a transaction of their own keep their checkpoints.
    pub fn checkpoints(&self) -> Arc<dyn CheckpointStore> {
        match &self.store {
            Store::Sqlite(store) => store.checkpoints(),
        }
    }

    /// Who may run a consumer.
    pub fn leases(&self) -> Arc<dyn LeaseProvider> {
        match &self.store {
            Store::Sqlite(store) => store.leases(),
        }
    }

    /// The SQLite store, when that is the backend (SQL consumers on the same file save
    /// their checkpoint in their own transaction through it).
    pub fn as_sqlite(&self) -> Option<&SqliteEventStore> {
        match &self.store {
            Store::Sqlite(store) => Some(store),
        }
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            EventRepository::Sqlite(repository) => repository.get_events::<A>(aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            EventRepository::Sqlite(repository) => {
                repository
                    .get_last_events::<A>(aggregate_id, last_sequence)
                    .await
            }
        }
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        match self {
            EventRepository::Sqlite(repository) => repository.get_snapshot::<A>(aggregate_id).await,
        }
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        match self {
            EventRepository::Sqlite(repository) => {
                repository.persist::<A>(events, snapshot_update).await
            }
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        match self {
            EventRepository::Sqlite(repository) => {
                repository.stream_events::<A>(aggregate_id).await
            }
        }
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match self {
            EventRepository::Sqlite(repository) => repository.stream_all_events::<A>().await,
        }
    }
}
