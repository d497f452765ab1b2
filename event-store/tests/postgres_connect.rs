//! Connecting to PostgreSQL: the migrations, and clear errors when it cannot be done.

mod postgres_common;

use std::time::{Duration, Instant};

use alpes_event_store::postgres::PostgresEventStore;
use alpes_event_store::{StoreError, StoreOptions};
use alpes_test_support::PostgresTestDb;

async fn connect_error(url: &str) -> StoreError {
    let started = Instant::now();
    let outcome = PostgresEventStore::connect(url, &StoreOptions::default()).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?} to fail",
        started.elapsed()
    );
    match outcome {
        Ok(_) => panic!("connected to {url}"),
        Err(error) => {
            eprintln!("{error}");
            error
        }
    }
}

#[tokio::test]
async fn a_malformed_url_is_named_with_its_password_masked() {
    let error = connect_error("postgres://alpes:s3cret@localhost:notaport/alpes").await;
    let message = error.to_string();
    assert!(matches!(error, StoreError::InvalidUrl { .. }), "{message}");
    assert!(
        message.contains("postgres://alpes:****@localhost:notaport/alpes"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(message.contains("expected postgres://"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_says_where_it_looked_and_what_to_do() {
    let error = connect_error("postgres://alpes:s3cret@127.0.0.1:1/alpes").await;
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{message}");
    assert!(
        message.contains("postgres://alpes:****@127.0.0.1:1/alpes"),
        "{message}"
    );
    assert!(
        message.contains("Check that PostgreSQL runs at 127.0.0.1:1"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn a_missing_database_is_named_with_how_to_create_it() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let missing = db.url_for_database("alpes_no_such_database").unwrap();
    let error = connect_error(&missing).await;
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{message}");
    assert!(
        message.contains("The database 'alpes_no_such_database' does not exist"),
        "{message}"
    );
    assert!(message.contains("createdb"), "{message}");
}

#[tokio::test]
async fn connecting_twice_to_a_migrated_database_keeps_its_events() {
    let Some((db, store)) = postgres_common::fresh_store().await else {
        return;
    };
    use cqrs_es::persist::PersistedEventRepository;
    store
        .repository()
        .persist::<postgres_common::Counter>(&[postgres_common::incremented("c", 1, 1)], None)
        .await
        .unwrap();
    let again = PostgresEventStore::connect(db.url(), &StoreOptions::default())
        .await
        .unwrap();
    let events = again
        .repository()
        .get_events::<postgres_common::Counter>("c")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn concurrent_first_connections_migrate_once() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let connecting = (0..4).map(|_| {
        let url = db.url().to_string();
        tokio::spawn(
            async move { PostgresEventStore::connect(&url, &StoreOptions::default()).await },
        )
    });
    for store in futures::future::join_all(connecting).await {
        store.unwrap().unwrap();
    }
}
