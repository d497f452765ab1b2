//! `alpes bench store|ingest|saga`.

mod http;
mod ingest;
mod saga;

pub use ingest::ingest;
pub use saga::saga;

use alpes_event_store::bench::{run_workload, BenchSizes, Workload};
use alpes_event_store::{EventStoreBackend, StoreOptions};

use crate::cli::{BenchStoreArgs, WorkloadChoice};

/// Runs the chosen workloads and prints one line per workload.
pub async fn store(arguments: BenchStoreArgs) -> anyhow::Result<()> {
    let options = StoreOptions {
        max_connections: arguments.max_connections,
        ..StoreOptions::default()
    };
    let backend = EventStoreBackend::open(&arguments.events, options).await?;
    let sizes = BenchSizes {
        streams: arguments.streams,
        writers: arguments.writers,
        command_streams: arguments.command_streams,
        events_per_stream: arguments.events_per_stream,
        read_batch: arguments.read_batch,
    };
    println!("event store: {}", backend.url());
    for workload in workloads(arguments.workload) {
        let result = run_workload(&backend, workload, &sizes).await?;
        println!(
            "{workload}  {:>10.0} events/s  ({} events in {:.2} s; {})",
            result.events_per_second(),
            result.events,
            result.elapsed.as_secs_f64(),
            workload.description(),
        );
    }
    Ok(())
}

fn workloads(choice: WorkloadChoice) -> Vec<Workload> {
    match choice {
        WorkloadChoice::W1 => vec![Workload::W1],
        WorkloadChoice::W2 => vec![Workload::W2],
        WorkloadChoice::W3 => vec![Workload::W3],
        WorkloadChoice::All => Workload::ALL.to_vec(),
    }
}
