//! One exported record, its hash chain, and the trailer.

use alpes_event_store::RecordedEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::canonical;

/// The "previous hash" of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event of the log as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub position: String,
    pub stream: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    /// The version as stored.
    pub stored_version: String,
    /// The version after upcasting (equal to `stored_version` in a `--raw` export).
    pub version: String,
    /// RFC 3339, UTC, microseconds.
    pub recorded_at: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub actor: Option<String>,
    /// Every metadata entry, including the three above.
    pub metadata: Value,
    pub payload: Value,
    /// `sha256(previous hash ‖ canonical record)`, hex; empty while being computed.
    #[serde(default)]
    pub hash: String,
}

impl AuditRecord {
    /// The record of one logged event.
    pub fn from_event(event: &RecordedEvent) -> Self {
        let stored = &event.event;
        let meta = |key: &str| {
            stored
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        };
        AuditRecord {
            position: event.position.to_string(),
            stream: event.stream(),
            aggregate_type: stored.aggregate_type.clone(),
            aggregate_id: stored.aggregate_id.clone(),
            sequence: stored.sequence as u64,
            event_type: stored.event_type.clone(),
            stored_version: event.stored_version.clone(),
            version: stored.event_version.clone(),
            recorded_at: event
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            correlation_id: meta("correlation_id"),
            causation_id: meta("causation_id"),
            actor: meta("actor"),
            metadata: stored.metadata.clone(),
            payload: stored.payload.clone(),
            hash: String::new(),
        }
    }

    /// The canonical text the hash covers: every field but the hash itself.
    pub fn canonical(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("hash");
        }
        canonical(&value)
    }

    /// Computes this record's hash after `previous`.
    pub fn chain_hash(&self, previous: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(previous.as_bytes());
        hasher.update(self.canonical().as_bytes());
        hex(&hasher.finalize())
    }
}

/// The last line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub count: u64,
    pub first_position: Option<String>,
    pub last_position: Option<String>,
    pub final_hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
