//! The contract suite on PostgreSQL: a fresh database per test (alpes_test_support).

#[macro_use]
mod contract;

use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::{EventStoreBackend, StoreOptions};
use alpes_test_support::PostgresTestDb;
use cqrs_es::persist::SerializedEvent;
use futures::future::BoxFuture;
use sqlx::postgres::PgPoolOptions;

use contract::{HeldAppend, TestStore};

contract_suite!(fresh_postgres);

fn fresh_postgres(options: StoreOptions) -> BoxFuture<'static, Option<TestStore>> {
    Box::pin(async move {
        let db = PostgresTestDb::create().await.unwrap()?;
        let url = db.url().to_string();
        let backend = EventStoreBackend::open(&url, options).await.unwrap();
        let held_append = held_append(&url).await;
        Some(TestStore {
            url,
            backend,
            held_append: Some(held_append),
            guard: Box::new(db),
        })
    })
}

/// Inserts the way postgres-es does, in a transaction that stays open for `hold`: its rows
/// take global positions now but commit late, which is what the gap test is about.
async fn held_append(url: &str) -> HeldAppend {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await
        .unwrap();
    Arc::new(move |events: Vec<SerializedEvent>, hold: Duration| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut transaction = pool.begin().await.unwrap();
            for event in events {
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                     event_version, payload, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(event.aggregate_type)
                .bind(event.aggregate_id)
                .bind(event.sequence as i64)
                .bind(event.event_type)
                .bind(event.event_version)
                .bind(event.payload)
                .bind(event.metadata)
                .execute(&mut *transaction)
                .await
                .unwrap();
            }
            tokio::time::sleep(hold).await;
            transaction.commit().await.unwrap();
        }) as BoxFuture<'static, ()>
    })
}
