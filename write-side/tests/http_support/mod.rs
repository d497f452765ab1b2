//! `spawn_app`: the real command API on port 0 over a fresh store (an SQLite temp file, or
//! a PostgreSQL database of its own), and a reqwest client to talk to it.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use alpes_event_store::{EventStoreBackend, StoreOptions};
use alpes_test_support::{PostgresTestDb, SqliteTestDb};
use alpes_write::http::database::{SqlDatabase, SqliteTables};
use alpes_write::http::{HttpServer, WriteApi};
use alpes_write::{CommandServices, Service};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and what a test needs to look behind it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: reqwest::Client,
    pub backend: EventStoreBackend,
    pub commands: CommandServices,
    pub api: WriteApi,
    pub shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _sqlite: Option<SqliteTestDb>,
    _postgres: Option<PostgresTestDb>,
}

/// Every service on `backend`; `None` when PostgreSQL is missing (a SKIP line was printed;
/// with ALPES_REQUIRE_POSTGRES=1 this fails instead).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &Service::ALL).await
}

/// The given services on `backend`.
pub async fn spawn_app_with(backend: Backend, services: &[Service]) -> Option<TestApp> {
    let (url, sqlite, postgres) = match backend {
        Backend::Sqlite => {
            let db = SqliteTestDb::create().expect("a temporary SQLite file");
            (db.url().to_string(), Some(db), None)
        }
        Backend::Postgres => {
            let db = PostgresTestDb::create()
                .await
                .expect("a PostgreSQL test database")?;
            (db.url().to_string(), None, Some(db))
        }
    };
    let options = StoreOptions {
        max_connections: 8,
        ..StoreOptions::default()
    };
    let store = EventStoreBackend::open(&url, options)
        .await
        .expect("the store opens");
    let commands = CommandServices::new(&store, Default::default());
    let api = WriteApi::open(&store, commands.clone(), services, None)
        .await
        .expect("the API opens");
    let server = HttpServer::bind("127.0.0.1:0", api.clone())
        .await
        .expect("port 0 binds");
    let address = format!("http://{}", server.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(server.run(shutdown.clone()));
    Some(TestApp {
        address,
        client: reqwest::Client::new(),
        backend: store,
        commands,
        api,
        shutdown,
        server: Some(handle),
        _sqlite: sqlite,
        _postgres: postgres,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs `body` as JSON.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// POSTs `body` as JSON with an Idempotency-Key.
    pub async fn post_with_key(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// POSTs raw bytes declared as JSON.
    pub async fn post_raw(&self, path: &str, body: &'static str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers")
    }

    /// POSTs with no body.
    pub async fn post_empty(&self, path: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .send()
            .await
            .expect("the server answers")
    }

    /// Every event stored, counted in the events table itself (the log of PostgreSQL may
    /// show the newest ones a moment later).
    pub async fn stored_events(&self) -> i64 {
        const COUNT: &str = "SELECT COUNT(*) FROM events";
        match &self.api.state().database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                sqlx::query_scalar(COUNT).fetch_one(pool).await
            }
            SqlDatabase::Postgres(pool) => sqlx::query_scalar(COUNT).fetch_one(pool).await,
        }
        .expect("the events can be counted")
    }

    /// Cancels and waits for the server to stop; returns what it returned.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.cancel();
        let server = self.server.take().expect("the server runs");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task does not panic")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Reads a problem answer, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(
        body["type"],
        format!("urn:alpes:problem:{}", body["code"].as_str().unwrap()),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// Polls `check` until it is true, for up to 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Runs each named `async fn(TestApp)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let app = $crate::http_support::spawn_app($crate::http_support::Backend::Sqlite)
                        .await
                        .expect("SQLite is always there");
                    super::$test(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(app) =
                        $crate::http_support::spawn_app($crate::http_support::Backend::Postgres).await
                    else {
                        return;
                    };
                    super::$test(app).await;
                }
            )*
        }
    };
}
