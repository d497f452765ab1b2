//! The event store: backends chosen by URL (SQLite, PostgreSQL, EventStoreDB), the cqrs-es
//! repositories over them, the gap-free global log, and consumers with checkpoints and leases.
//!
//! See ../shared/ARCHITECTURE.md, "Backends" and "Consumers of the global log".

pub mod consumer;
pub mod error;
pub mod log;
pub mod options;
pub mod postgres;
pub mod upcasting;

pub use consumer::{CheckpointStore, Consumer, ConsumerError, Lease, LeaseProvider};
pub use error::StoreError;
pub use log::{EventLog, Position, RecordedEvent};
pub use options::StoreOptions;
pub use upcasting::{upcast, Upcasters};
