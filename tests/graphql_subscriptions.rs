//! GraphQL subscriptions over a real WebSocket (graphql-transport-ws), against the real
//! server on SQLite and PostgreSQL: a campaign's events as they are recorded, and its
//! statistics after each change.

mod graphql_support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use graphql_support::TestApp;

on_both_stores!(&[] =>
    a_campaigns_events_and_statistics_arrive_as_they_happen,
);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(app: &TestApp) -> Socket {
    let url = app.url("/graphql/ws").replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    send(&mut socket, json!({"type": "connection_init"})).await;
    let ack = receive(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(ack, Some(json!({"type": "connection_ack"})));
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next JSON message, or `None` after `timeout`.
async fn receive(socket: &mut Socket, timeout: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        match message.unwrap() {
            Message::Text(text) => return Some(serde_json::from_str(text.as_str()).unwrap()),
            Message::Close(frame) => panic!("the server closed the socket: {frame:?}"),
            _ => continue,
        }
    }
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str, campana: Uuid) {
    send(
        socket,
        json!({"type": "subscribe", "id": id,
               "payload": {"query": query, "variables": {"campana": campana}}}),
    )
    .await;
}

/// The next `next` message of subscription `id` (others' messages skipped).
async fn next_of(socket: &mut Socket, id: &str) -> Value {
    loop {
        let message = receive(socket, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no message of {id} in 10 s"));
        if message["id"] == id && message["type"] == "next" {
            return message;
        }
    }
}

const STATS: &str = "subscription($campana: UUID!) {
  estadisticasCampana(campanaId: $campana) { clicks compras campanaId } }";
const EVENTS: &str = "subscription($campana: UUID!) {
  eventosCampana(campanaId: $campana) { tipo agregado aggregateType aggregateId position } }";

async fn a_campaigns_events_and_statistics_arrive_as_they_happen(app: &TestApp) {
    let campana = app.campana_activa("En vivo", 1_000_000).await;
    let otra = app.campana_activa("Otra", 1_000_000).await;
    // Active in the views: the log has handed out the activation, so the events
    // subscription starts after it (on PostgreSQL an event becomes readable only once no
    // older transaction of the cluster is open, which can be after the command's answer).
    app.eventually(
        "the campaign's statistics and its activation",
        "query($id: UUID!) { estadisticasCampana(campanaId: $id) { clicks }
                             campana(id: $id) { estado } }",
        json!({"id": campana}),
        |data| data["estadisticasCampana"]["clicks"] == 0 && data["campana"]["estado"] == "Activa",
    )
    .await;

    let mut socket = connect(app).await;
    // The statistics as they are now come first.
    subscribe(&mut socket, "stats", STATS, campana).await;
    let first = receive(&mut socket, Duration::from_secs(10)).await.unwrap();
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["id"], "stats");
    assert_eq!(
        first["payload"]["data"]["estadisticasCampana"],
        json!({"clicks": 0, "compras": 0, "campanaId": campana})
    );
    subscribe(&mut socket, "events", EVENTS, campana).await;
    // Give the events subscription its starting point in the log before writing.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another campaign's click is not sent; this campaign's click is, and its new stats.
    app.click(otra, Uuid::new_v4(), None).await;
    let click = app
        .click(campana, Uuid::new_v4(), Some(Uuid::new_v4()))
        .await;
    let mut event = None;
    let mut stats = None;
    while event.is_none() || stats.is_none() {
        let message = receive(&mut socket, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no message in 10 s (event {event:?}, stats {stats:?})"));
        assert_eq!(message["type"], "next", "{message}");
        let payload = message["payload"]["data"].clone();
        match message["id"].as_str().unwrap() {
            "events" => {
                assert!(event.is_none(), "one event only: {payload}");
                event = Some(payload["eventosCampana"].clone());
            }
            "stats" => stats = Some(payload["estadisticasCampana"].clone()),
            other => panic!("unknown subscription {other}"),
        }
    }
    let event = event.unwrap();
    assert_eq!(event["aggregateType"], "Interaccion", "{event}");
    assert_eq!(event["aggregateId"], json!(click), "{event}");
    assert_eq!(event["agregado"], format!("Interaccion-{click}"));
    assert_eq!(
        stats.unwrap(),
        json!({"clicks": 1, "compras": 0, "campanaId": campana})
    );

    // An event of the campaign itself.
    let paused = app
        .client
        .post(app.url(&format!("/api/v1/campanas/{campana}/pausar")))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    let message = next_of(&mut socket, "events").await;
    let event = &message["payload"]["data"]["eventosCampana"];
    assert_eq!(event["aggregateType"], "Campana", "{event}");
    assert_eq!(event["aggregateId"], json!(campana), "{event}");
    assert!(
        event["tipo"].as_str().unwrap().contains("Pausada"),
        "{event}"
    );

    // Completing a subscription stops it; the other goes on.
    send(&mut socket, json!({"type": "complete", "id": "events"})).await;
    app.click(campana, Uuid::new_v4(), None).await;
    loop {
        let message = receive(&mut socket, Duration::from_secs(10)).await.unwrap();
        match (message["type"].as_str(), message["id"].as_str()) {
            (Some("complete"), Some("events")) => continue,
            (Some("next"), Some("stats")) => {
                let clicks = &message["payload"]["data"]["estadisticasCampana"]["clicks"];
                if clicks == 2 {
                    break;
                }
            }
            _ => panic!("after completing the events: {message}"),
        }
    }

    // A bad subscription is answered with its error; the socket stays open.
    send(
        &mut socket,
        json!({"type": "subscribe", "id": "bad",
               "payload": {"query": "subscription { eventosCampana(campanaId: \"x\") { tipo } }"}}),
    )
    .await;
    let message = receive(&mut socket, Duration::from_secs(5)).await.unwrap();
    assert_eq!(message["id"], "bad", "{message}");
    let error = &message["payload"]["errors"][0]["message"];
    assert!(
        error.as_str().is_some_and(|text| text.contains("UUID")),
        "{message}"
    );
}
