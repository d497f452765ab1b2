//! Serving: only the routes of the services run, and a graceful shutdown that finishes the
//! requests in flight.

mod http_support;

use std::time::Duration;

use alpes_write::Service;
use serde_json::{json, Value};
use uuid::Uuid;

use http_support::{problem, spawn_app_with, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_of_services_not_run_are_absent() {
    let app = spawn_app_with(Backend::Sqlite, &[Service::Tracking, Service::Atribucion])
        .await
        .unwrap();
    let body = problem(app.post("/api/v1/campanas", &json!({})).await, 404).await;
    assert_eq!(body["code"], "RouteNotFound");
    let id = Uuid::new_v4();
    let body = problem(
        app.post_empty(&format!("/api/v1/comisiones/{id}/aprobar"))
            .await,
        404,
    )
    .await;
    assert_eq!(body["code"], "RouteNotFound");
    let click = json!({"tipo": "Click", "campana_id": id, "journey_id": id});
    assert_eq!(
        app.post("/api/v1/interacciones", &click).await.status(),
        201
    );
    assert!(app.api.state().known_commissions.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_requests_in_flight_then_stops_accepting() {
    let app = spawn_app_with(Backend::Sqlite, &Service::ALL)
        .await
        .unwrap();
    let campana = Uuid::new_v4();
    let batch: Vec<Value> = (0..1_000)
        .map(|_| json!({"tipo": "Vista", "campana_id": campana, "journey_id": Uuid::new_v4()}))
        .collect();
    let request = app
        .client
        .post(app.url("/api/v1/interacciones"))
        .json(&batch)
        .send();
    let in_flight = tokio::spawn(request);
    // Let the request reach the server before the shutdown starts.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let address = app.url("/health");
    let client = app.client.clone();
    app.stop().await.expect("the server stops cleanly");

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["registered"], 1_000);
    assert!(
        client.get(&address).send().await.is_err(),
        "no longer accepting connections"
    );
}
