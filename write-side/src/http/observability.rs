//! What the HTTP layer tells operators: a `request` span per request carrying its
//! `x-request-id` (so every log line of its commands names it), and the request counters
//! and latencies of `/metrics`, by route template and status.

use std::time::Instant;

use alpes_event_store::MetricHandles;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use tracing::Span;

/// The header that identifies a request (set by the client, or a new UUID).
pub const REQUEST_ID: &str = "x-request-id";

/// The span of one request: method, path and request id.
pub fn request_span<B>(request: &axum::http::Request<B>) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
    )
}

/// Counts the request (`alpes_http_requests_total`) and records its latency
/// (`alpes_http_request_duration_seconds`), by method, route template (`/api/v1/campanas/{id}/activar`,
/// or `unmatched`) and status.
pub async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    /// Method, route template and status.
    type Labels = (String, String, String);
    static REQUESTS: MetricHandles<Labels, (Histogram, Counter)> = MetricHandles::new();
    let (histogram, counter) = REQUESTS.get((method, route, status), |labels| {
        let (method, route, status) = labels.clone();
        (
            metrics::histogram!(
                "alpes_http_request_duration_seconds",
                "method" => method.clone(),
                "route" => route.clone()
            ),
            metrics::counter!(
                "alpes_http_requests_total",
                "method" => method,
                "route" => route,
                "status" => status
            ),
        )
    });
    histogram.record(started.elapsed().as_secs_f64());
    counter.increment(1);
    response
}
