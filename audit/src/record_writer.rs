//! Writing records in one format, chaining their hashes.

use std::io::Write;

use crate::canonical::canonical;
use crate::export::{Format, CSV_HEADER, CSV_TRAILER};
use crate::record::{chain_hash_into, Fields, Trailer, GENESIS_HASH};
use crate::AuditError;

/// Writes records in one format, chaining their hashes.
pub(crate) struct RecordWriter<W: Write> {
    jsonl: Option<W>,
    csv: Option<csv::Writer<W>>,
    previous_hash: String,
    count: u64,
    first_position: Option<String>,
    last_position: String,
    /// Reused for every record's canonical text.
    line: String,
}

impl<W: Write> RecordWriter<W> {
    pub(crate) fn new(format: Format, out: W) -> Result<Self, AuditError> {
        let (jsonl, csv) = match format {
            Format::Jsonl => (Some(out), None),
            Format::Csv => {
                let mut csv = csv::WriterBuilder::new().flexible(false).from_writer(out);
                csv.write_record(CSV_HEADER)
                    .map_err(|err| csv_error("writing the CSV header", err))?;
                (None, Some(csv))
            }
        };
        Ok(RecordWriter {
            jsonl,
            csv,
            previous_hash: GENESIS_HASH.to_string(),
            count: 0,
            first_position: None,
            last_position: String::new(),
            line: String::new(),
        })
    }

    pub(crate) fn write(&mut self, fields: &Fields<'_>) -> Result<(), AuditError> {
        self.line.clear();
        let hash_at = fields.write_without_hash(&mut self.line);
        let mut hash = [0u8; 64];
        chain_hash_into(&self.previous_hash, &self.line, &mut hash);
        if let Some(out) = &mut self.jsonl {
            // The record with its hash: the canonical text with the hash member spliced in
            // where sorted order puts it.
            let (before, after) = self.line.as_bytes().split_at(hash_at);
            out.write_all(before)
                .and_then(|_| out.write_all(b",\"hash\":\""))
                .and_then(|_| out.write_all(&hash))
                .and_then(|_| out.write_all(b"\""))
                .and_then(|_| out.write_all(after))
                .and_then(|_| out.write_all(b"\n"))
                .map_err(AuditError::io("writing the export"))?;
        }
        let hash = std::str::from_utf8(&hash).unwrap_or_default();
        if let Some(csv) = &mut self.csv {
            csv.write_record(csv_row(fields, hash))
                .map_err(|err| csv_error("writing a CSV row", err))?;
        }
        if self.first_position.is_none() {
            self.first_position = Some(fields.position.to_string());
        }
        self.last_position.clear();
        self.last_position.push_str(&fields.position);
        self.previous_hash.clear();
        self.previous_hash.push_str(hash);
        self.count += 1;
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Trailer, AuditError> {
        let trailer = Trailer {
            count: self.count,
            first_position: self.first_position,
            last_position: (self.count > 0).then_some(self.last_position),
            final_hash: self.previous_hash,
        };
        if let Some(mut out) = self.jsonl {
            let value = serde_json::json!({ "trailer": trailer });
            writeln!(out, "{}", canonical(&value))
                .and_then(|_| out.flush())
                .map_err(AuditError::io("writing the export trailer"))?;
        }
        if let Some(mut csv) = self.csv {
            csv.write_record(trailer_row(&trailer))
                .map_err(|err| csv_error("writing the CSV trailer", err))?;
            csv.flush().map_err(AuditError::io("writing the export"))?;
        }
        Ok(trailer)
    }
}

fn csv_row(fields: &Fields<'_>, hash: &str) -> Vec<String> {
    let optional = |value: Option<&str>| value.unwrap_or_default().to_string();
    vec![
        fields.position.to_string(),
        fields.stream.to_string(),
        fields.aggregate_type.to_string(),
        fields.aggregate_id.to_string(),
        fields.sequence.to_string(),
        fields.event_type.to_string(),
        fields.stored_version.to_string(),
        fields.version.to_string(),
        fields.recorded_at.to_string(),
        optional(fields.correlation_id),
        optional(fields.causation_id),
        optional(fields.actor),
        fields.metadata.to_canonical(),
        fields.payload.to_canonical(),
        hash.to_string(),
    ]
}

pub(crate) fn trailer_row(trailer: &Trailer) -> Vec<String> {
    let mut row = vec![
        CSV_TRAILER.to_string(),
        trailer.count.to_string(),
        trailer.first_position.clone().unwrap_or_default(),
        trailer.last_position.clone().unwrap_or_default(),
        trailer.final_hash.clone(),
    ];
    row.resize(CSV_HEADER.len(), String::new());
    row
}

fn csv_error(context: &str, err: csv::Error) -> AuditError {
    AuditError::Io {
        context: context.to_string(),
        source: std::io::Error::other(err.to_string()),
    }
}
