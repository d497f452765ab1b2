//! The audit export: the global log, in commit order, as a tamper-evident file.
//!
//! Every record carries `hash = sha256(previous hash ‖ canonical record)` (hex), starting
//! from [`GENESIS_HASH`]; the file ends with a trailer (count, first and last position, final
//! hash). [`verify`] recomputes the chain and names the first record that does not match.
//! The export holds one batch of events at a time, whatever the size of the log, and
//! writes the same bytes for the same range every time.

mod canonical;
mod export;
mod filter;
mod record;
mod record_writer;
mod stored_json;
mod verify;

pub use canonical::write_escaped;
pub use export::{export, export_store, ExportOptions, ExportSummary, Format};
pub use filter::{Bound, ExportFilter};
pub use record::{AuditRecord, Trailer, GENESIS_HASH};
pub use verify::{verify, VerifySummary};

/// What went wrong in an export or a verification, in the user's terms.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An argument cannot be used; the message names the bad value.
    #[error("{0}")]
    InvalidArgument(String),
    /// Reading the log failed.
    #[error("reading the event log: {0}")]
    Store(#[from] alpes_event_store::StoreError),
    /// Writing or reading the file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not an audit export, or its chain is broken.
    #[error("{0}")]
    Tampered(String),
}

impl AuditError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AuditError {
        let context = context.into();
        move |source| AuditError::Io { context, source }
    }
}
