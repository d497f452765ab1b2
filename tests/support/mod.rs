//! What the root package's tests share: `alpes serve` itself (the [`Application`]: REST
//! API, saga, projectors) on a random port over a fresh store, a client, and reads of the
//! global log behind it.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use alpes::cli::{Cli, Command};
use alpes::configuration::Settings;
use alpes::startup::Application;
use alpes_event_store::{EventStoreBackend, Position, RecordedEvent};
use alpes_test_support::{PostgresTestDb, SqliteTestDb};
use clap::Parser;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Runs each named `async fn(TestDb)` on SQLite and on PostgreSQL (skipped loudly when
/// PostgreSQL is missing; failing under ALPES_REQUIRE_POSTGRES=1).
#[macro_export]
macro_rules! on_sqlite_and_postgres {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$test($crate::support::TestDb::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let Some(db) = $crate::support::TestDb::postgres().await else {
                        return;
                    };
                    super::$test(db).await;
                }
            }
        )*
    };
}

/// A fresh, empty database of its own; dropped with the test.
pub enum TestDb {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite(SqliteTestDb::create().unwrap())
    }

    pub async fn postgres() -> Option<TestDb> {
        PostgresTestDb::create()
            .await
            .unwrap()
            .map(TestDb::Postgres)
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(db) => db.url().to_string(),
            TestDb::Postgres(db) => db.url().to_string(),
        }
    }

    /// `alpes serve --events URL --listen 127.0.0.1:0` with `extra` flags, running.
    pub async fn serve(&self, extra: &[&str]) -> TestServer {
        TestServer::start(&self.url(), extra).await
    }
}

/// The settings `alpes serve` would have with these flags.
pub fn serve_settings(events: &str, extra: &[&str]) -> Settings {
    let flags = [
        &[
            "alpes",
            "serve",
            "--events",
            events,
            "--listen",
            "127.0.0.1:0",
        ],
        extra,
    ]
    .concat();
    match Cli::try_parse_from(flags).unwrap().command {
        Command::Serve(arguments) => Settings::from_args(arguments).unwrap(),
        other => panic!("not serve: {other:?}"),
    }
}

/// A running `alpes serve`.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub client: reqwest::Client,
    pub backend: EventStoreBackend,
    shutdown: CancellationToken,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(events: &str, extra: &[&str]) -> TestServer {
        let application = Application::build(serve_settings(events, extra))
            .await
            .unwrap();
        let address = format!("http://{}", application.local_addr().unwrap());
        let backend = application.backend().clone();
        let shutdown = application.shutdown_token();
        let running = tokio::spawn(application.run_until_stopped());
        TestServer {
            address,
            client: reqwest::Client::new(),
            backend,
            shutdown,
            running: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs `body` as JSON; answers the status and the JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs `body` and expects `status`; answers the JSON body.
    pub async fn expect(&self, path: &str, body: &Value, status: u16) -> Value {
        let (answered, json) = self.post(path, body).await;
        assert_eq!(answered, status, "POST {path}: {json}");
        json
    }

    /// Every event of the global log, in order.
    pub async fn log(&self) -> Vec<RecordedEvent> {
        read_log(&self.backend).await
    }

    /// Waits (at most `timeout`) until `done` holds for the log; returns that log.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[RecordedEvent]) -> bool,
    ) -> Vec<RecordedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let events = self.log().await;
            if done(&events) {
                return events;
            }
            if tokio::time::Instant::now() > deadline {
                let lines: Vec<String> = events.iter().map(describe).collect();
                panic!("timed out waiting for {what}; log:\n{}", lines.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the saga's consumers have handled the whole log and it stopped growing.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let checkpoints = self.backend.checkpoints();
        loop {
            let head = head(&self.backend).await;
            let mut caught_up = true;
            for name in alpes_write::saga::consumer_names(&alpes_write::Service::ALL) {
                caught_up &= checkpoints.load(name).await.unwrap() >= head;
            }
            if caught_up {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if crate::support::head(&self.backend).await == head {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the saga did not settle in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it gracefully (as SIGTERM does) and waits until it has.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let running = self.running.take().expect("it runs");
        tokio::time::timeout(Duration::from_secs(20), running)
            .await
            .expect("stops within 20 s")
            .unwrap()
            .unwrap();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Every event of `backend`'s global log, in order.
pub async fn read_log(backend: &EventStoreBackend) -> Vec<RecordedEvent> {
    let log = backend.log();
    let mut events = Vec::new();
    let mut after = Position::START;
    loop {
        let batch = log.read_after(after, 5_000).await.unwrap();
        let Some(last) = batch.last() else {
            return events;
        };
        after = last.position;
        events.extend(batch);
    }
}

pub async fn head(backend: &EventStoreBackend) -> Position {
    backend
        .log()
        .head()
        .await
        .unwrap()
        .map_or(Position::START, |(position, _)| position)
}

/// The events of a journey (every saga event carries the journey as correlation id).
pub fn of_journey(events: &[RecordedEvent], journey: uuid::Uuid) -> Vec<&RecordedEvent> {
    let journey = journey.to_string();
    events
        .iter()
        .filter(|event| event.metadata().get("correlation_id") == Some(&journey))
        .collect()
}

/// How many events of `event_type` are in `events`.
pub fn count<'a>(events: impl IntoIterator<Item = &'a RecordedEvent>, event_type: &str) -> usize {
    events
        .into_iter()
        .filter(|event| event.event.event_type == event_type)
        .count()
}

pub fn describe(event: &RecordedEvent) -> String {
    format!(
        "{} {} {} {:?}",
        event.position,
        event.stream(),
        event.event.event_type,
        event.metadata()
    )
}

/// Polls `check` until it is true, for up to `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}
