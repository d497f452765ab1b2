//! A quick measurement of the PostgreSQL backend against its targets, run by hand:
//!
//! ```sh
//! cargo test --release -p alpes-event-store --test postgres_bench -- --ignored --nocapture
//! ```
//!
//! W1: new streams, one event each, 16 concurrent writers (target ≥ 12,000 events/s).
//! W2: load → decide → append through cqrs-es, 16 concurrent writers (≥ 7,000/s).
//! W3: read the whole log in order (≥ 150,000/s).
//! `ALPES_BENCH_EVENTS` sets the events per write workload (default 50,000). The numbers
//! are only meaningful with a durable server (synchronous_commit=on), which is printed.

mod postgres_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpes_event_store::postgres::PostgresEventStore;
use alpes_event_store::{EventLog, Position};
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, SerializedEvent};
use cqrs_es::CqrsFramework;
use postgres_common::{fresh_store, Counter, CounterCommand};

const WRITERS: usize = 16;
const AGGREGATES_PER_WRITER: usize = 500;

fn events_per_workload() -> usize {
    std::env::var("ALPES_BENCH_EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(50_000)
}

/// An event of about the size of an InteraccionRegistrada.
fn interaction_event(aggregate_id: &str) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: aggregate_id.to_string(),
        sequence: 1,
        aggregate_type: "Interaccion".to_string(),
        event_type: "InteraccionRegistrada".to_string(),
        event_version: "2.0".to_string(),
        payload: serde_json::json!({ "InteraccionRegistrada": {
            "interaccion_id": aggregate_id,
            "campana_id": "6f1c2b1e-2f7a-4a55-9d87-4f3f0b6f1b2a",
            "socio_id": "0b6b7a52-9f0c-4a8e-8d8e-2c8a1b7e9f10",
            "viaje_id": "a4c1e9f2-7b3d-4e5f-8a9b-0c1d2e3f4a5b",
            "tipo": "Clic",
            "ocurrida_en": "2026-01-15T10:21:33.123Z",
            "valor": { "minor_units": 0, "currency": "EUR" }
        }}),
        metadata: serde_json::json!({
            "correlation_id": "5d9a1c3e-4b2f-4e6d-8a7c-9b0e1f2a3b4c",
            "actor": "tracking"
        }),
    }
}

/// CPU seconds used so far by this process and by the server processes working for
/// `database` (Linux /proc; zeros elsewhere), to tell the cost of a workload from the load
/// of a shared machine.
fn cpu_seconds(database: &str) -> (f64, f64) {
    let ticks = |stat: &str| -> Option<f64> {
        // After the parenthesised command: utime and stime are the 12th and 13th fields.
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0)
    };
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| ticks(&stat))
        .unwrap_or(0.0);
    let server = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            // A backend's title is "postgres: USER DATABASE HOST(PORT) STATE".
            std::fs::read(entry.path().join("cmdline"))
                .map(|title| String::from_utf8_lossy(&title).contains(database))
                .unwrap_or(false)
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| ticks(&stat))
        .sum();
    (own, server)
}

/// Runs a workload and prints its rate and its CPU cost per event.
async fn measure<Fut: std::future::Future<Output = usize>>(
    database: &str,
    name: &str,
    workload: Fut,
) {
    let (own_before, server_before) = cpu_seconds(database);
    let started = Instant::now();
    let events = workload.await;
    let elapsed = started.elapsed();
    let (own_after, server_after) = cpu_seconds(database);
    let per_event = |seconds: f64| seconds / events as f64 * 1e6;
    eprintln!(
        "{name}: {:.0} events/s ({events} events in {elapsed:.2?}); CPU per event: client {:.1} µs, server backends {:.1} µs",
        rate(events, elapsed),
        per_event(own_after - own_before),
        per_event(server_after - server_before),
    );
}

fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

async fn run_writers<F, Fut>(total: usize, write: F)
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let write = Arc::new(write);
    let next = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (write, next) = (write.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return;
                    }
                    write(writer, n).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
}

async fn w1_new_streams(store: &PostgresEventStore, total: usize) -> usize {
    let repository = store.repository();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = run.clone();
    run_writers(total, move |_, n| {
        let repository = repository.clone();
        let id = format!("{prefix}-{n}");
        async move {
            repository
                .persist::<Counter>(&[interaction_event(&id)], None)
                .await
                .unwrap();
        }
    })
    .await;
    let per_transaction: f64 = sqlx::query_scalar(
        "SELECT (count(*)::float8 / count(DISTINCT transaction_id))::float8 FROM events
          WHERE aggregate_id LIKE $1",
    )
    .bind(format!("{}-%", run))
    .fetch_one(store.pool())
    .await
    .unwrap();
    eprintln!("W1: {per_transaction:.1} events per transaction");
    total
}

async fn w1_postgres_es(store: &PostgresEventStore, total: usize) -> usize {
    let repository = Arc::new(postgres_es::PostgresEventRepository::new(
        store.pool().clone(),
    ));
    let run = uuid::Uuid::new_v4().simple().to_string();
    run_writers(total, move |_, n| {
        let repository = repository.clone();
        let id = format!("{run}-es-{n}");
        async move {
            repository
                .persist::<Counter>(&[interaction_event(&id)], None)
                .await
                .unwrap();
        }
    })
    .await;
    total
}

async fn w2_load_decide_append(store: &PostgresEventStore, total: usize) -> usize {
    let cqrs = Arc::new(CqrsFramework::new(
        PersistedEventStore::<_, Counter>::new_event_store(store.repository()),
        vec![],
        (),
    ));
    run_writers(total, move |writer, n| {
        let cqrs = cqrs.clone();
        // Each writer works its own aggregates, round robin: no conflicts by design.
        let id = format!("counter-{writer}-{}", n % AGGREGATES_PER_WRITER);
        async move {
            cqrs.execute(&id, CounterCommand::Increment { by: 1 })
                .await
                .unwrap();
        }
    })
    .await;
    total
}

async fn w3_read_all(log: &dyn EventLog, batch: usize) -> usize {
    let mut after = Position::START;
    let mut read = 0;
    loop {
        let events = log.read_after(after, batch).await.unwrap();
        let Some(last) = events.last() else {
            break;
        };
        after = last.position;
        read += events.len();
    }
    read
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement, run by hand with --release"]
async fn measure_the_postgres_backend() {
    let Some((db, store)) = fresh_store().await else {
        return;
    };
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting FROM pg_settings
          WHERE name IN ('synchronous_commit', 'fsync', 'server_version', 'commit_delay')",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    eprintln!("server: {settings:?}");
    let total = events_per_workload();

    measure(
        db.name(),
        &format!("W1 new streams, {WRITERS} writers"),
        w1_new_streams(&store, total),
    )
    .await;
    measure(
        db.name(),
        "W1 through postgres-es's repository (one transaction per append)",
        w1_postgres_es(&store, total / 4),
    )
    .await;
    measure(
        db.name(),
        &format!(
            "W2 load → decide → append, {WRITERS} writers x {AGGREGATES_PER_WRITER} aggregates"
        ),
        w2_load_decide_append(&store, total),
    )
    .await;
    let log = store.log();
    for batch in [1_000, 5_000] {
        measure(
            db.name(),
            &format!("W3 read the whole log, batches of {batch}"),
            w3_read_all(log.as_ref(), batch),
        )
        .await;
    }
}
