//! `alpes bench store`: throughput of a backend on three workloads.
//!
//! - W1, appends: N new streams of one event each, written by C concurrent writers through
//!   the [`AggregateStore`] (serialization and the durable commit, no load).
//! - W2, commands: S streams × E events, each event one command through cqrs-es
//!   `CqrsFramework` (load the stream, decide, append), C streams at a time.
//! - W3, the log: every event of the store read in order through [`EventLog`].
//!
//! The results are returned, not printed: the binary prints them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::EventStoreAggregateContext;
use cqrs_es::{Aggregate, CqrsFramework, DomainEvent, EventStore};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::{EventStoreBackend, Position, StoreError};

/// One of the three workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// New streams of one event each, concurrent writers.
    W1,
    /// Load → decide → append through `CqrsFramework`.
    W2,
    /// Read the whole log in order.
    W3,
}

impl Workload {
    /// All of them, in the order they run.
    pub const ALL: [Workload; 3] = [Workload::W1, Workload::W2, Workload::W3];

    /// What it measures, for reports.
    pub fn description(&self) -> &'static str {
        match self {
            Workload::W1 => "append one event to each of N new streams, C writers",
            Workload::W2 => "S streams x E commands, each load -> decide -> append",
            Workload::W3 => "read the whole log in order",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
        })
    }
}

/// A workload name that is not one.
#[derive(Debug, thiserror::Error)]
#[error("unknown workload '{0}' (expected w1, w2, w3 or all)")]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "w1" => Ok(Workload::W1),
            "w2" => Ok(Workload::W2),
            "w3" => Ok(Workload::W3),
            _ => Err(UnknownWorkload(text.to_string())),
        }
    }
}

/// Sizes of the workloads.
#[derive(Clone, Debug)]
pub struct BenchSizes {
    /// W1: new streams (one event each).
    pub streams: usize,
    /// W1 and W2: concurrent writers.
    pub writers: usize,
    /// W2: streams.
    pub command_streams: usize,
    /// W2: commands (events) per stream.
    pub events_per_stream: usize,
    /// W3: events per read.
    pub read_batch: usize,
}

impl Default for BenchSizes {
    fn default() -> Self {
        BenchSizes {
            streams: 100_000,
            writers: 16,
            command_streams: 1_000,
            events_per_stream: 10,
            read_batch: 1_000,
        }
    }
}

/// The outcome of one workload.
#[derive(Clone, Debug)]
pub struct WorkloadResult {
    /// Which workload.
    pub workload: Workload,
    /// Events written (W1, W2) or read (W3).
    pub events: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl WorkloadResult {
    /// Events per second.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Why a benchmark run stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A command or an append failed.
    #[error("{workload}: {reason}")]
    Workload {
        /// Which workload.
        workload: Workload,
        /// What failed.
        reason: String,
    },
}

/// Runs one workload against `backend`. Every run uses new stream ids, so runs can share
/// a store; W3 reads everything the store holds.
pub async fn run_workload(
    backend: &EventStoreBackend,
    workload: Workload,
    sizes: &BenchSizes,
) -> Result<WorkloadResult, BenchError> {
    let started = Instant::now();
    let events = match workload {
        Workload::W1 => appends(backend, sizes).await?,
        Workload::W2 => commands(backend, sizes).await?,
        Workload::W3 => read_log(backend, sizes).await?,
    };
    Ok(WorkloadResult {
        workload,
        events,
        elapsed: started.elapsed(),
    })
}

fn failed(workload: Workload) -> impl Fn(String) -> BenchError {
    move |reason| BenchError::Workload { workload, reason }
}

async fn appends(backend: &EventStoreBackend, sizes: &BenchSizes) -> Result<u64, BenchError> {
    let store = Arc::new(backend.aggregate_store::<BenchStream>());
    let run = uuid::Uuid::new_v4();
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = JoinSet::new();
    for _ in 0..sizes.writers.max(1) {
        let (store, next, total) = (store.clone(), next.clone(), sizes.streams);
        writers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return Ok::<_, String>(());
                }
                let id = format!("w1-{run}-{index}");
                let event = BenchEvent::recorded(1);
                let mut aggregate = BenchStream::default();
                aggregate.apply(event.clone());
                let context = EventStoreAggregateContext {
                    aggregate_id: id,
                    aggregate,
                    current_sequence: 0,
                    current_snapshot: None,
                };
                store
                    .commit(vec![event], context, bench_metadata(index))
                    .await
                    .map_err(|error| error.to_string())?;
            }
        });
    }
    join_all(writers, Workload::W1).await?;
    Ok(sizes.streams as u64)
}

async fn commands(backend: &EventStoreBackend, sizes: &BenchSizes) -> Result<u64, BenchError> {
    let cqrs = Arc::new(CqrsFramework::new(
        backend.aggregate_store::<BenchStream>(),
        Vec::new(),
        (),
    ));
    let run = uuid::Uuid::new_v4();
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = JoinSet::new();
    for _ in 0..sizes.writers.max(1) {
        let (cqrs, next) = (cqrs.clone(), next.clone());
        let (streams, events) = (sizes.command_streams, sizes.events_per_stream);
        writers.spawn(async move {
            loop {
                let stream = next.fetch_add(1, Ordering::Relaxed);
                if stream >= streams {
                    return Ok::<_, String>(());
                }
                let id = format!("w2-{run}-{stream}");
                for n in 1..=events as u64 {
                    cqrs.execute_with_metadata(
                        &id,
                        BenchCommand::Record { n },
                        bench_metadata(stream),
                    )
                    .await
                    .map_err(|error| format!("{id} command {n}: {error}"))?;
                }
            }
        });
    }
    join_all(writers, Workload::W2).await?;
    Ok((sizes.command_streams * sizes.events_per_stream) as u64)
}

async fn read_log(backend: &EventStoreBackend, sizes: &BenchSizes) -> Result<u64, BenchError> {
    let log = backend.log();
    let mut after = Position::START;
    let mut events = 0u64;
    loop {
        let batch = log.read_after(after, sizes.read_batch.max(1)).await?;
        let Some(last) = batch.last() else {
            return Ok(events);
        };
        if last.position <= after {
            return Err(failed(Workload::W3)(format!(
                "the log went back from {after} to {}",
                last.position
            )));
        }
        after = last.position;
        events += batch.len() as u64;
    }
}

async fn join_all(
    mut writers: JoinSet<Result<(), String>>,
    workload: Workload,
) -> Result<(), BenchError> {
    while let Some(joined) = writers.join_next().await {
        joined
            .map_err(|error| failed(workload)(error.to_string()))?
            .map_err(failed(workload))?;
    }
    Ok(())
}

fn bench_metadata(index: usize) -> HashMap<String, String> {
    HashMap::from([
        ("correlation_id".to_string(), format!("bench-{index}")),
        ("actor".to_string(), "alpes-bench".to_string()),
    ])
}

/// The benchmark's aggregate: a stream that must record 1, 2, 3, … in order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BenchStream {
    recorded: u64,
}

/// Record the next number.
#[derive(Debug)]
pub enum BenchCommand {
    /// Record `n`, which must follow the last one recorded.
    Record {
        /// The number.
        n: u64,
    },
}

/// A number was recorded; the note gives the event a payload of a realistic size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BenchEvent {
    /// `n` was recorded.
    Recorded {
        /// The number.
        n: u64,
        /// About 120 bytes of text.
        note: String,
    },
}

impl BenchEvent {
    fn recorded(n: u64) -> Self {
        BenchEvent::Recorded {
            n,
            note: "interaction registered for campaign 7f0c2a de partner 3b91 via link \
                   https://alpes.example/r/abc123 at 2025-01-01T00:00:00Z"
                .to_string(),
        }
    }
}

impl DomainEvent for BenchEvent {
    fn event_type(&self) -> String {
        "Recorded".to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// A number out of order.
#[derive(Debug, thiserror::Error)]
#[error("expected to record {expected}, got {got}")]
pub struct OutOfOrder {
    expected: u64,
    got: u64,
}

impl Aggregate for BenchStream {
    const TYPE: &'static str = "BenchStream";
    type Command = BenchCommand;
    type Event = BenchEvent;
    type Error = OutOfOrder;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let BenchCommand::Record { n } = command;
        let expected = self.recorded + 1;
        if n != expected {
            return Err(OutOfOrder { expected, got: n });
        }
        sink.write(BenchEvent::recorded(n), self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let BenchEvent::Recorded { n, .. } = event;
        self.recorded = n;
    }
}
