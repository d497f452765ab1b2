//! `alpes bench saga`: purchases sent at a steady rate to an in-process `alpes serve`;
//! for each, the time from its 201 to its `ComisionReservada` in the global log, and to each
//! step between (`ConversionAtribuida`, `PresupuestoReservado`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alpes_event_store::{EventLog, EventStoreBackend, Position, RecordedEvent};
use anyhow::{bail, Context};
use chrono::Utc;
use futures::{stream, StreamExt};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::http::{client, percentile, BenchServer};
use super::ingest::millis;
use crate::cli::BenchSagaArgs;

/// Purchases are sent in small groups this often (a steadier pace than tokio's 1 ms timer).
const TICK: Duration = Duration::from_millis(10);
/// How long the saga may take to finish after the last purchase.
const DRAIN: Duration = Duration::from_secs(120);

/// When each purchase was accepted, by its id.
type Times = Arc<Mutex<HashMap<Uuid, Instant>>>;

/// The steps of the saga a purchase goes through, in order.
const STEPS: [&str; 3] = [
    "ConversionAtribuida",
    "PresupuestoReservado",
    "ComisionReservada",
];

/// When the bench read each step of each purchase's saga in the log, by purchase id.
type Steps = Arc<Mutex<[HashMap<Uuid, Instant>; 3]>>;

pub async fn saga(arguments: BenchSagaArgs) -> anyhow::Result<()> {
    if arguments.rate == 0 || arguments.seconds == 0 {
        bail!("--rate and --seconds must be at least 1");
    }
    let server = BenchServer::start(&arguments.server).await?;
    let client = client(256)?;
    let purchases = (arguments.rate * arguments.seconds) as usize;
    let campana = campana_activa(&client, &server).await?;
    let journeys: Vec<(Uuid, Uuid)> = (0..purchases)
        .map(|_| (Uuid::new_v4(), Uuid::new_v4()))
        .collect();
    register_clicks(&client, &server, campana, &journeys).await?;
    wait_for_saga(&server.backend, Duration::from_secs(300)).await?;
    println!("{purchases} journeys with a partner click registered; sending purchases");

    let steps: Steps = Arc::default();
    let stop = CancellationToken::new();
    let follower = tokio::spawn(follow(
        server.backend.log(),
        head(&server.backend).await?,
        steps.clone(),
        stop.clone(),
    ));
    let (accepted, sending) =
        send_purchases(&client, &server, campana, &journeys, arguments.rate).await?;

    let deadline = Instant::now() + DRAIN;
    let reserved = |steps: &Steps| steps.lock().map_or(0, |steps| steps[2].len());
    while reserved(&steps) < purchases && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    follower.await.context("the log follower")??;
    report(&accepted, &steps, purchases, sending, arguments.rate)?;
    server.stop().await
}

async fn campana_activa(client: &reqwest::Client, server: &BenchServer) -> anyhow::Result<Uuid> {
    let today = Utc::now().date_naive();
    let body = json!({
        "marca": {"id": Uuid::new_v4(), "nombre": "Bench"},
        "nombre": "Bench", "descripcion": "alpes bench saga",
        "fecha_inicio": (today - chrono::Duration::days(1)).to_string(),
        "fecha_fin": (today + chrono::Duration::days(365)).to_string(),
        "presupuesto": {"amount": 1_000_000_000_000_i64, "currency": "EUR"},
        "reglas_comision": {"compra": {"calculo": {"Porcentaje": {"bps": 1000}}}}
    });
    let created = post(client, &server.endpoint("/api/v1/campanas")?, &body, 201).await?;
    let id: Uuid = created["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .context("the created campaign's id")?;
    post(
        client,
        &server.endpoint(&format!("/api/v1/campanas/{id}/activar"))?,
        &Value::Null,
        200,
    )
    .await?;
    Ok(id)
}

async fn register_clicks(
    client: &reqwest::Client,
    server: &BenchServer,
    campana: Uuid,
    journeys: &[(Uuid, Uuid)],
) -> anyhow::Result<()> {
    let occurred_at = (Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let url = server.endpoint("/api/v1/interacciones")?;
    let batches: Vec<Value> = journeys
        .chunks(1_000)
        .map(|chunk| {
            Value::Array(
                chunk
                    .iter()
                    .map(|(journey, _)| {
                        json!({
                            "tipo": "Click", "campana_id": campana, "journey_id": journey,
                            "partner_id": Uuid::new_v4(), "occurred_at": occurred_at
                        })
                    })
                    .collect(),
            )
        })
        .collect();
    let answers: Vec<anyhow::Result<Value>> = stream::iter(&batches)
        .map(|batch| post(client, &url, batch, 200))
        .buffer_unordered(4)
        .collect()
        .await;
    for answer in answers {
        if answer?["failed"] != 0 {
            bail!("some clicks were not registered");
        }
    }
    Ok(())
}

/// Waits until every saga consumer has handled the whole log.
async fn wait_for_saga(backend: &EventStoreBackend, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let checkpoints = backend.checkpoints();
    let head = head(backend).await?;
    for name in alpes_write::saga::consumer_names(&alpes_write::Service::ALL) {
        while checkpoints.load(name).await? < head {
            if Instant::now() > deadline {
                bail!("the saga's {name} did not catch up in {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

pub(super) async fn head(backend: &EventStoreBackend) -> anyhow::Result<Position> {
    Ok(backend
        .log()
        .head()
        .await?
        .map_or(Position::START, |(position, _)| position))
}

/// Sends each journey's purchase at `rate` per second; answers when each was accepted
/// and how long sending took.
async fn send_purchases(
    client: &reqwest::Client,
    server: &BenchServer,
    campana: Uuid,
    journeys: &[(Uuid, Uuid)],
    rate: u32,
) -> anyhow::Result<(Times, Duration)> {
    let accepted: Times = Arc::default();
    let per_tick = (f64::from(rate) * TICK.as_secs_f64()).max(1.0);
    let url = Arc::new(server.endpoint("/api/v1/interacciones")?);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    let mut sent = 0usize;
    let mut requests = Vec::with_capacity(journeys.len());
    let mut tick = 0u32;
    while sent < journeys.len() {
        ticker.tick().await;
        tick += 1;
        let due = ((f64::from(tick) * per_tick) as usize).min(journeys.len());
        for &(journey, compra) in &journeys[sent..due] {
            let body = json!({
                "id": compra, "tipo": "Compra", "campana_id": campana, "journey_id": journey,
                "valor": {"amount": 10_000, "currency": "EUR"},
                "pedido_id": compra.simple().to_string(), "occurred_at": Utc::now().to_rfc3339()
            });
            let (client, url, accepted) = (client.clone(), url.clone(), accepted.clone());
            requests.push(tokio::spawn(async move {
                post(&client, &url, &body, 201).await?;
                if let Ok(mut times) = accepted.lock() {
                    times.insert(compra, Instant::now());
                }
                anyhow::Ok(())
            }));
        }
        sent = due;
    }
    for request in requests {
        request.await.context("a purchase request")??;
    }
    Ok((accepted, started.elapsed()))
}

/// Records when each purchase's saga steps become readable in the log.
async fn follow(
    log: Arc<dyn EventLog>,
    mut after: Position,
    steps: Steps,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    while !stop.is_cancelled() {
        let events = log.read_after(after, 1_000).await?;
        let Some(last) = events.last() else {
            tokio::select! {
                waited = log.wait_for_events(after, Duration::from_millis(20)) => waited?,
                () = stop.cancelled() => {}
            }
            continue;
        };
        after = last.position;
        let now = Instant::now();
        let Ok(mut steps) = steps.lock() else {
            bail!("the timing table was poisoned");
        };
        for (step, purchase) in events.iter().filter_map(saga_step) {
            steps[step].entry(purchase).or_insert(now);
        }
    }
    Ok(())
}

/// Which of [`STEPS`] `event` is, and the purchase it is a step of.
fn saga_step(event: &RecordedEvent) -> Option<(usize, Uuid)> {
    let step = STEPS
        .iter()
        .position(|step| *step == event.event.event_type)?;
    let payload = &event.event.payload[STEPS[step]];
    let purchase = match step {
        0 => &payload["conversion"]["interaccion_id"],
        1 => &payload["conversion_id"],
        _ => &payload["datos"]["conversion_id"],
    };
    Some((step, purchase.as_str()?.parse().ok()?))
}

fn report(
    accepted: &Times,
    steps: &Steps,
    purchases: usize,
    sending: Duration,
    rate: u32,
) -> anyhow::Result<()> {
    let (Ok(accepted), Ok(steps)) = (accepted.lock(), steps.lock()) else {
        bail!("the timing tables were poisoned");
    };
    let latencies = |from: &HashMap<Uuid, Instant>, to: &HashMap<Uuid, Instant>| {
        let mut latencies: Vec<Duration> = from
            .iter()
            .filter_map(|(id, at)| Some(to.get(id)?.saturating_duration_since(*at)))
            .collect();
        latencies.sort();
        latencies
    };
    let total = latencies(&accepted, &steps[2]);
    println!(
        "saga  {:.0} purchases/s sent (target {rate}) for {:.1} s; {} of {purchases} commissions \
         reserved; 201 → ComisionReservada p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        purchases as f64 / sending.as_secs_f64(),
        sending.as_secs_f64(),
        total.len(),
        millis(percentile(&total, 0.50)),
        millis(percentile(&total, 0.90)),
        millis(percentile(&total, 0.99)),
        millis(total.last().copied().unwrap_or_default()),
    );
    println!(
        "  p99 by second of sending, ms: {}",
        p99_by_second(&accepted, &steps[2])
    );
    let hops = [
        ("201", &*accepted),
        (STEPS[0], &steps[0]),
        (STEPS[1], &steps[1]),
    ];
    for ((from, from_times), (to, to_times)) in hops.iter().zip(STEPS.iter().zip(steps.iter())) {
        let hop = latencies(from_times, to_times);
        println!(
            "  {from} → {to}: p50 {:.1} ms, p99 {:.1} ms",
            millis(percentile(&hop, 0.50)),
            millis(percentile(&hop, 0.99)),
        );
    }
    if total.len() < purchases {
        bail!(
            "{} purchases got no commission within {DRAIN:?}",
            purchases - total.len()
        );
    }
    Ok(())
}

/// The p99 of 201 → ComisionReservada of the purchases accepted in each second, in order:
/// a stall shows as the seconds it hit.
fn p99_by_second(accepted: &HashMap<Uuid, Instant>, reserved: &HashMap<Uuid, Instant>) -> String {
    let Some(first) = accepted.values().min().copied() else {
        return String::new();
    };
    let mut seconds: Vec<Vec<Duration>> = Vec::new();
    for (id, at) in accepted {
        let Some(done) = reserved.get(id) else {
            continue;
        };
        let second = at.saturating_duration_since(first).as_secs() as usize;
        if seconds.len() <= second {
            seconds.resize_with(second + 1, Vec::new);
        }
        seconds[second].push(done.saturating_duration_since(*at));
    }
    seconds
        .iter_mut()
        .map(|latencies| {
            latencies.sort();
            format!("{:.0}", millis(percentile(latencies, 0.99)))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: &Value,
    expected: u16,
) -> anyhow::Result<Value> {
    let response = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status != expected {
        bail!("POST {url} answered {status}: {answer}");
    }
    Ok(answer)
}
