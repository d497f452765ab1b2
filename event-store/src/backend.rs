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

use crate::aggregate_store::{AggregateStore, PositionedRepository};
use crate::esdb::{EsdbEventRepository, EsdbEventStore};
use crate::postgres::{PostgresEventStore, PostgresRepository};
use crate::sqlite::{SqliteEventRepository, SqliteEventStore};
use crate::url::EventStoreUrl;
use crate::{CheckpointStore, EventLog, LeaseProvider, Position, StoreError, StoreOptions};

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
    Postgres(PostgresEventStore),
    /// EventStoreDB keeps events only: checkpoints and leases live in the consumers' own
    /// SQL database ([`StoreOptions::consumer_database`]).
    EventStoreDb {
        events: EsdbEventStore,
        consumers: Box<Store>,
    },
}

impl Store {
    async fn open(
        parsed: &EventStoreUrl,
        url: &str,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        Ok(match parsed {
            EventStoreUrl::Sqlite { .. } => {
                Store::Sqlite(SqliteEventStore::connect(url, options).await?)
            }
            EventStoreUrl::Postgres { .. } => {
                Store::Postgres(PostgresEventStore::connect(url, options).await?)
            }
            EventStoreUrl::EventStoreDb { .. } => {
                let consumers = Self::consumer_database(parsed, options).await?;
                Store::EventStoreDb {
                    events: EsdbEventStore::connect(url, options).await?,
                    consumers: Box::new(consumers),
                }
            }
        })
    }

    async fn consumer_database(
        events: &EventStoreUrl,
        options: &StoreOptions,
    ) -> Result<Store, StoreError> {
        let Some(url) = &options.consumer_database else {
            return Err(StoreError::InvalidUrl {
                url: events.masked(),
                reason: "EventStoreDB keeps no consumer checkpoints or leases: give the \
                         consumers' database too (--views postgres://… or sqlite://PATH)"
                    .to_string(),
            });
        };
        let parsed = EventStoreUrl::parse(url)?;
        match parsed {
            EventStoreUrl::Sqlite { .. } => Ok(Store::Sqlite(
                SqliteEventStore::connect(url, options).await?,
            )),
            EventStoreUrl::Postgres { .. } => Ok(Store::Postgres(
                PostgresEventStore::connect(url, options).await?,
            )),
            EventStoreUrl::EventStoreDb { .. } => Err(StoreError::InvalidUrl {
                url: parsed.masked(),
                reason: "the consumers' database must be SQL (postgres://… or sqlite://PATH)"
                    .to_string(),
            }),
        }
    }
}

/// The cqrs-es repository of whichever backend is open. Cheap to clone.
#[derive(Clone)]
pub enum EventRepository {
    /// `sqlite://`
    Sqlite(SqliteEventRepository),
    /// `postgres://`
    Postgres(PostgresRepository),
    /// `esdb://`, `kurrentdb://`
    /// `esdb://`, `kurrentdb://` (boxed: its client settings are large).
    EventStoreDb(Box<EsdbEventRepository>),
}

/// Calls the same method on whichever repository is open.
macro_rules! dispatch {
    ($repository:expr, $inner:ident => $call:expr) => {
        match $repository {
            EventRepository::Sqlite($inner) => $call,
            EventRepository::Postgres($inner) => $call,
            EventRepository::EventStoreDb($inner) => $call,
        }
    };
}

impl EventStoreBackend {
    /// Opens the store named by `url` (see [`crate::url`]); a bad URL, an unreachable
    /// server or a refused login is one error naming the URL (password masked) and what to
    /// do.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let parsed = EventStoreUrl::parse(url)?;
        let store = Store::open(&parsed, url, &options).await?;
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
            Store::Postgres(store) => EventRepository::Postgres(store.repository()),
            Store::EventStoreDb { events, .. } => {
                EventRepository::EventStoreDb(Box::new(events.repository()))
            }
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

    /// The store of aggregate `A` without snapshots: for aggregates that only ever hold a
    /// handful of events, where looking for a snapshot costs a read on every load and
    /// saves none.
    pub fn aggregate_store_without_snapshots<A: Aggregate>(
        &self,
    ) -> AggregateStore<A, EventRepository> {
        AggregateStore::new(self.repository(), self.options.upcasters.clone(), None)
    }

    /// The global log, in commit order.
    pub fn log(&self) -> Arc<dyn EventLog> {
        match &self.store {
            Store::Sqlite(store) => store.log(),
            Store::Postgres(store) => store.log(),
            Store::EventStoreDb { events, .. } => events.log(),
        }
    }

    /// Where consumers without a transaction of their own keep their checkpoints.
    pub fn checkpoints(&self) -> Arc<dyn CheckpointStore> {
        Self::consumer_checkpoints(&self.store)
    }

    fn consumer_checkpoints(store: &Store) -> Arc<dyn CheckpointStore> {
        match store {
            Store::Sqlite(store) => store.checkpoints(),
            Store::Postgres(store) => Arc::new(store.checkpoints()),
            Store::EventStoreDb { consumers, .. } => Self::consumer_checkpoints(consumers),
        }
    }

    /// Who may run a consumer.
    pub fn leases(&self) -> Arc<dyn LeaseProvider> {
        Self::consumer_leases(&self.store)
    }

    fn consumer_leases(store: &Store) -> Arc<dyn LeaseProvider> {
        match store {
            Store::Sqlite(store) => store.leases(),
            Store::Postgres(store) => Arc::new(store.leases()),
            Store::EventStoreDb { consumers, .. } => Self::consumer_leases(consumers),
        }
    }

    /// The SQLite store, when that is the backend (SQL consumers on the same file save
    /// their checkpoint in their own transaction through it).
    pub fn as_sqlite(&self) -> Option<&SqliteEventStore> {
        match &self.store {
            Store::Sqlite(store) => Some(store),
            _ => None,
        }
    }

    /// The PostgreSQL store, when that is the backend.
    pub fn as_postgres(&self) -> Option<&PostgresEventStore> {
        match &self.store {
            Store::Postgres(store) => Some(store),
            _ => None,
        }
    }
}

impl EventRepository {
    /// Appends the events of one aggregate instance (and its snapshot) atomically and
    /// returns the global log position of the last one (`None` without events, or when the
    /// backend could not tell). A stale expected sequence fails with
    /// [`PersistenceError::OptimisticLockError`].
    pub async fn append<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        dispatch!(self, repository => repository.append::<A>(events, snapshot_update).await)
    }
}

impl PositionedRepository for EventRepository {
    async fn persist_at<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        dispatch!(self, repository => repository.persist_at::<A>(events, snapshot_update).await)
    }

    async fn synced(&self) -> Result<(), PersistenceError> {
        dispatch!(self, repository => repository.synced().await)
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        dispatch!(self, repository => repository.get_events::<A>(aggregate_id).await)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        dispatch!(self, repository => {
            repository.get_last_events::<A>(aggregate_id, last_sequence).await
        })
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        dispatch!(self, repository => repository.get_snapshot::<A>(aggregate_id).await)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        dispatch!(self, repository => repository.persist::<A>(events, snapshot_update).await)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        dispatch!(self, repository => repository.stream_events::<A>(aggregate_id).await)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        dispatch!(self, repository => repository.stream_all_events::<A>().await)
    }
}
