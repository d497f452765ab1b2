//! One exported record, its hash chain, and the trailer.

use alpes_event_store::sqlite::StoredEventText;
use alpes_event_store::RecordedEvent;
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use std::borrow::Cow;
use std::fmt::Write;

use crate::canonical::{canonical, write_canonical, write_string};
use crate::stored_json::{canonical_metadata, is_canonical};

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
            metadata: fields.metadata.to_value(),
            payload: fields.payload.to_value(),
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
            metadata: Json::Tree(&self.metadata),
            payload: Json::Tree(&self.payload),
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
    let mut hash = [0u8; 64];
    chain_hash_into(previous, canonical, &mut hash);
    String::from_utf8_lossy(&hash).into_owned()
}

/// [`chain_hash`] into a buffer, as ASCII hex digits.
pub(crate) fn chain_hash_into(previous: &str, canonical: &str, hash: &mut [u8; 64]) {
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(canonical.as_bytes());
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (index, byte) in hasher.finalize().iter().enumerate() {
        hash[2 * index] = DIGITS[usize::from(byte >> 4)];
        hash[2 * index + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// A JSON field of a record: a tree (a decoded event, a parsed record), or stored text that
/// is canonical already and is copied as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Json<'a> {
    Tree(&'a Value),
    Canonical(&'a str),
}

impl Json<'_> {
    fn write(self, out: &mut String) {
        match self {
            Json::Tree(value) => write_canonical(value, out),
            Json::Canonical(text) => out.push_str(text),
        }
    }

    /// The canonical text.
    pub(crate) fn to_canonical(self) -> String {
        match self {
            Json::Tree(value) => canonical(value),
            Json::Canonical(text) => text.to_string(),
        }
    }

    fn to_value(self) -> Value {
        match self {
            Json::Tree(value) => value.clone(),
            // Canonical text is JSON: it parses.
            Json::Canonical(text) => serde_json::from_str(text).unwrap_or_default(),
        }
    }
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
    pub metadata: Json<'a>,
    pub payload: Json<'a>,
}

/// The fields of a stored row, and what the filter needs that is not among them.
pub(crate) struct StoredFields<'a> {
    pub fields: Fields<'a>,
    pub recorded_at: DateTime<Utc>,
    /// The metadata's `correlation_id` string, even when empty.
    pub correlation_id: Option<&'a str>,
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
            recorded_at: Cow::Owned(micros(event.recorded_at)),
            correlation_id: meta("correlation_id"),
            causation_id: meta("causation_id"),
            actor: meta("actor"),
            metadata: Json::Tree(&stored.metadata),
            payload: Json::Tree(&stored.payload),
        }
    }

    /// The fields of a row stored at a version that no upcaster changes, its JSON copied as
    /// stored: the same fields as [`Fields::of_event`] of the decoded row. `None` when any
    /// of it is not canonical already (then the caller decodes the row). The position,
    /// stream and time are written into `scratch`, reused from record to record.
    pub(crate) fn of_stored<'s: 'a>(
        stored: &StoredEventText<'s>,
        scratch: &'a mut String,
    ) -> Option<StoredFields<'a>> {
        let sequence = u64::try_from(stored.sequence).ok()?;
        let recorded_at = DateTime::parse_from_rfc3339(stored.recorded_at)
            .ok()?
            .with_timezone(&Utc);
        let metadata = canonical_metadata(stored.metadata)?;
        if !is_canonical(stored.payload) {
            return None;
        }
        scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(scratch, "{}", stored.position);
        let position_end = scratch.len();
        let _ = write!(scratch, "{}-{}", stored.aggregate_type, stored.aggregate_id);
        let stream_end = scratch.len();
        push_micros(recorded_at, scratch);
        let scratch: &'a String = scratch;
        let non_empty = |text: Option<&'s str>| text.filter(|text| !text.is_empty());
        let fields = Fields {
            position: Cow::Borrowed(&scratch[..position_end]),
            stream: Cow::Borrowed(&scratch[position_end..stream_end]),
            aggregate_type: stored.aggregate_type,
            aggregate_id: stored.aggregate_id,
            sequence,
            event_type: stored.event_type,
            stored_version: stored.event_version,
            version: stored.event_version,
            recorded_at: Cow::Borrowed(&scratch[stream_end..]),
            correlation_id: non_empty(metadata.correlation_id),
            causation_id: non_empty(metadata.causation_id),
            actor: non_empty(metadata.actor),
            metadata: Json::Canonical(stored.metadata),
            payload: Json::Canonical(stored.payload),
        };
        Some(StoredFields {
            fields,
            recorded_at,
            correlation_id: metadata.correlation_id,
        })
    }

    /// Appends the canonical JSON of the record, with the hash when given. The keys are
    /// written in sorted order by hand (a test checks this against sorting them), which
    /// spares copying the payload into an intermediate JSON value for every event.
    pub(crate) fn write_canonical(&self, hash: Option<&str>, out: &mut String) {
        let start = out.len();
        let hash_at = self.write_without_hash(out);
        if let Some(hash) = hash {
            let mut member = String::from(",\"hash\":");
            write_string(hash, &mut member);
            out.insert_str(start + hash_at, &member);
        }
    }

    /// Appends the canonical JSON of the record without its hash, and returns where (from
    /// the start of what it appended) the `,"hash":…` member belongs in sorted order.
    pub(crate) fn write_without_hash(&self, out: &mut String) -> usize {
        let start = out.len();
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
        let hash_at = out.len() - start;
        out.push_str(",\"metadata\":");
        self.metadata.write(out);
        out.push_str(",\"payload\":");
        self.payload.write(out);
        out.push_str(",\"position\":");
        write_string(&self.position, out);
        out.push_str(",\"recorded_at\":");
        write_string(&self.recorded_at, out);
        out.push_str(",\"sequence\":");
        // Writing into a String cannot fail.
        let _ = write!(out, "{}", self.sequence);
        out.push_str(",\"stored_version\":");
        write_string(self.stored_version, out);
        out.push_str(",\"stream\":");
        write_string(&self.stream, out);
        out.push_str(",\"version\":");
        write_string(self.version, out);
        out.push('}');
        hash_at
    }
}

/// RFC 3339, UTC, microseconds: how records show times.
fn micros(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Appends [`micros`] of `time` without allocating (years 0–9999; others through chrono).
fn push_micros(time: DateTime<Utc>, out: &mut String) {
    let nanosecond = time.nanosecond();
    if !(0..=9999).contains(&time.year()) || nanosecond >= 1_000_000_000 {
        out.push_str(&micros(time));
        return;
    }
    let fields = [
        (time.year() as u32, 4, '-'),
        (time.month(), 2, '-'),
        (time.day(), 2, 'T'),
        (time.hour(), 2, ':'),
        (time.minute(), 2, ':'),
        (time.second(), 2, '.'),
        (nanosecond / 1_000, 6, 'Z'),
    ];
    for (value, width, separator) in fields {
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(separator);
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

    #[test]
    fn a_canonical_stored_row_gives_the_fields_of_the_decoded_row() {
        let stored = StoredEventText {
            position: alpes_event_store::Position::new(9, 0),
            recorded_at: "2026-01-01T00:00:00.123Z",
            aggregate_type: "Campana",
            aggregate_id: "c-1",
            sequence: 2,
            event_type: "CampanaActivada",
            event_version: "1.0",
            payload: r#"{"a":[1,"x\ny"],"b":null}"#,
            metadata: r#"{"actor":"ana","causation_id":"","correlation_id":"j-1"}"#,
        };
        let mut scratch = String::new();
        let copied = Fields::of_stored(&stored, &mut scratch).expect("canonical as stored");
        let decoded = stored.decode().unwrap();
        let (mut ours, mut theirs) = (String::new(), String::new());
        copied.fields.write_canonical(Some("h"), &mut ours);
        Fields::of_event(&decoded).write_canonical(Some("h"), &mut theirs);
        assert_eq!(ours, theirs);
        assert_eq!(copied.correlation_id, Some("j-1"));
        let unsorted = StoredEventText {
            payload: r#"{"b":1,"a":2}"#,
            ..stored
        };
        assert!(Fields::of_stored(&unsorted, &mut String::new()).is_none());
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        for text in [
            "2026-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999999999+01:00",
            "0001-02-03T04:05:06.7Z",
            "2016-12-31T23:59:60.5Z",
            "9999-12-31T23:59:59.123456Z",
        ] {
            let time = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            let mut ours = String::new();
            push_micros(time, &mut ours);
            assert_eq!(ours, micros(time), "{text}");
        }
        let far = DateTime::<Utc>::MAX_UTC;
        let mut ours = String::new();
        push_micros(far, &mut ours);
        assert_eq!(ours, micros(far));
    }
}
