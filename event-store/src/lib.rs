//! The event store: backends chosen by URL (SQLite, PostgreSQL, EventStoreDB), the cqrs-es
//! repositories over them, the gap-free global log, and consumers with checkpoints and leases.
//!
//! See ../shared/ARCHITECTURE.md, "Backends" and "Consumers of the global log".
//!
//! - [`EventStoreBackend::open`] opens the store named by an `--events` URL.
//! - [`AggregateStore`] loads and commits aggregates (cqrs-es `EventStore`), with upcasters
//!   and correct snapshots.
//! - [`EventLog`] reads every event in commit order; [`ConsumerRunner`] drives a
//!   [`Consumer`] along it.

pub mod aggregate_store;
pub mod backend;
pub mod bench;
pub mod consumer;
pub mod error;
pub mod esdb;
mod json;
pub mod log;
pub mod metric_handles;
pub mod options;
pub mod postgres;
pub mod runner;
pub mod sqlite;
pub mod upcasting;
pub mod url;

pub use aggregate_store::{AggregateStore, CommandOutcome, EachOutcome, PositionedRepository};
pub use backend::{EventRepository, EventStoreBackend};
pub use consumer::{CheckpointStore, Consumer, ConsumerError, Lease, LeaseProvider};
pub use error::StoreError;
pub use log::{EventFilter, EventLog, Position, RecordedEvent, WantedEvents};
pub use metric_handles::MetricHandles;
pub use options::StoreOptions;
pub use runner::{AtLeastOnceConsumer, ConsumerRunner, EventHandler, RunnerOptions, RunnerStats};
pub use upcasting::{upcast, Upcasters};
pub use url::{EventStoreUrl, DEFAULT_EVENTS_URL};
