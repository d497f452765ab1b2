//! Shared by the EventStoreDB integration tests: connecting (or skipping loudly when no
//! server is configured) and a small aggregate to store.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use alpes_event_store::esdb::EsdbEventStore;
use alpes_event_store::StoreOptions;
use alpes_test_support::eventstore::{url_or_skip, URL_VARIABLE};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Connects to `EVENTSTORE_URL` with the test upcaster, or says loudly that `test` is skipped.
pub async fn connect(test: &str) -> Option<EsdbEventStore> {
    let url = url_or_skip(test)?;
    let options = StoreOptions {
        upcasters: Arc::new(vec![Box::new(AddedV1ToV2) as Box<dyn EventUpcaster>]),
        ..StoreOptions::default()
    };
    match EsdbEventStore::connect(&url, &options).await {
        Ok(store) => Some(store),
        Err(error) => panic!("{URL_VARIABLE} is set but unusable: {error}"),
    }
}

/// A fresh aggregate id, so tests never share a stream.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A counter: the smallest aggregate with state to snapshot.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    pub total: i64,
    pub notes: Vec<String>,
}

/// What happens to a counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CounterEvent {
    Added { amount: i64, note: String },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "Added".to_string()
    }

    fn event_version(&self) -> String {
        "2.0".to_string()
    }
}

/// Counters take no commands in these tests: events are persisted directly.
#[derive(Debug, thiserror::Error)]
#[error("counters take no commands")]
pub struct NoCommands;

impl Aggregate for Counter {
    const TYPE: &'static str = "EsdbTestCounter";
    type Command = ();
    type Event = CounterEvent;
    type Error = NoCommands;
    type Services = ();

    async fn handle(
        &mut self,
        _command: (),
        _services: &(),
        _sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), NoCommands> {
        Err(NoCommands)
    }

    fn apply(&mut self, event: CounterEvent) {
        let CounterEvent::Added { amount, note } = event;
        self.total += amount;
        self.notes.push(note);
    }
}

/// A stored `Added` event at `sequence`, as version 2.0 writes it.
pub fn added(aggregate_id: &str, sequence: usize, amount: i64) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: aggregate_id.to_string(),
        sequence,
        aggregate_type: Counter::TYPE.to_string(),
        event_type: "Added".to_string(),
        event_version: "2.0".to_string(),
        payload: serde_json::to_value(CounterEvent::Added {
            amount,
            note: format!("#{sequence}"),
        })
        .unwrap(),
        metadata: json!({"correlation_id": format!("corr-{aggregate_id}-{sequence}"), "actor": "tests"}),
    }
}

/// The same event as version 1.0 stored it: no note yet.
pub fn added_v1(aggregate_id: &str, sequence: usize, amount: i64) -> SerializedEvent {
    SerializedEvent {
        event_version: "1.0".to_string(),
        payload: json!({"Added": {"amount": amount}}),
        ..added(aggregate_id, sequence, amount)
    }
}

/// `Added` 1.0 → 2.0: the note defaults to `"(v1)"`.
pub struct AddedV1ToV2;

impl EventUpcaster for AddedV1ToV2 {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == "Added" && event_version == "1.0"
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        if let Some(Value::Object(fields)) = event.payload.get_mut("Added") {
            fields.insert("note".to_string(), json!("(v1)"));
        }
        event.event_version = "2.0".to_string();
        event
    }
}
