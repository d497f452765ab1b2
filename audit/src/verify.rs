//! Recomputing an export's hash chain.

use std::io::BufRead;

use serde_json::Value;

use crate::export::{CSV_HEADER, CSV_TRAILER};
use crate::record::{AuditRecord, Trailer, GENESIS_HASH};
use crate::AuditError;

/// A verified export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    pub trailer: Trailer,
}

/// Checks every record's hash against the chain and the trailer against the records. The
/// error names the first record (its number, line and position) that does not match.
pub fn verify(input: impl BufRead) -> Result<VerifySummary, AuditError> {
    let mut lines = input.lines().enumerate().peekable();
    let first_is_json = match lines.peek() {
        Some((_, Ok(line))) => line.starts_with('{'),
        Some((_, Err(_))) | None => true,
    };
    let mut chain = Chain::new();
    if first_is_json {
        for (index, line) in lines {
            let line = line.map_err(AuditError::io("reading the export"))?;
            chain.jsonl_line(index + 1, &line)?;
        }
    } else {
        let text: Vec<String> = lines
            .map(|(_, line)| line.map_err(AuditError::io("reading the export")))
            .collect::<Result<_, _>>()?;
        // CSV fields may span lines; re-read the whole text as CSV (records are bounded by
        // the file, which is read once here: CSV verification holds the file in memory).
        let joined = text.join("\n");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(joined.as_bytes());
        let header = reader
            .headers()
            .map_err(|err| AuditError::Tampered(format!("not an audit export: {err}")))?
            .clone();
        if header.iter().collect::<Vec<_>>() != CSV_HEADER {
            return Err(AuditError::Tampered(
                "not an audit export: the CSV header is not the export's".to_string(),
            ));
        }
        for row in reader.records() {
            let row =
                row.map_err(|err| AuditError::Tampered(format!("unreadable CSV row: {err}")))?;
            let line = row.position().map(|p| p.line()).unwrap_or(0) as usize;
            chain.csv_row(line, &row)?;
        }
    }
    chain.finish()
}

/// The state of verification as records come in.
struct Chain {
    previous_hash: String,
    count: u64,
    first_position: Option<String>,
    last_position: Option<String>,
    trailer: Option<Trailer>,
}

impl Chain {
    fn new() -> Self {
        Chain {
            previous_hash: GENESIS_HASH.to_string(),
            count: 0,
            first_position: None,
            last_position: None,
            trailer: None,
        }
    }

    fn jsonl_line(&mut self, line_number: usize, line: &str) -> Result<(), AuditError> {
        let record_number = self.count + 1;
        let broken = |why: &str| {
            AuditError::Tampered(format!(
                "record {record_number} (line {line_number}) {why}: the file was altered"
            ))
        };
        let value: Value = serde_json::from_str(line).map_err(|_| broken("is not valid JSON"))?;
        if let Some(trailer) = value.get("trailer") {
            let trailer: Trailer = serde_json::from_value(trailer.clone())
                .map_err(|_| broken("is a damaged trailer"))?;
            return self.trailer(line_number, trailer);
        }
        let record: AuditRecord =
            serde_json::from_value(value).map_err(|_| broken("is not an audit record"))?;
        self.record(line_number, record)
    }

    fn csv_row(&mut self, line_number: usize, row: &csv::StringRecord) -> Result<(), AuditError> {
        let record_number = self.count + 1;
        let broken = |why: &str| {
            AuditError::Tampered(format!(
                "record {record_number} (line {line_number}) {why}: the file was altered"
            ))
        };
        let field = |index: usize| row.get(index).unwrap_or_default().to_string();
        if field(0) == CSV_TRAILER {
            let count = field(1)
                .parse()
                .map_err(|_| broken("is a damaged trailer"))?;
            let optional = |text: String| (!text.is_empty()).then_some(text);
            let trailer = Trailer {
                count,
                first_position: optional(field(2)),
                last_position: optional(field(3)),
                final_hash: field(4),
            };
            return self.trailer(line_number, trailer);
        }
        if row.len() != CSV_HEADER.len() {
            return Err(broken("has the wrong number of columns"));
        }
        let optional = |index: usize| Some(field(index)).filter(|text| !text.is_empty());
        let json = |index: usize| serde_json::from_str::<Value>(&field(index));
        let record = AuditRecord {
            position: field(0),
            stream: field(1),
            aggregate_type: field(2),
            aggregate_id: field(3),
            sequence: field(4)
                .parse()
                .map_err(|_| broken("has a damaged sequence"))?,
            event_type: field(5),
            stored_version: field(6),
            version: field(7),
            recorded_at: field(8),
            correlation_id: optional(9),
            causation_id: optional(10),
            actor: optional(11),
            metadata: json(12).map_err(|_| broken("has damaged metadata"))?,
            payload: json(13).map_err(|_| broken("has a damaged payload"))?,
            hash: field(14),
        };
        self.record(line_number, record)
    }

    fn record(&mut self, line_number: usize, record: AuditRecord) -> Result<(), AuditError> {
        if self.trailer.is_some() {
            return Err(AuditError::Tampered(format!(
                "line {line_number} follows the trailer: the file was altered"
            )));
        }
        let expected = record.chain_hash(&self.previous_hash);
        if record.hash != expected {
            return Err(AuditError::Tampered(format!(
                "record {} (line {line_number}, position {}, {}#{}) does not match its hash: the file was altered at or before it",
                self.count + 1,
                record.position,
                record.stream,
                record.sequence
            )));
        }
        self.first_position
            .get_or_insert_with(|| record.position.clone());
        self.last_position = Some(record.position);
        self.previous_hash = record.hash;
        self.count += 1;
        Ok(())
    }

    fn trailer(&mut self, line_number: usize, trailer: Trailer) -> Result<(), AuditError> {
        if self.trailer.is_some() {
            return Err(AuditError::Tampered(format!(
                "line {line_number} is a second trailer: the file was altered"
            )));
        }
        let computed = Trailer {
            count: self.count,
            first_position: self.first_position.clone(),
            last_position: self.last_position.clone(),
            final_hash: self.previous_hash.clone(),
        };
        if trailer != computed {
            return Err(AuditError::Tampered(format!(
                "the trailer (line {line_number}) says {} records ending in hash {}, but the file holds {} ending in {}: records were added, removed or altered",
                trailer.count, trailer.final_hash, computed.count, computed.final_hash
            )));
        }
        self.trailer = Some(trailer);
        Ok(())
    }

    fn finish(self) -> Result<VerifySummary, AuditError> {
        match self.trailer {
            Some(trailer) => Ok(VerifySummary { trailer }),
            None => Err(AuditError::Tampered(format!(
                "no trailer after record {}: the file is truncated or not an audit export",
                self.count
            ))),
        }
    }
}
