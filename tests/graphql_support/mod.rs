//! What the GraphQL tests share: the real application (REST, saga, projectors, GraphQL)
//! on port 0 over a fresh store, a client for its REST and GraphQL APIs, and bounded waits.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use alpes::cli::{Cli, Command};
use alpes::configuration::Settings;
use alpes::startup::Application;
use alpes_event_store::{EventStoreBackend, Position, StoreOptions};
use alpes_test_support::{PostgresTestDb, SqliteTestDb};
use clap::Parser;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL (skipped
/// loudly by alpes-test-support when there is none), the app started with `$flags`.
// `crate::` is meant: each test binary includes this module as its own `graphql_support`.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! on_both_stores {
    ($flags:expr => $($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let app = crate::graphql_support::TestApp::spawn(
                        crate::graphql_support::Store::Sqlite, $flags).await.unwrap();
                    super::$test(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let Some(app) = crate::graphql_support::TestApp::spawn(
                        crate::graphql_support::Store::Postgres, $flags).await else {
                        return;
                    };
                    super::$test(&app).await;
                    app.stop().await;
                }
            }
        )*
    };
}

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// The running application and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: reqwest::Client,
    /// The event store the app writes (opened again by the test, to read the log's head).
    pub backend: EventStoreBackend,
    shutdown: CancellationToken,
    running: JoinHandle<anyhow::Result<()>>,
    _sqlite: Option<SqliteTestDb>,
    _postgres: Option<PostgresTestDb>,
}

impl TestApp {
    /// Starts `alpes serve --listen 127.0.0.1:0 [flags]` on a fresh store; `None` when
    /// PostgreSQL is missing.
    pub async fn spawn(store: Store, flags: &[&str]) -> Option<TestApp> {
        let (url, sqlite, postgres) = match store {
            Store::Sqlite => {
                let db = SqliteTestDb::create().unwrap();
                (db.url().to_string(), Some(db), None)
            }
            Store::Postgres => {
                let db = PostgresTestDb::create().await.unwrap()?;
                (db.url().to_string(), None, Some(db))
            }
        };
        let arguments = [
            &[
                "alpes",
                "serve",
                "--events",
                &url,
                "--listen",
                "127.0.0.1:0",
            ][..],
            flags,
        ]
        .concat();
        let settings = match Cli::try_parse_from(arguments).unwrap().command {
            Command::Serve(arguments) => Settings::from_args(arguments).unwrap(),
            other => panic!("not serve: {other:?}"),
        };
        let application = Application::build(settings).await.unwrap();
        let address = format!("http://{}", application.local_addr().unwrap());
        let shutdown = application.shutdown_token();
        let running = tokio::spawn(application.run_until_stopped());
        let backend = EventStoreBackend::open(&url, StoreOptions::default())
            .await
            .unwrap();
        Some(TestApp {
            address,
            client: reqwest::Client::new(),
            backend,
            shutdown,
            running,
            _sqlite: sqlite,
            _postgres: postgres,
        })
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(20), self.running)
            .await
            .expect("the app stops within 20 s")
            .unwrap();
        assert!(stopped.is_ok(), "{stopped:?}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST path` with a JSON body; the response's JSON, after checking its status is 2xx.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    /// The head of the log: the consistency token of the last write.
    pub async fn head(&self) -> Position {
        self.backend
            .log()
            .head()
            .await
            .unwrap()
            .map_or(Position::START, |(position, _)| position)
    }

    /// The log position of the last event of aggregate `id`, once the log hands it out:
    /// what a command's consistency token is. (The log's head is not: on PostgreSQL it
    /// stops before events that an older open transaction may still precede.)
    pub async fn position_of(&self, id: Uuid) -> Position {
        let id = id.to_string();
        eventually(&format!("an event of {id} in the log"), || async {
            let log = self.backend.log();
            let mut after = Position::START;
            let mut found = None;
            loop {
                let batch = log.read_after(after, 1_000).await.unwrap();
                let Some(last) = batch.last() else {
                    return found;
                };
                after = last.position;
                found = batch
                    .iter()
                    .rev()
                    .find(|event| event.event.aggregate_id == id)
                    .map(|event| event.position)
                    .or(found);
            }
        })
        .await
    }

    /// The raw GraphQL response (`data`, `errors`, `extensions`) to `query`.
    pub async fn graphql_response(&self, query: &str, variables: Value) -> Value {
        self.graphql_with(query, variables, None).await
    }

    /// The raw response, sending `token` as `X-Consistency-Token`.
    pub async fn graphql_with(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.header("X-Consistency-Token", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The `data` of `query`, which must have no errors.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql_response(query, variables.clone()).await;
        assert!(
            response.get("errors").is_none(),
            "{query}\n{variables:#}\n-> {response:#}"
        );
        response["data"].clone()
    }

    /// The error messages and codes of `query`, which must fail.
    pub async fn graphql_errors(&self, query: &str, variables: Value) -> Vec<(String, Value)> {
        let response = self.graphql_response(query, variables).await;
        errors_of(&response)
    }

    /// Creates (with `presupuesto_cents` EUR, 10% of purchases) and activates a campaign.
    pub async fn campana_activa(&self, nombre: &str, presupuesto_cents: i64) -> Uuid {
        let body = json!({
            "marca": {"id": Uuid::new_v4(), "nombre": "Alpes Outdoor"},
            "nombre": nombre,
            "descripcion": "Campaña de prueba",
            "tipo": "Afiliados",
            "fecha_inicio": "2026-01-01",
            "fecha_fin": "2027-12-31",
            "presupuesto": {"amount": presupuesto_cents, "currency": "EUR"},
            "reglas_comision": {"compra": {"calculo": {"Porcentaje": {"bps": 1000}}}}
        });
        let created = self.post("/api/v1/campanas", &body).await;
        let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
        let activated = self
            .client
            .post(self.url(&format!("/api/v1/campanas/{id}/activar")))
            .send()
            .await
            .unwrap();
        assert_eq!(activated.status(), 200);
        id
    }

    /// A click (by `partner`, or organic) an hour ago; its id.
    pub async fn click(&self, campana: Uuid, journey: Uuid, partner: Option<Uuid>) -> Uuid {
        let occurred = chrono::Utc::now() - chrono::Duration::hours(1);
        let body = json!({
            "tipo": "Click", "campana_id": campana, "journey_id": journey,
            "partner_id": partner, "occurred_at": occurred,
        });
        let registered = self.post("/api/v1/interacciones", &body).await;
        registered["id"].as_str().unwrap().parse().unwrap()
    }

    /// A purchase worth `cents` EUR, now; its id.
    pub async fn compra(&self, campana: Uuid, journey: Uuid, cents: i64) -> Uuid {
        let body = json!({
            "tipo": "Compra", "campana_id": campana, "journey_id": journey,
            "occurred_at": chrono::Utc::now(),
            "valor": {"amount": cents, "currency": "EUR"},
            "pedido_id": format!("PED-{}", Uuid::new_v4().simple()),
        });
        let registered = self.post("/api/v1/interacciones", &body).await;
        registered["id"].as_str().unwrap().parse().unwrap()
    }

    /// Queries `query` until `done` holds for its data (at most 30 s); that data.
    pub async fn eventually(
        &self,
        what: &str,
        query: &str,
        variables: Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(what, || async {
            let data = self.graphql(query, variables.clone()).await;
            done(&data).then_some(data)
        })
        .await
    }
}

/// The messages and `extensions.code`s of a response's errors (none: empty).
pub fn errors_of(response: &Value) -> Vec<(String, Value)> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    (
                        error["message"].as_str().unwrap_or_default().to_string(),
                        error["extensions"]["code"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Retries `attempt` until it returns `Some`, at most 30 s.
pub async fn eventually<T, F, Fut>(what: &str, attempt: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after 30 s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The nodes of a connection in `data` at `path` (`["comisiones"]`, …).
pub fn nodes(connection: &Value) -> Vec<&Value> {
    connection["edges"]
        .as_array()
        .map(|edges| edges.iter().map(|edge| &edge["node"]).collect())
        .unwrap_or_default()
}
