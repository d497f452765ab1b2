//! `alpes bench ingest`: interactions per second through `POST /api/v1/interacciones`
//! of an in-process `alpes serve`, one per request or in JSON arrays.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use futures::{stream, StreamExt};
use serde_json::{json, Value};
use uuid::Uuid;

use super::http::{client, percentile, BenchServer};
use crate::cli::BenchIngestArgs;

/// Campaigns the generated interactions spread over.
const CAMPAIGNS: usize = 20;

pub async fn ingest(arguments: BenchIngestArgs) -> anyhow::Result<()> {
    if arguments.interactions == 0 || arguments.concurrency == 0 {
        bail!("--interactions and --concurrency must be at least 1");
    }
    let server = BenchServer::start(&arguments.server).await?;
    let batch = usize::from(arguments.batch);
    let bodies = request_bodies(arguments.interactions, batch)?;
    let client = client(arguments.concurrency)?;
    let url = server.endpoint("/api/v1/interacciones")?;

    let started = Instant::now();
    let outcomes: Vec<anyhow::Result<Duration>> = stream::iter(bodies)
        .map(|body| send(&client, &url, body, batch))
        .buffer_unordered(arguments.concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies = outcomes.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    latencies.sort();

    let rate = arguments.interactions as f64 / elapsed.as_secs_f64();
    println!(
        "ingest  {rate:>10.0} interactions/s  ({} interactions in {} requests of {batch}, {:.2} s, \
         {} in flight; request latency p50 {:.2} ms, p99 {:.2} ms)",
        arguments.interactions,
        latencies.len(),
        elapsed.as_secs_f64(),
        arguments.concurrency,
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
    );
    server.stop().await
}

/// The request bodies, serialized ahead so the client's own work stays small.
fn request_bodies(interactions: usize, batch: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let campaigns: Vec<Uuid> = (0..CAMPAIGNS).map(|_| Uuid::new_v4()).collect();
    let occurred_at = Utc::now().to_rfc3339();
    let interaction = |index: usize| {
        json!({
            "tipo": if index.is_multiple_of(5) { "Vista" } else { "Click" },
            "campana_id": campaigns[index % CAMPAIGNS],
            "partner_id": Uuid::new_v4(),
            "journey_id": Uuid::new_v4(),
            "occurred_at": occurred_at,
            "contexto": {"utm": {"source": "bench"}}
        })
    };
    let mut bodies = Vec::with_capacity(interactions.div_ceil(batch));
    let mut index = 0;
    while index < interactions {
        let end = (index + batch).min(interactions);
        let body = if batch == 1 {
            interaction(index)
        } else {
            Value::Array((index..end).map(interaction).collect())
        };
        bodies.push(serde_json::to_vec(&body).context("serializing a request")?);
        index = end;
    }
    Ok(bodies)
}

/// Sends one request; fails on any answer but full success.
async fn send(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: Vec<u8>,
    batch: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = client
        .post(url.clone())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .context("sending a request")?;
    let status = response.status().as_u16();
    let answer = response.bytes().await.context("reading an answer")?;
    let expected = if batch == 1 { 201 } else { 200 };
    let all_registered = batch == 1 || contains(&answer, b"\"failed\":0");
    if status != expected || !all_registered {
        bail!(
            "the server answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(started.elapsed())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

pub(super) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}
