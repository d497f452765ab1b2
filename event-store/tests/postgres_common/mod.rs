//! What the PostgreSQL tests share: a fresh store per test and a small aggregate.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use alpes_event_store::postgres::PostgresEventStore;
use alpes_event_store::{EventLog, Position, RecordedEvent, StoreOptions};
use alpes_test_support::PostgresTestDb;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// A store on a database of its own; `None` when PostgreSQL is missing (SKIP printed).
pub async fn fresh_store() -> Option<(PostgresTestDb, PostgresEventStore)> {
    fresh_store_with(StoreOptions::default()).await
}

pub async fn fresh_store_with(
    options: StoreOptions,
) -> Option<(PostgresTestDb, PostgresEventStore)> {
    let db = PostgresTestDb::create().await.unwrap()?;
    let store = PostgresEventStore::connect(db.url(), &options)
        .await
        .unwrap();
    Some((db, store))
}

/// A counter: the smallest aggregate with a rule (it cannot go past its limit).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Counter {
    pub value: u64,
}

#[derive(Debug, Deserialize)]
pub enum CounterCommand {
    Increment { by: u64 },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum CounterEvent {
    Incremented { by: u64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "Incremented".to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, PartialEq)]
pub struct LimitReached;

impl fmt::Display for LimitReached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the counter cannot go past {}", Counter::LIMIT)
    }
}

impl std::error::Error for LimitReached {}

impl Counter {
    pub const LIMIT: u64 = 1_000_000;
}

impl Aggregate for Counter {
    const TYPE: &'static str = "Counter";
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = LimitReached;
    type Services = ();

    async fn handle(
        &mut self,
        command: CounterCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), LimitReached> {
        let CounterCommand::Increment { by } = command;
        if self.value + by > Counter::LIMIT {
            return Err(LimitReached);
        }
        sink.write(CounterEvent::Incremented { by }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CounterEvent) {
        let CounterEvent::Incremented { by } = event;
        self.value += by;
    }
}

/// The serialized event `sequence` of counter `id`, incremented by `by`.
pub fn incremented(id: &str, sequence: usize, by: u64) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: id.to_string(),
        sequence,
        aggregate_type: Counter::TYPE.to_string(),
        event_type: "Incremented".to_string(),
        event_version: "1.0".to_string(),
        payload: serde_json::json!({ "Incremented": { "by": by } }),
        metadata: serde_json::json!({ "writer": "test" }),
    }
}

/// Follows the log from `from` until `expected` events were read or `deadline` passed,
/// checking that positions only ever increase.
pub async fn follow(
    log: &dyn EventLog,
    from: Position,
    expected: usize,
    deadline: Duration,
) -> Vec<RecordedEvent> {
    let started = tokio::time::Instant::now();
    let mut seen: Vec<RecordedEvent> = Vec::new();
    let mut after = from;
    while seen.len() < expected && started.elapsed() < deadline {
        let batch = log.read_after(after, 500).await.unwrap();
        if batch.is_empty() {
            log.wait_for_events(after, Duration::from_millis(200))
                .await
                .unwrap();
            continue;
        }
        for event in batch {
            assert!(
                event.position > after,
                "position {} after {after}",
                event.position
            );
            after = event.position;
            seen.push(event);
        }
    }
    seen
}

/// (aggregate id, sequence) of each event, asserting that none appears twice.
pub fn unique_keys(events: &[RecordedEvent]) -> HashSet<(String, usize)> {
    let mut keys = HashSet::new();
    for event in events {
        let key = (event.event.aggregate_id.clone(), event.event.sequence);
        assert!(keys.insert(key.clone()), "{key:?} read twice");
    }
    keys
}
