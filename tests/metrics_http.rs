//! `/metrics` and the request id, as an operator sees them: the real application on a random
//! port over an SQLite store, driven through REST.
//!
//! The metrics recorder is global to the process, so the tests of this file take turns
//! (one application at a time) and compare counters before and after what they do.

use std::collections::HashMap;
use std::time::Duration;

use alpes::cli::{Cli, Command};
use alpes::configuration::Settings;
use alpes::metrics::ConsumerLag;
use alpes::startup::Application;
use alpes_event_store::{EventStoreBackend, Position};
use alpes_test_support::requests::campana_json;
use alpes_test_support::SqliteTestDb;
use alpes_write::saga::{names, SagaDatabase};
use clap::Parser;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One application of this file at a time: the counters are the process's.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(30);

struct TestApp {
    address: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    db: SqliteTestDb,
}

impl TestApp {
    async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// `alpes serve` on a new SQLite store with `flags`.
    async fn spawn_with(flags: &[&str]) -> TestApp {
        let db = SqliteTestDb::create().unwrap();
        let mut arguments = vec![
            "alpes",
            "serve",
            "--events",
            db.url(),
            "--listen",
            "127.0.0.1:0",
        ];
        arguments.extend_from_slice(flags);
        let cli = Cli::try_parse_from(arguments).unwrap();
        let Command::Serve(arguments) = cli.command else {
            unreachable!()
        };
        let application = Application::build(Settings::from_args(arguments).unwrap())
            .await
            .unwrap();
        let address = format!("http://{}", application.local_addr().unwrap());
        let shutdown = application.shutdown_token();
        let running = tokio::spawn(application.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::new(),
            shutdown,
            running,
            db,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn scrape(&self) -> Metrics {
        let response = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        Metrics::parse(&response.text().await.unwrap())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.running)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// The samples of a Prometheus text page: `name{labels}` → value.
struct Metrics {
    samples: Vec<(String, HashMap<String, String>, f64)>,
    text: String,
}

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap();
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            samples.push((name.to_string(), labels, value));
        }
        Metrics {
            samples,
            text: text.to_string(),
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(sample, sample_labels, _)| {
                sample == name
                    && labels.iter().all(|(key, value)| {
                        sample_labels.get(*key).map(String::as_str) == Some(value)
                    })
            })
            .map(|(_, _, value)| value)
            .sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|(sample, sample_labels, _)| {
            sample == name
                && labels
                    .iter()
                    .all(|(key, value)| sample_labels.get(*key).map(String::as_str) == Some(value))
        })
    }
}

async fn active_campaign(app: &TestApp) -> Uuid {
    let created = app.post("/api/v1/campanas", &campana_json()).await;
    assert_eq!(created.status(), 201);
    let id: Uuid = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let activated = app
        .post(&format!("/api/v1/campanas/{id}/activar"), &json!(null))
        .await;
    assert_eq!(activated.status(), 200);
    id
}

/// A partner's click an hour before a purchase of 250.00 EUR, in one journey.
async fn click_and_purchase(app: &TestApp, campana: Uuid) {
    let journey = Uuid::new_v4();
    let click = json!({
        "tipo": "Click", "campana_id": campana, "journey_id": journey,
        "partner_id": Uuid::new_v4(), "occurred_at": "2025-03-01T11:00:00Z"
    });
    let purchase = json!({
        "tipo": "Compra", "campana_id": campana, "journey_id": journey,
        "occurred_at": "2025-03-01T12:00:00Z",
        "valor": {"amount": 25_000, "currency": "EUR"}, "pedido_id": "PED-1"
    });
    for body in [click, purchase] {
        assert_eq!(app.post("/api/v1/interacciones", &body).await.status(), 201);
    }
}

/// Scrapes until `done` holds, or fails after [`WAIT`].
async fn scrape_until(app: &TestApp, what: &str, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = app.scrape().await;
        if done(&metrics) {
            return metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not seen within {WAIT:?}:\n{}",
            metrics.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_commands_events_saga_and_requests_of_a_conversion() {
    let _turn = TURN.lock().await;
    let app = TestApp::spawn().await;
    let before = app.scrape().await;

    let campana = active_campaign(&app).await;
    click_and_purchase(&app, campana).await;
    let missing = app
        .client
        .get(format!("{}/api/v1/nada", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let completed = [("outcome", "completed")];
    let after = scrape_until(&app, "a completed saga", |metrics| {
        metrics.get("alpes_saga_outcomes_total", &completed)
            - before.get("alpes_saga_outcomes_total", &completed)
            >= 1.0
    })
    .await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);

    // Commands by aggregate, command and outcome: the client's and the saga's.
    let executed = |aggregate, command| {
        delta(
            "alpes_commands_total",
            &[
                ("aggregate", aggregate),
                ("command", command),
                ("outcome", "executed"),
            ],
        )
    };
    assert_eq!(executed("Campana", "CrearCampana"), 1.0);
    assert_eq!(executed("Campana", "ActivarCampana"), 1.0);
    assert_eq!(executed("Interaccion", "RegistrarInteraccion"), 2.0);
    assert_eq!(executed("Atribucion", "AtribuirConversion"), 1.0);
    assert_eq!(executed("Campana", "ReservarPresupuesto"), 1.0);
    assert_eq!(executed("Comision", "ReservarComision"), 1.0);
    assert_eq!(
        delta("alpes_saga_outcomes_total", &completed),
        1.0,
        "one commission reserved"
    );
    assert_eq!(
        delta("alpes_saga_outcomes_total", &[("outcome", "compensated")]),
        0.0
    );

    // Latency histogram: one observation per command, in buckets.
    let crear = [("aggregate", "Campana"), ("command", "CrearCampana")];
    assert_eq!(delta("alpes_command_duration_seconds_count", &crear), 1.0);
    assert!(after.has(
        "alpes_command_duration_seconds_bucket",
        &[("command", "CrearCampana"), ("le", "+Inf")]
    ));

    // Events appended: campaign created and activated, two interactions, the attribution,
    // the reservation and the commission.
    assert_eq!(
        delta("alpes_events_appended_total", &[("aggregate", "Comision")]),
        1.0
    );
    assert!(delta("alpes_events_appended_total", &[]) >= 7.0);

    // HTTP requests by route template and status.
    let requests = |route, status| {
        delta(
            "alpes_http_requests_total",
            &[("method", "POST"), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/api/v1/campanas", "201"), 1.0);
    assert_eq!(requests("/api/v1/campanas/{id}/activar", "200"), 1.0);
    assert_eq!(requests("/api/v1/interacciones", "201"), 2.0);
    assert_eq!(
        delta(
            "alpes_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );

    // Consumers: batches handled, and every consumer of this process caught up.
    assert!(
        delta(
            "alpes_consumer_batches_total",
            &[
                ("consumer", "saga.ReservarComision"),
                ("outcome", "handled")
            ]
        ) >= 1.0
    );
    let consumers = alpes_write::saga::consumer_names(&alpes_write::Service::ALL);
    let caught_up = scrape_until(&app, "every consumer caught up", |metrics| {
        consumers
            .iter()
            .all(|consumer| metrics.has("alpes_consumer_lag_events", &[("consumer", consumer)]))
            && metrics.has(
                "alpes_consumer_lag_events",
                &[("consumer", "projection:saga")],
            )
            && metrics
                .samples
                .iter()
                .filter(|(name, _, _)| name.starts_with("alpes_consumer_lag_"))
                .all(|(_, _, value)| *value == 0.0)
    })
    .await;
    assert!(caught_up.has(
        "alpes_consumer_lag_seconds",
        &[("consumer", "saga.AtribuirConversion")]
    ));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_counts_the_events_a_consumer_has_not_handled() {
    let _turn = TURN.lock().await;
    // A process without the atribucion service: its consumers never read these events.
    let app =
        TestApp::spawn_with(&["--services", "marketing,tracking", "--projectors", "false"]).await;
    let campana = active_campaign(&app).await;
    click_and_purchase(&app, campana).await;
    let url = app.db.url().to_string();
    let backend = EventStoreBackend::open(&url, Default::default())
        .await
        .unwrap();
    let stored = backend
        .log()
        .read_after(Position::START, 100)
        .await
        .unwrap();
    assert_eq!(stored.len(), 4, "created, activated, click, purchase");

    let saga = SagaDatabase::of_backend(&backend).await.unwrap();
    let lag = ConsumerLag::new(
        backend.clone(),
        Some((saga, vec![names::ATRIBUIR_CONVERSION])),
    );
    lag.measure().await;
    let metrics = Metrics::parse(&alpes::metrics::recorder().render());
    let consumer = [("consumer", names::ATRIBUIR_CONVERSION)];
    assert_eq!(metrics.get("alpes_consumer_lag_events", &consumer), 4.0);
    let seconds = metrics.get("alpes_consumer_lag_seconds", &consumer);
    let oldest = (chrono::Utc::now() - stored[0].recorded_at).num_milliseconds() as f64 / 1_000.0;
    assert!(
        seconds > 0.0 && seconds <= oldest + 0.01,
        "{seconds} s, oldest {oldest} s"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_recorded_in_the_metadata_of_the_events_it_causes() {
    let _turn = TURN.lock().await;
    let app = TestApp::spawn().await;
    let request_id = format!("req-{}", Uuid::new_v4());
    let created = app
        .client
        .post(format!("{}/api/v1/campanas", app.address))
        .header("x-request-id", &request_id)
        .json(&campana_json())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-request-id"], request_id.as_str());
    // Without one, the server makes one up and answers with it.
    let other = app.post("/api/v1/campanas", &campana_json()).await;
    let generated = other.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(Uuid::parse_str(&generated).is_ok(), "{generated}");

    let backend = EventStoreBackend::open(app.db.url(), Default::default())
        .await
        .unwrap();
    let events = backend
        .log()
        .read_after(Position::START, 100)
        .await
        .unwrap();
    let recorded: Vec<String> = events
        .iter()
        .filter_map(|event| event.metadata().get("request_id").cloned())
        .collect();
    assert_eq!(recorded, vec![request_id, generated]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_passes_the_purchase_request_id_on_to_the_events_it_causes() {
    let _turn = TURN.lock().await;
    let app = TestApp::spawn().await;
    let campana = active_campaign(&app).await;
    let journey = Uuid::new_v4();
    let click = json!({
        "tipo": "Click", "campana_id": campana, "journey_id": journey,
        "partner_id": Uuid::new_v4(), "occurred_at": "2025-03-01T11:00:00Z"
    });
    assert_eq!(
        app.post("/api/v1/interacciones", &click).await.status(),
        201
    );
    let request_id = format!("compra-{}", Uuid::new_v4());
    let purchase = app
        .client
        .post(format!("{}/api/v1/interacciones", app.address))
        .header("x-request-id", &request_id)
        .json(&json!({
            "tipo": "Compra", "campana_id": campana, "journey_id": journey,
            "occurred_at": "2025-03-01T12:00:00Z",
            "valor": {"amount": 25_000, "currency": "EUR"}, "pedido_id": "PED-9"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(purchase.status(), 201);

    let backend = EventStoreBackend::open(app.db.url(), Default::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let events = loop {
        let events = backend
            .log()
            .read_after(Position::START, 100)
            .await
            .unwrap();
        if events
            .iter()
            .any(|event| event.event.event_type == "ComisionReservada")
        {
            break events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no commission reserved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let with_request: Vec<&str> = events
        .iter()
        .filter(|event| event.metadata().get("request_id") == Some(&request_id))
        .map(|event| event.event.event_type.as_str())
        .collect();
    assert_eq!(
        with_request,
        vec![
            "InteraccionRegistrada",
            "ConversionAtribuida",
            "PresupuestoReservado",
            "ComisionReservada"
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_process_serves_no_commands_and_reports_its_projectors() {
    let _turn = TURN.lock().await;
    let app = TestApp::spawn_with(&["--services", "none", "--projectors", "true"]).await;
    let ready = app
        .client
        .get(format!("{}/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let absent = app.post("/api/v1/campanas", &campana_json()).await;
    assert_eq!(absent.status(), 404);
    // The gauges are the process's: a value no measure gives shows that this process
    // measures its projectors.
    metrics::gauge!("alpes_consumer_lag_events", "consumer" => "projection:tracking").set(-1.0);
    scrape_until(&app, "the projectors' lag", |metrics| {
        metrics.get(
            "alpes_consumer_lag_events",
            &[("consumer", "projection:tracking")],
        ) == 0.0
    })
    .await;
    app.stop().await;
}
