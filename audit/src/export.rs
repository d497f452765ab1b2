//! Streaming the log into a file.

use std::io::Write;

use alpes_event_store::sqlite::ScannedEvent;
use alpes_event_store::{EventLog, EventStoreBackend, Position, RecordedEvent};

use crate::filter::Candidate;
use crate::record::{Fields, Trailer};
use crate::record_writer::RecordWriter;
use crate::{AuditError, Bound, ExportFilter};

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

/// [`export`] from `backend` through the fastest reader it has: on SQLite a scan that
/// copies the stored JSON text into the records when it is canonical already (the same
/// bytes as [`export`], without a JSON tree per event); on the other backends its log.
pub async fn export_store<W: Write>(
    backend: &EventStoreBackend,
    filter: &ExportFilter,
    options: &ExportOptions,
    out: W,
    progress: &mut dyn FnMut(u64, Position),
) -> Result<ExportSummary, AuditError> {
    let log = backend.log();
    let Some(store) = backend.as_sqlite() else {
        return export(log.as_ref(), filter, options, out, progress).await;
    };
    let head = log.head().await?.map(|(position, _)| position);
    let mut writer = RecordWriter::new(options.format, out)?;
    let mut scanned = 0u64;
    if let Some(head) = head {
        let up_to = match filter.to {
            Some(Bound::Position(to)) => to.min(head),
            _ => head,
        };
        let mut scan = store.scan_log(filter.start(), up_to, options.batch_size)?;
        let mut scratch = String::new();
        while let Some(batch) = scan.next_batch().await? {
            for event in batch.events() {
                scanned += 1;
                write_scanned(&mut writer, filter, &event, &mut scratch)?;
            }
            progress(scanned, head);
        }
    }
    let trailer = writer.finish()?;
    Ok(ExportSummary { scanned, trailer })
}

fn write_scanned<W: Write>(
    writer: &mut RecordWriter<W>,
    filter: &ExportFilter,
    event: &ScannedEvent<'_>,
    scratch: &mut String,
) -> Result<(), AuditError> {
    let stored = match event {
        ScannedEvent::Upcast(event) => return write_recorded(writer, filter, event),
        ScannedEvent::AsStored(stored) => stored,
    };
    let Some(copied) = Fields::of_stored(stored, scratch) else {
        // Not canonical as stored (or not readable: decoding says why).
        return write_recorded(writer, filter, &stored.decode()?);
    };
    let fields = &copied.fields;
    let candidate = Candidate {
        position: stored.position,
        recorded_at: copied.recorded_at,
        aggregate_type: fields.aggregate_type,
        aggregate_id: fields.aggregate_id,
        event_type: fields.event_type,
        correlation_id: copied.correlation_id,
    };
    if filter.keeps_candidate(&candidate) {
        writer.write(fields)?;
    }
    Ok(())
}

fn write_recorded<W: Write>(
    writer: &mut RecordWriter<W>,
    filter: &ExportFilter,
    event: &RecordedEvent,
) -> Result<(), AuditError> {
    if filter.keeps(event) {
        writer.write(&Fields::of_event(event))?;
    }
    Ok(())
}
