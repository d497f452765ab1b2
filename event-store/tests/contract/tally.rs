//! The small aggregate the contract suite writes: a tally of labelled amounts.

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Sum of the amounts added, how many, and their labels in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub total: i64,
    pub entries: u64,
    pub labels: Vec<String>,
}

#[derive(Debug)]
pub enum TallyCommand {
    Add { amount: i64, label: String },
    AddMany { amounts: Vec<i64> },
}

/// Version 2.0: `amount` and `label`. Version 1.0 had only `value` (see [`upcaster`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TallyEvent {
    Added { amount: i64, label: String },
}

/// Written as cqrs-es's semantic-version upcaster writes it, so the upcast event is read as
/// the current version.
pub const EVENT_VERSION: &str = "2.0.0";

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> String {
        "Added".to_string()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("an amount of zero adds nothing")]
pub struct ZeroAmount;

impl Aggregate for Tally {
    const TYPE: &'static str = "Tally";
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = ZeroAmount;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let additions = match command {
            TallyCommand::Add { amount, label } => vec![(amount, label)],
            TallyCommand::AddMany { amounts } => amounts
                .into_iter()
                .map(|amount| (amount, format!("many-{amount}")))
                .collect(),
        };
        if additions.iter().any(|(amount, _)| *amount == 0) {
            return Err(ZeroAmount);
        }
        for (amount, label) in additions {
            sink.write(TallyEvent::Added { amount, label }, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let TallyEvent::Added { amount, label } = event;
        self.total += amount;
        self.entries += 1;
        self.labels.push(label);
    }
}

pub fn added(amount: i64, label: &str) -> TallyEvent {
    TallyEvent::Added {
        amount,
        label: label.to_string(),
    }
}

/// 1.0 → 2.0: `value` became `amount`, and events gained a `label` ("legacy" for old ones).
pub fn upcaster() -> Box<dyn EventUpcaster> {
    Box::new(SemanticVersionEventUpcaster::new(
        "Added",
        EVENT_VERSION,
        Box::new(|payload: Value| {
            let value = payload["Added"]["value"].clone();
            json!({ "Added": { "amount": value, "label": "legacy" } })
        }),
    ))
}

/// An event of the tally `id` as version 1.0 stored it.
pub fn version_one_event(id: &str, sequence: usize, value: i64) -> SerializedEvent {
    SerializedEvent::new(
        id.to_string(),
        sequence,
        Tally::TYPE.to_string(),
        "Added".to_string(),
        "1.0".to_string(),
        json!({ "Added": { "value": value } }),
        json!({}),
    )
}

/// A stored event of the current version.
pub fn serialized(id: &str, sequence: usize, event: &TallyEvent) -> SerializedEvent {
    SerializedEvent::new(
        id.to_string(),
        sequence,
        Tally::TYPE.to_string(),
        event.event_type(),
        event.event_version(),
        serde_json::to_value(event).unwrap(),
        json!({}),
    )
}
