//! `GET /metrics` in the Prometheus text format.
//!
//! The libraries count where things happen, through the `metrics` facade:
//! `alpes_commands_total{aggregate,command,outcome}` and
//! `alpes_command_duration_seconds` (write side), `alpes_events_appended_total{aggregate}`
//! (event store), `alpes_consumer_batches_total` / `alpes_consumer_events_total`
//! (consumer runner), `alpes_saga_outcomes_total{outcome}` (saga), and
//! `alpes_http_requests_total{method,route,status}` / `alpes_http_request_duration_seconds`
//! (HTTP layer). This module installs the one recorder of the process and, at each scrape,
//! measures the lag of the consumers this process runs: `alpes_consumer_lag_events` and
//! `alpes_consumer_lag_seconds{consumer}` (events after its checkpoint, and the age of the
//! oldest of them).

use std::sync::{Arc, OnceLock};

use alpes_event_store::{EventStoreBackend, Position};
use alpes_read::Views;
use alpes_write::saga::SagaDatabase;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds, of every histogram: from a cached read to a slow batch.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use. The recorder is global to a process, so
/// every [`crate::startup::Application`] of a process (tests run several) shares it and its
/// counters.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let builder = match PrometheusBuilder::new().set_buckets(&BUCKETS) {
        Ok(builder) => builder,
        Err(error) => {
            tracing::error!(%error, "metrics: histogram buckets refused; using summaries");
            PrometheusBuilder::new()
        }
    };
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(error) = metrics::set_global_recorder(recorder) {
        tracing::error!(%error, "metrics: another recorder is installed; /metrics stays empty");
    }
    describe();
    handle
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "alpes_commands_total",
        "Commands by aggregate, command and outcome (executed, rejected, conflict, store_error)"
    );
    describe_histogram!(
        "alpes_command_duration_seconds",
        Unit::Seconds,
        "Time to load, decide and append, retries included"
    );
    describe_counter!(
        "alpes_events_appended_total",
        "Events appended to the event store"
    );
    describe_counter!(
        "alpes_consumer_batches_total",
        "Batches handed to a consumer, by outcome"
    );
    describe_counter!("alpes_consumer_events_total", "Events a consumer handled");
    describe_gauge!(
        "alpes_consumer_lag_events",
        "Events of the log after the consumer's checkpoint (measured at scrape)"
    );
    describe_gauge!(
        "alpes_consumer_lag_seconds",
        Unit::Seconds,
        "Age of the oldest event the consumer has not handled (measured at scrape)"
    );
    describe_counter!(
        "alpes_saga_outcomes_total",
        "Saga ends: completed, not_attributed, compensated"
    );
    describe_counter!(
        "alpes_http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "alpes_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route template"
    );
}

/// The consumers of this process whose lag `/metrics` reports: the saga reactors of its
/// services and, once they run, the projectors.
#[derive(Clone)]
pub struct ConsumerLag {
    backend: EventStoreBackend,
    saga: Option<(SagaDatabase, Vec<&'static str>)>,
    views: Arc<OnceLock<Views>>,
}

impl ConsumerLag {
    /// The lag of the saga `consumers` (checkpointed in `saga`) over `backend`'s log.
    pub fn new(
        backend: EventStoreBackend,
        saga: Option<(SagaDatabase, Vec<&'static str>)>,
    ) -> Self {
        ConsumerLag {
            backend,
            saga,
            views: Arc::default(),
        }
    }

    /// Reports the projectors writing into `views` too.
    pub fn with_projections(&self, views: Views) {
        let _ = self.views.set(views);
    }

    /// Sets the lag gauges of every consumer; a consumer whose lag cannot be measured now
    /// keeps its last value (and a warning is logged).
    pub async fn measure(&self) {
        if let Some((database, consumers)) = &self.saga {
            for consumer in consumers {
                match database.checkpoint(consumer).await {
                    Ok(position) => self.measure_from(consumer, position).await,
                    Err(error) => tracing::warn!(consumer, %error, "metrics: no checkpoint"),
                }
            }
        }
        if let Some(views) = self.views.get() {
            match views.projection_status(&self.backend).await {
                Ok(statuses) => {
                    for status in statuses {
                        let consumer = status.name.consumer();
                        set_lag(&consumer, status.lag_events as f64, status.lag_seconds);
                    }
                }
                Err(error) => tracing::warn!(%error, "metrics: projection status unavailable"),
            }
        }
    }

    async fn measure_from(&self, consumer: &str, position: Position) {
        let events = alpes_read::status::events_after(&self.backend, position).await;
        let oldest = self.backend.log().read_after(position, 1).await;
        match (events, oldest) {
            (Ok((events, _exact)), Ok(oldest)) => {
                let seconds = oldest.first().map_or(0.0, |event| {
                    (Utc::now() - event.recorded_at).num_milliseconds().max(0) as f64 / 1_000.0
                });
                set_lag(consumer, events as f64, seconds);
            }
            (Err(error), _) => tracing::warn!(consumer, %error, "metrics: lag unavailable"),
            (_, Err(error)) => tracing::warn!(consumer, %error, "metrics: lag unavailable"),
        }
    }
}

fn set_lag(consumer: &str, events: f64, seconds: f64) {
    metrics::gauge!("alpes_consumer_lag_events", "consumer" => consumer.to_string()).set(events);
    metrics::gauge!("alpes_consumer_lag_seconds", "consumer" => consumer.to_string()).set(seconds);
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    lag: ConsumerLag,
}

/// The `/metrics` route.
pub fn routes(lag: ConsumerLag) -> Router {
    let state = Scrape {
        handle: recorder(),
        lag,
    };
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<Scrape>) -> impl IntoResponse {
    state.lag.measure().await;
    state.handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.handle.render(),
    )
}
