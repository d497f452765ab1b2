//! Test harness: an event store and a views database per test, on SQLite (one file) and on
//! PostgreSQL (two fresh databases: the views apart from the events), and helpers to run
//! the projectors and wait for them.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use alpes_event_store::{EventStoreBackend, Position, RunnerOptions, StoreOptions};
use alpes_read::status::events_after;
use alpes_read::{start_with, ProjectionName, ProjectionState, RunningProjections, Views};
use alpes_test_support::{PostgresTestDb, SqliteTestDb};
use tokio_util::sync::CancellationToken;

/// An event store and its views, alive as long as this is.
pub struct Env {
    pub backend: EventStoreBackend,
    pub views: Views,
    pub events_url: String,
    pub views_url: String,
    _sqlite: Option<SqliteTestDb>,
    _postgres: Vec<PostgresTestDb>,
}

/// Events and views in one fresh SQLite file (the default layout).
pub async fn sqlite() -> Env {
    let db = SqliteTestDb::create().unwrap();
    let url = db.url().to_string();
    let backend = EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    let views = Views::open(&url).await.unwrap();
    Env {
        backend,
        views,
        events_url: url.clone(),
        views_url: url,
        _sqlite: Some(db),
        _postgres: Vec::new(),
    }
}

/// Events and views in two fresh PostgreSQL databases; `None` (after a SKIP line) when no
/// PostgreSQL is usable, unless ALPES_REQUIRE_POSTGRES=1.
pub async fn postgres() -> Option<Env> {
    let events = PostgresTestDb::create().await.unwrap()?;
    let views_db = PostgresTestDb::create().await.unwrap()?;
    let backend = EventStoreBackend::open(events.url(), StoreOptions::default())
        .await
        .unwrap();
    let views = Views::open(views_db.url()).await.unwrap();
    Some(Env {
        backend,
        views,
        events_url: events.url().to_string(),
        views_url: views_db.url().to_string(),
        _sqlite: None,
        _postgres: vec![events, views_db],
    })
}

/// Defines `sqlite` and `postgres` tests running `$test(env)`.
#[macro_export]
macro_rules! on_both_backends {
    ($test:ident) => {
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$test(super::support::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(env) = super::support::postgres().await else {
                    return;
                };
                super::$test(env).await;
            }
        }
    };
}

impl Env {
    /// Runs every projector (each under its lease) until the returned token is cancelled.
    pub fn run_projectors(&self) -> (CancellationToken, RunningProjections) {
        let shutdown = CancellationToken::new();
        let options = RunnerOptions {
            batch_size: 500,
            idle_wait: Duration::from_millis(50),
            first_retry_delay: Duration::from_millis(20),
            max_retry_delay: Duration::from_millis(200),
        };
        let running = start_with(
            &self.backend,
            self.views.clone(),
            &ProjectionName::ALL,
            options,
            shutdown.clone(),
        );
        (shutdown, running)
    }

    /// Every event committed so far (readable or not yet: on PostgreSQL an event becomes
    /// readable once every older transaction of the cluster has ended).
    pub async fn committed_events(&self) -> u64 {
        let count: i64 = if let Some(store) = self.backend.as_sqlite() {
            sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(store.pool())
                .await
                .unwrap()
        } else {
            let store = self.backend.as_postgres().unwrap();
            sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        count as u64
    }

    /// How many indexes (primary key included) the views table `table` has.
    pub async fn index_count(&self, table: &str) -> i64 {
        if let Some(store) = self.backend.as_sqlite() {
            // SQLite lists the primary key's index without SQL (sqlite_autoindex_…).
            sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
            )
            .bind(table)
            .fetch_one(store.pool())
            .await
            .unwrap()
        } else {
            let views = sqlx::PgPool::connect(&self.views_url).await.unwrap();
            let count = sqlx::query_scalar(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename = $1",
            )
            .bind(table)
            .fetch_one(&views)
            .await
            .unwrap();
            views.close().await;
            count
        }
    }

    /// The distinct event types in the log.
    pub async fn event_types(&self) -> std::collections::BTreeSet<String> {
        let types: Vec<String> = if let Some(store) = self.backend.as_sqlite() {
            sqlx::query_scalar("SELECT DISTINCT event_type FROM events")
                .fetch_all(store.pool())
                .await
                .unwrap()
        } else {
            let store = self.backend.as_postgres().unwrap();
            sqlx::query_scalar("SELECT DISTINCT event_type FROM events")
                .fetch_all(store.pool())
                .await
                .unwrap()
        };
        types.into_iter().collect()
    }

    /// Waits until every projection has applied every event committed so far.
    pub async fn wait_until_caught_up(&self) {
        let committed = self.committed_events().await;
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (readable, _) = events_after(&self.backend, Position::START).await.unwrap();
            let statuses = self.views.projection_status(&self.backend).await.unwrap();
            if readable >= committed
                && statuses
                    .iter()
                    .all(|status| status.state == ProjectionState::CaughtUp)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "projections did not catch up with {committed} events: {statuses:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the projectors until they have applied the whole log, then stops them.
    pub async fn project_everything(&self) {
        let (shutdown, running) = self.run_projectors();
        self.wait_until_caught_up().await;
        shutdown.cancel();
        running.join().await;
    }
}
