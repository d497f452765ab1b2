//! Streaming the log into a file.

use std::io::Write;

use alpes_event_store::{EventLog, Position};

use crate::canonical::canonical;
use crate::record::{chain_hash, Fields, Trailer, GENESIS_HASH};
use crate::{AuditError, ExportFilter};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One canonical JSON object per line; the trailer is `{"trailer":{…}}`.
    #[default]
    Jsonl,
    /// A header row, one row per record (metadata and payload as canonical JSON), and a last
    /// row whose first column is `#trailer`.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = AuditError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "jsonl" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(AuditError::InvalidArgument(format!(
                "unknown format '{other}'; use jsonl or csv"
            ))),
        }
    }
}

/// How an export runs.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: Format,
    /// Events read per batch: the export's memory is bounded by one batch.
    pub batch_size: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            format: Format::Jsonl,
            batch_size: 1_000,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Events read from the log (kept or filtered out).
    pub scanned: u64,
    pub trailer: Trailer,
}

/// The CSV columns, in order.
pub(crate) const CSV_HEADER: [&str; 15] = [
    "position",
    "stream",
    "aggregate_type",
    "aggregate_id",
    "sequence",
    "event_type",
    "stored_version",
    "version",
    "recorded_at",
    "correlation_id",
    "causation_id",
    "actor",
    "metadata",
    "payload",
    "hash",
];

/// The trailer row marker of a CSV export.
pub(crate) const CSV_TRAILER: &str = "#trailer";

/// Streams the events of `log` that `filter` keeps, in commit order, up to the head of the
/// log as it was when the export started (so that exporting the same range twice gives the
/// same bytes while writers go on). `progress` is called after each batch with the number of
/// events scanned so far and the head position.
pub async fn export<W: Write>(
    log: &dyn EventLog,
    filter: &ExportFilter,
    options: &ExportOptions,
    out: W,
    progress: &mut dyn FnMut(u64, Position),
) -> Result<ExportSummary, AuditError> {
    let head = log.head().await?.map(|(position, _)| position);
    let mut writer = RecordWriter::new(options.format, out)?;
    let mut after = filter.start();
    let mut scanned = 0u64;
    if let Some(head) = head {
        'batches: loop {
            let batch = log.read_after(after, options.batch_size.max(1)).await?;
            let Some(last) = batch.last() else { break };
            after = last.position;
            for event in &batch {
                if event.position > head || filter.is_past_end(event) {
                    break 'batches;
                }
                scanned += 1;
                if filter.keeps(event) {
                    writer.write(&Fields::of_event(event))?;
                }
            }
            progress(scanned, head);
        }
    }
    let trailer = writer.finish()?;
    Ok(ExportSummary { scanned, trailer })
}

/// Writes records in one format, chaining their hashes.
struct RecordWriter<W: Write> {
    format: Format,
    jsonl: Option<W>,
    csv: Option<csv::Writer<W>>,
    previous_hash: String,
    count: u64,
    first_position: Option<String>,
    last_position: Option<String>,
    /// Reused for every record's canonical text.
    line: String,
}

impl<W: Write> RecordWriter<W> {
    fn new(format: Format, out: W) -> Result<Self, AuditError> {
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
            format,
            jsonl,
            csv,
            previous_hash: GENESIS_HASH.to_string(),
            count: 0,
            first_position: None,
            last_position: None,
            line: String::new(),
        })
    }

    fn write(&mut self, fields: &Fields<'_>) -> Result<(), AuditError> {
        self.line.clear();
        fields.write_canonical(None, &mut self.line);
        let hash = chain_hash(&self.previous_hash, &self.line);
        if let Some(out) = &mut self.jsonl {
            self.line.clear();
            fields.write_canonical(Some(&hash), &mut self.line);
            self.line.push('\n');
            out.write_all(self.line.as_bytes())
                .map_err(AuditError::io("writing the export"))?;
        }
        if let Some(csv) = &mut self.csv {
            csv.write_record(csv_row(fields, &hash))
                .map_err(|err| csv_error("writing a CSV row", err))?;
        }
        if self.first_position.is_none() {
            self.first_position = Some(fields.position.to_string());
        }
        self.last_position = Some(fields.position.to_string());
        self.previous_hash = hash;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<Trailer, AuditError> {
        let trailer = Trailer {
            count: self.count,
            first_position: self.first_position,
            last_position: self.last_position,
            final_hash: self.previous_hash,
        };
        match self.format {
            Format::Jsonl => {
                if let Some(mut out) = self.jsonl {
                    let value = serde_json::json!({ "trailer": trailer });
                    writeln!(out, "{}", canonical(&value))
                        .and_then(|_| out.flush())
                        .map_err(AuditError::io("writing the export trailer"))?;
                }
            }
            Format::Csv => {
                if let Some(mut csv) = self.csv {
                    csv.write_record(trailer_row(&trailer))
                        .map_err(|err| csv_error("writing the CSV trailer", err))?;
                    csv.flush().map_err(AuditError::io("writing the export"))?;
                }
            }
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
        canonical(fields.metadata),
        canonical(fields.payload),
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
