//! Consumers of the global log (projectors, saga reactors): a name, a checkpoint and a
//! lease, driven in order by a runner.

use std::sync::Arc;

use crate::{Position, RecordedEvent, StoreError};

/// Why a consumer could not handle a batch. The runner retries it with backoff.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConsumerError(pub Box<dyn std::error::Error + Send + Sync>);

impl ConsumerError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ConsumerError(error.into())
    }
}

impl From<StoreError> for ConsumerError {
    fn from(error: StoreError) -> Self {
        ConsumerError(Box::new(error))
    }
}

/// Something that folds the global log into its own state.
#[async_trait::async_trait]
pub trait Consumer: Send + Sync {
    /// Unique, stable name: the key of its checkpoint and lease.
    fn name(&self) -> &str;

    /// The position after which it resumes ([`Position::START`] when new).
    async fn checkpoint(&self) -> Result<Position, ConsumerError>;

    /// Handles a non-empty batch, in order, and durably records the last event's position
    /// as its checkpoint — in the same transaction as its own writes when it has any, so a
    /// crash can never separate the two (projectors), or right after them (reactors, whose
    /// commands are idempotent).
    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError>;

    /// Whether it handles events of this aggregate and event type at all. The runner hands
    /// it only those, and moves its checkpoint past the others with
    /// [`Consumer::skip_to`]. Default: every event.
    fn wants(&self, _aggregate_type: &str, _event_type: &str) -> bool {
        true
    }

    /// Records `position` as its checkpoint: every event up to it is handled or unwanted.
    /// The runner calls it now and then, so a consumer that wants few events still shows
    /// how far it is. Default: nothing (it would read the unwanted events again after a
    /// restart, and skip them again).
    async fn skip_to(&self, _position: Position) -> Result<(), ConsumerError> {
        Ok(())
    }
}

/// Where consumers without a transaction of their own keep their checkpoints.
#[async_trait::async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The saved position, or [`Position::START`].
    async fn load(&self, consumer: &str) -> Result<Position, StoreError>;
    async fn save(&self, consumer: &str, position: Position) -> Result<(), StoreError>;
}

/// Grants one running instance, at most, the right to run a consumer.
#[async_trait::async_trait]
pub trait LeaseProvider: Send + Sync {
    /// Waits until this process holds the lease of `consumer` (another instance may hold it
    /// now and die later).
    async fn acquire(&self, consumer: &str) -> Result<Box<dyn Lease>, StoreError>;
}

/// A held lease; dropping it releases it.
#[async_trait::async_trait]
pub trait Lease: Send + Sync {
    /// False once the lease is lost (e.g. the PostgreSQL connection holding the lock died);
    /// the runner then stops handling and tries to acquire it again.
    async fn is_held(&mut self) -> bool;
}

/// Shared handles a runner needs.
pub type SharedConsumer = Arc<dyn Consumer>;
