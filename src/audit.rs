//! `alpes audit export` and `alpes audit verify`.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpes_audit::{export_store, verify, Bound, ExportFilter, ExportOptions, Format};
use alpes_domain::catalog::{event_types, AGGREGATE_TYPES};
use alpes_event_store::{EventStoreBackend, StoreOptions};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{AuditExportArgs, AuditVerifyArgs};

/// Bytes buffered before each write to the export file: a few hundred records.
const OUTPUT_BUFFER: usize = 1 << 20;

/// Streams the log into the file (or stdout), then says what it wrote on stderr.
pub async fn export_command(arguments: AuditExportArgs) -> anyhow::Result<()> {
    let filter = filter(&arguments)?;
    let format: Format = arguments.format.parse()?;
    let options = StoreOptions {
        // --raw: the payloads and versions exactly as stored.
        upcasters: if arguments.raw {
            Arc::new(Vec::new())
        } else {
            StoreOptions::default().upcasters
        },
        ..StoreOptions::default()
    };
    let backend = EventStoreBackend::open(&arguments.events, options).await?;
    let export_options = ExportOptions {
        format,
        ..ExportOptions::default()
    };
    let started = Instant::now();
    let progress = progress_bar(arguments.out == "-");
    let mut report = |scanned: u64, _head| progress.set_position(scanned);
    let summary = if arguments.out == "-" {
        let stdout = std::io::stdout().lock();
        export_store(
            &backend,
            &filter,
            &export_options,
            BufWriter::with_capacity(OUTPUT_BUFFER, stdout),
            &mut report,
        )
        .await?
    } else {
        let target = PathBuf::from(&arguments.out);
        let partial = partial_path(&target);
        let file = File::create(&partial)
            .with_context(|| format!("cannot write the export to '{}'", target.display()))?;
        let summary = export_store(
            &backend,
            &filter,
            &export_options,
            BufWriter::with_capacity(OUTPUT_BUFFER, file),
            &mut report,
        )
        .await;
        let summary = match summary {
            Ok(summary) => summary,
            Err(error) => {
                let _ = std::fs::remove_file(&partial);
                return Err(error.into());
            }
        };
        std::fs::rename(&partial, &target)
            .with_context(|| format!("cannot write the export to '{}'", target.display()))?;
        summary
    };
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64().max(f64::EPSILON);
    eprintln!(
        "exported {} of {} events ({:.0} events/s); final hash {}",
        summary.trailer.count,
        summary.scanned,
        summary.scanned as f64 / seconds,
        summary.trailer.final_hash
    );
    Ok(())
}

/// Recomputes the chain of an export; names the first record that does not match.
pub fn verify_command(arguments: AuditVerifyArgs) -> anyhow::Result<()> {
    let file = File::open(&arguments.file)
        .with_context(|| format!("cannot read '{}'", arguments.file.display()))?;
    let summary = verify(BufReader::new(file))
        .with_context(|| format!("'{}' does not verify", arguments.file.display()))?;
    println!(
        "ok: {} records, positions {} to {}, final hash {}",
        summary.trailer.count,
        summary.trailer.first_position.as_deref().unwrap_or("-"),
        summary.trailer.last_position.as_deref().unwrap_or("-"),
        summary.trailer.final_hash
    );
    Ok(())
}

fn filter(arguments: &AuditExportArgs) -> anyhow::Result<ExportFilter> {
    let bound = |text: &Option<String>| -> anyhow::Result<Option<Bound>> {
        Ok(match text {
            Some(text) => Some(text.parse()?),
            None => None,
        })
    };
    let mut filter = ExportFilter {
        from: bound(&arguments.from).context("--from")?,
        to: bound(&arguments.to).context("--to")?,
        event_type: arguments.event_type.clone(),
        correlation: arguments.correlation.clone(),
        ..ExportFilter::default()
    };
    if let Some(aggregate) = &arguments.aggregate {
        filter = filter.with_aggregate(aggregate).context("--aggregate")?;
    }
    let known_types = event_types();
    let known_types: Vec<&str> = known_types.iter().map(String::as_str).collect();
    filter.validate(&AGGREGATE_TYPES, &known_types)?;
    Ok(filter)
}

/// The export is written beside its target and renamed when complete, so an interrupted
/// export never leaves a file that looks finished.
fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}

/// A spinner with the count and rate on a terminal; nothing otherwise (or when the export
/// itself goes to the terminal).
fn progress_bar(to_stdout: bool) -> ProgressBar {
    let stderr_is_terminal = std::io::stderr().is_terminal();
    if !stderr_is_terminal || (to_stdout && std::io::stdout().is_terminal()) {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} events  {per_sec}  {elapsed}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
