//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};

use alpes_event_store::DEFAULT_EVENTS_URL;

/// Event-sourced CQRS backend for affiliate marketing.
#[derive(Debug, Parser)]
#[command(name = "alpes", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure throughput.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Inspect and rebuild the read side's projections.
    #[command(subcommand)]
    Projections(crate::projections::ProjectionsCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Throughput of the event store: W1 appends, W2 commands, W3 log reads.
    Store(BenchStoreArgs),
    /// Projection catch-up rate and query latency of the views.
    Project(crate::projections::BenchProjectArgs),
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
