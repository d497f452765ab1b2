//! The command line.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

use alpes_event_store::DEFAULT_EVENTS_URL;

use crate::configuration::ServiceList;
use crate::telemetry::LogFormat;

/// Event-sourced CQRS backend for affiliate marketing.
#[derive(Debug, Parser)]
#[command(name = "alpes", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// How logs are written (to stderr): text, json, or auto (text on a terminal, JSON
    /// otherwise); `RUST_LOG` filters them.
    #[arg(long, global = true, env = "ALPES_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the services: the REST command API, the saga and the log consumers they own.
    Serve(ServeArgs),
    /// Measure throughput.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Inspect and rebuild the read side's projections.
    #[command(subcommand)]
    Projections(crate::projections::ProjectionsCommand),
    /// Export the event log as a tamper-evident file, or verify such a file.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Stream the global log, in commit order, into a hash-chained JSONL or CSV file.
    Export(AuditExportArgs),
    /// Recompute an export's hash chain and name the first record that does not match.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Where to write the export; `-` writes to stdout.
    #[arg(long)]
    pub out: String,

    /// jsonl or csv.
    #[arg(long, default_value = "jsonl")]
    pub format: String,

    /// First event: a log position (HIGH:LOW) or a time (RFC 3339 or YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub from: Option<String>,

    /// Last event: a log position or a time, inclusive.
    #[arg(long)]
    pub to: Option<String>,

    /// Only events of an aggregate type, or of one aggregate: TYPE or TYPE:ID.
    #[arg(long)]
    pub aggregate: Option<String>,

    /// Only events of this type (e.g. ComisionReservada).
    #[arg(long = "type")]
    pub event_type: Option<String>,

    /// Only events whose metadata carries this correlation id (a journey).
    #[arg(long)]
    pub correlation: Option<String>,

    /// Payloads and versions exactly as stored, without upcasting.
    #[arg(long)]
    pub raw: bool,

    /// The event store to read.
    #[arg(long, env = "ALPES_EVENTS", default_value = DEFAULT_EVENTS_URL)]
    pub events: String,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The export to verify.
    pub file: std::path::PathBuf,
}

/// `alpes serve`: every flag may also come from its environment variable.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The event store: sqlite://PATH, postgres://…, esdb://… (or kurrentdb://…).
    #[arg(long, env = "ALPES_EVENTS", default_value = DEFAULT_EVENTS_URL)]
    pub events: String,

    /// The SQL database of the views and their checkpoints (sqlite://… or postgres://…);
    /// with EventStoreDB also of the write side's own tables, and then required. Defaults
    /// to a file beside a SQLite event store (data/alpes.db: data/alpes-views.db), or to
    /// the PostgreSQL event store's database.
    #[arg(long, env = "ALPES_VIEWS")]
    pub views: Option<String>,

    /// The address the HTTP API listens on.
    #[arg(long, env = "ALPES_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// The services this process runs, comma-separated: marketing, tracking, atribucion,
    /// comisiones; or `none` (a process that only runs the projectors).
    #[arg(
        long,
        env = "ALPES_SERVICES",
        default_value = "marketing,tracking,atribucion,comisiones"
    )]
    pub services: ServiceList,

    /// Save a snapshot of an aggregate every N events (0: never); after ten snapshots, each
    /// comes a tenth of the aggregate's version after the one before.
    #[arg(long, env = "ALPES_SNAPSHOT_EVERY", default_value_t = 100)]
    pub snapshot_every: usize,

    /// Whether this process runs the read side's projectors (true or false). With several
    /// processes, one runs them (`--services none --projectors true`) and the others pass
    /// false; where more than one runs them, one at a time holds their lease.
    #[arg(long, env = "ALPES_PROJECTORS", default_value_t = true, action = clap::ArgAction::Set)]
    pub projectors: bool,

    /// GraphQL: the deepest selection a query may nest.
    #[arg(long, env = "ALPES_GRAPHQL_MAX_DEPTH", default_value_t = 12)]
    pub graphql_max_depth: usize,

    /// GraphQL: the largest complexity of a query (1 per field; a list's fields count once
    /// per row asked for with `first`).
    #[arg(long, env = "ALPES_GRAPHQL_MAX_COMPLEXITY", default_value_t = 20_000)]
    pub graphql_max_complexity: usize,

    /// GraphQL: how long a query carrying X-Consistency-Token waits for the views to reach
    /// it, in milliseconds.
    #[arg(long, env = "ALPES_CONSISTENCY_TIMEOUT_MS", default_value_t = 5_000)]
    pub consistency_timeout_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Throughput of the event store: W1 appends, W2 commands, W3 log reads.
    Store(BenchStoreArgs),
    /// Projection catch-up rate and query latency of the views.
    Project(crate::projections::BenchProjectArgs),
    /// HTTP ingest of interactions into `alpes serve`, one per request or in batches.
    Ingest(BenchIngestArgs),
    /// Saga latency under load: a purchase's 201 to its `ComisionReservada`.
    Saga(BenchSagaArgs),
}

/// The server a benchmark starts in process, on a fresh store unless told otherwise.
#[derive(Debug, Args)]
pub struct BenchServerArgs {
    /// The event store; default: a new SQLite file in a temporary folder, removed after.
    #[arg(long)]
    pub events: Option<String>,

    /// The services the server runs (the saga of these services runs too), as for serve.
    #[arg(long, default_value = "marketing,tracking,atribucion,comisiones")]
    pub services: String,
}

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    #[command(flatten)]
    pub server: BenchServerArgs,

    /// Interactions to send in all.
    #[arg(long, default_value_t = 100_000)]
    pub interactions: usize,

    /// Interactions per request: 1 sends single objects, more sends JSON arrays (≤ 1000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch: u16,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct BenchSagaArgs {
    #[command(flatten)]
    pub server: BenchServerArgs,

    /// Purchases per second, sent at a steady pace (open loop).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,

    /// How long to send purchases, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
}

#[derive(Debug, Args)]
pub struct BenchStoreArgs {
    /// The event store (sqlite://PATH, postgres://…, esdb://…). The benchmark writes new
    /// streams into it; W3 reads all it holds.
    #[arg(long, env = "ALPES_EVENTS", default_value = DEFAULT_EVENTS_URL)]
    pub events: String,

    /// Which workload to run.
    #[arg(long, value_enum, default_value_t = WorkloadChoice::All)]
    pub workload: WorkloadChoice,

    /// W1: new streams, one event each.
    #[arg(long, default_value_t = 100_000)]
    pub streams: usize,

    /// W1 and W2: concurrent writers.
    #[arg(long, default_value_t = 16)]
    pub writers: usize,

    /// W2: streams, each receiving --events-per-stream commands.
    #[arg(long, default_value_t = 1_000)]
    pub command_streams: usize,

    /// W2: commands (one event each) per stream.
    #[arg(long, default_value_t = 10)]
    pub events_per_stream: usize,

    /// W3: events per read.
    #[arg(long, default_value_t = 1_000)]
    pub read_batch: usize,

    /// Maximum connections of an SQL pool.
    #[arg(long, default_value_t = 16)]
    pub max_connections: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WorkloadChoice {
    W1,
    W2,
    W3,
    All,
}
