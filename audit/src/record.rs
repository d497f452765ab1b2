//! One exported record, its hash chain, and the trailer.

use alpes_event_store::RecordedEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use std::borrow::Cow;

use crate::canonical::{write_canonical, write_string};

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
        let fields = Fields::of_event(event);
        AuditRecord {
            position: fields.position.into_owned(),
            stream: fields.stream.into_owned(),
            aggregate_type: fields.aggregate_type.to_string(),
            aggregate_id: fields.aggregate_id.to_string(),
            sequence: fields.sequence,
            event_type: fields.event_type.to_string(),
            stored_version: fields.stored_version.to_string(),
            version: fields.version.to_string(),
            recorded_at: fields.recorded_at.into_owned(),
            correlation_id: fields.correlation_id.map(str::to_string),
            causation_id: fields.causation_id.map(str::to_string),
            actor: fields.actor.map(str::to_string),
            metadata: fields.metadata.clone(),
            payload: fields.payload.clone(),
            hash: String::new(),
        }
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            position: Cow::Borrowed(&self.position),
            stream: Cow::Borrowed(&self.stream),
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            stored_version: &self.stored_version,
            version: &self.version,
            recorded_at: Cow::Borrowed(&self.recorded_at),
            correlation_id: self.correlation_id.as_deref(),
            causation_id: self.causation_id.as_deref(),
            actor: self.actor.as_deref(),
            metadata: &self.metadata,
            payload: &self.payload,
        }
    }

    /// The canonical text the hash covers: every field but the hash itself.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        self.fields().write_canonical(None, &mut out);
        out
    }

    /// Computes this record's hash after `previous`.
    pub fn chain_hash(&self, previous: &str) -> String {
        chain_hash(previous, &self.canonical())
    }
}

/// `sha256(previous hash ‖ canonical record)`, hex.
pub(crate) fn chain_hash(previous: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(canonical.as_bytes());
    hex(&hasher.finalize())
}

/// A record's fields, borrowed from a logged event (the export: no copy of the payload)
/// or from a parsed record (verification).
pub(crate) struct Fields<'a> {
    pub position: Cow<'a, str>,
    pub stream: Cow<'a, str>,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: u64,
    pub event_type: &'a str,
    pub stored_version: &'a str,
    pub version: &'a str,
    pub recorded_at: Cow<'a, str>,
    pub correlation_id: Option<&'a str>,
    pub causation_id: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub metadata: &'a Value,
    pub payload: &'a Value,
}

impl<'a> Fields<'a> {
    pub(crate) fn of_event(event: &'a RecordedEvent) -> Self {
        let stored = &event.event;
        let meta = |key: &str| {
            stored
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
        };
        Fields {
            position: Cow::Owned(event.position.to_string()),
            stream: Cow::Owned(event.stream()),
            aggregate_type: &stored.aggregate_type,
            aggregate_id: &stored.aggregate_id,
            sequence: stored.sequence as u64,
            event_type: &stored.event_type,
            stored_version: &event.stored_version,
            version: &stored.event_version,
            recorded_at: Cow::Owned(
                event
                    .recorded_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ),
            correlation_id: meta("correlation_id"),
            causation_id: meta("causation_id"),
            actor: meta("actor"),
            metadata: &stored.metadata,
            payload: &stored.payload,
        }
    }

    /// Appends the canonical JSON of the record, with the hash when given. The keys are
    /// written in sorted order by hand (a test checks this against sorting them), which
    /// spares copying the payload into an intermediate JSON value for every event.
    pub(crate) fn write_canonical(&self, hash: Option<&str>, out: &mut String) {
        let optional = |value: Option<&str>, out: &mut String| match value {
            Some(text) => write_string(text, out),
            None => out.push_str("null"),
        };
        out.push_str("{\"actor\":");
        optional(self.actor, out);
        out.push_str(",\"aggregate_id\":");
        write_string(self.aggregate_id, out);
        out.push_str(",\"aggregate_type\":");
        write_string(self.aggregate_type, out);
        out.push_str(",\"causation_id\":");
        optional(self.causation_id, out);
        out.push_str(",\"correlation_id\":");
        optional(self.correlation_id, out);
        out.push_str(",\"event_type\":");
        write_string(self.event_type, out);
        if let Some(hash) = hash {
            out.push_str(",\"hash\":");
            write_string(hash, out);
        }
        out.push_str(",\"metadata\":");
        write_canonical(self.metadata, out);
        out.push_str(",\"payload\":");
        write_canonical(self.payload, out);
        out.push_str(",\"position\":");
        write_string(&self.position, out);
        out.push_str(",\"recorded_at\":");
        write_string(&self.recorded_at, out);
        out.push_str(",\"sequence\":");
        out.push_str(&self.sequence.to_string());
        out.push_str(",\"stored_version\":");
        write_string(self.stored_version, out);
        out.push_str(",\"stream\":");
        write_string(&self.stream, out);
        out.push_str(",\"version\":");
        write_string(self.version, out);
        out.push('}');
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_ordered_keys_equal_sorted_keys() {
        let record = AuditRecord {
            position: "7:0".into(),
            stream: "Campana-1".into(),
            aggregate_type: "Campana".into(),
            aggregate_id: "1".into(),
            sequence: 3,
            event_type: "CampanaActivada".into(),
            stored_version: "1.0".into(),
            version: "1.0".into(),
            recorded_at: "2026-01-01T00:00:00.000000Z".into(),
            correlation_id: Some("j\"1".into()),
            causation_id: None,
            actor: Some("ana".into()),
            metadata: serde_json::json!({"b": 1, "a": "x"}),
            payload: serde_json::json!({"CampanaActivada": null}),
            hash: "abc".into(),
        };
        let mut without_hash = serde_json::to_value(&record).unwrap();
        without_hash.as_object_mut().unwrap().remove("hash");
        assert_eq!(
            record.canonical(),
            crate::canonical::canonical(&without_hash)
        );
        let mut with_hash = String::new();
        record.fields().write_canonical(Some("abc"), &mut with_hash);
        assert_eq!(
            with_hash,
            crate::canonical::canonical(&serde_json::to_value(&record).unwrap())
        );
    }
}
