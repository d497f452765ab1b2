//! The global log: every event of every aggregate, in commit order, readable from any
//! position. Projectors, saga reactors and the audit export all read through this trait.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, EventEnvelope};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A place in the global log; events are strictly ordered by it.
///
/// Two numbers so that every backend fits without loss:
/// - SQLite: `(rowid, 0)`;
/// - PostgreSQL: `(transaction_id, global_position)` — ordering by the transaction id first
///   is what makes the log gap-free (see ARCHITECTURE.md);
/// - EventStoreDB: `($all commit position, $all prepare position)`.
///
/// [`Position::START`] is before every event. Serialized as `"high:low"` (checkpoints,
/// consistency tokens, CLI arguments).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub high: u64,
    pub low: u64,
}

impl Position {
    pub const START: Position = Position { high: 0, low: 0 };

    pub fn new(high: u64, low: u64) -> Self {
        Position { high, low }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.high, self.low)
    }
}

/// The text of a position could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a log position (expected HIGH:LOW, e.g. 42:0)")]
pub struct InvalidPosition(pub String);

impl FromStr for Position {
    type Err = InvalidPosition;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidPosition(text.to_string());
        let (high, low) = text.split_once(':').ok_or_else(invalid)?;
        Ok(Position {
            high: high.parse().map_err(|_| invalid())?,
            low: low.parse().map_err(|_| invalid())?,
        })
    }
}

impl Serialize for Position {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One event as the global log hands it out: already upcast to the newest version.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    pub position: Position,
    pub recorded_at: DateTime<Utc>,
    /// The version the event was stored with, before upcasting (for the audit export).
    pub stored_version: String,
    /// The upcast event: aggregate type and id (the stream), sequence, type, version,
    /// payload and metadata. Shared, so that handing one event to every consumer that
    /// wants it copies no JSON.
    pub event: Arc<SerializedEvent>,
}

impl RecordedEvent {
    /// `{AggregateType}-{id}`, the stream name on every backend.
    pub fn stream(&self) -> String {
        format!("{}-{}", self.event.aggregate_type, self.event.aggregate_id)
    }

    /// The event's metadata as strings (correlation, causation, actor, ...).
    pub fn metadata(&self) -> HashMap<String, String> {
        // Read in place: a copy of the tree would cost as much again.
        HashMap::deserialize(&self.event.metadata).unwrap_or_default()
    }

    /// Deserializes the event for aggregate `A`; fails loudly, naming the stream, sequence
    /// and version, when this code cannot read it.
    pub fn decode<A: Aggregate>(&self) -> Result<EventEnvelope<A>, StoreError> {
        if self.event.aggregate_type != A::TYPE {
            return Err(StoreError::UnreadableEvent {
                stream: self.stream(),
                sequence: self.event.sequence as u64,
                event_type: self.event.event_type.clone(),
                event_version: self.event.event_version.clone(),
                reason: format!("not an event of {}", A::TYPE),
            });
        }
        crate::aggregate_store::decode_event(&self.event)
    }
}

/// Which events a reader wants, by aggregate type and event type.
pub type EventFilter<'a> = dyn Fn(&str, &str) -> bool + Send + Sync + 'a;

/// The events a reader wants among the next ones of the log.
#[derive(Debug, Default)]
pub struct WantedEvents {
    /// The wanted events, in commit order.
    pub events: Vec<RecordedEvent>,
    /// The position of the last event looked at, wanted or not; `None` when there was
    /// nothing after the position asked for.
    pub scanned_to: Option<Position>,
}

/// The ordered, gap-free log of all events, implemented by every backend.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Up to `limit` events strictly after `after`, in commit order. An event that is not
    /// yet safely visible to every reader (PostgreSQL: an older transaction still open) is
    /// not returned yet; it will be, later, after the same position.
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Like [`EventLog::read_after`], but hands out only the events `wanted` keeps among
    /// the next `limit`, and tells how far it looked. A backend that can, skips the others
    /// without building them.
    async fn read_wanted_after(
        &self,
        after: Position,
        limit: usize,
        wanted: &EventFilter<'_>,
    ) -> Result<WantedEvents, StoreError> {
        let events = self.read_after(after, limit).await?;
        let scanned_to = events.last().map(|event| event.position);
        Ok(WantedEvents {
            events: events
                .into_iter()
                .filter(|event| wanted(&event.event.aggregate_type, &event.event.event_type))
                .collect(),
            scanned_to,
        })
    }

    /// Returns when events after `after` may be readable, or after `timeout` at the latest
    /// (the polling fallback). Spurious wake-ups are allowed.
    async fn wait_for_events(&self, after: Position, timeout: Duration) -> Result<(), StoreError>;

    /// The last readable event's position and recorded time, `None` on an empty log.
    async fn head(&self) -> Result<Option<(Position, DateTime<Utc>)>, StoreError>;
}
