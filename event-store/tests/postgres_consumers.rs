//! Checkpoints and leases of consumers on PostgreSQL.

mod postgres_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::postgres::PostgresCheckpoints;
use alpes_event_store::{CheckpointStore, LeaseProvider, Position};
use alpes_test_support::PostgresTestDb;
use postgres_common::fresh_store;
use sqlx::PgPool;

#[tokio::test]
async fn a_checkpoint_reads_back_as_saved_and_starts_at_the_start() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let checkpoints = store.checkpoints();
    assert_eq!(
        checkpoints.load("projector").await.unwrap(),
        Position::START
    );
    let far = Position::new(u64::MAX, 42);
    checkpoints.save("projector", far).await.unwrap();
    checkpoints
        .save("reactor", Position::new(7, 3))
        .await
        .unwrap();
    assert_eq!(checkpoints.load("projector").await.unwrap(), far);
    checkpoints
        .save("projector", Position::new(1, 2))
        .await
        .unwrap();
    assert_eq!(
        checkpoints.load("projector").await.unwrap(),
        Position::new(1, 2)
    );
    assert_eq!(
        checkpoints.load("reactor").await.unwrap(),
        Position::new(7, 3)
    );
}

#[tokio::test]
async fn a_checkpoint_saved_in_a_transaction_commits_or_rolls_back_with_it() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let pool = store.pool();
    sqlx::query("CREATE TABLE view_rows (id int PRIMARY KEY)")
        .execute(pool)
        .await
        .unwrap();
    let checkpoints = store.checkpoints();
    checkpoints
        .save("projector", Position::new(1, 1))
        .await
        .unwrap();

    let mut rolled_back = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO view_rows VALUES (1)")
        .execute(&mut *rolled_back)
        .await
        .unwrap();
    PostgresCheckpoints::save_in(&mut rolled_back, "projector", Position::new(5, 5))
        .await
        .unwrap();
    assert_eq!(
        PostgresCheckpoints::load_in(&mut rolled_back, "projector")
            .await
            .unwrap(),
        Position::new(5, 5)
    );
    rolled_back.rollback().await.unwrap();
    assert_eq!(
        checkpoints.load("projector").await.unwrap(),
        Position::new(1, 1)
    );
    assert_eq!(view_rows(pool).await, 0);

    let mut committed = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO view_rows VALUES (1)")
        .execute(&mut *committed)
        .await
        .unwrap();
    PostgresCheckpoints::save_in(&mut committed, "projector", Position::new(6, 6))
        .await
        .unwrap();
    committed.commit().await.unwrap();
    assert_eq!(
        checkpoints.load("projector").await.unwrap(),
        Position::new(6, 6)
    );
    assert_eq!(view_rows(pool).await, 1);
}

async fn view_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM view_rows")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn checkpoints_install_themselves_in_a_view_database() {
    let Some(views) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let pool = PgPool::connect(views.url()).await.unwrap();
    let checkpoints = PostgresCheckpoints::install(pool.clone()).await.unwrap();
    // Installing twice (every start of a projector) is harmless.
    PostgresCheckpoints::install(pool.clone()).await.unwrap();
    checkpoints
        .save("projector", Position::new(3, 4))
        .await
        .unwrap();
    assert_eq!(
        checkpoints.load("projector").await.unwrap(),
        Position::new(3, 4)
    );
}

#[tokio::test]
async fn an_unreadable_checkpoint_is_reported_not_reset() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    sqlx::query("INSERT INTO consumer_checkpoints (consumer, position) VALUES ('p', 'garbage')")
        .execute(store.pool())
        .await
        .unwrap();
    let error = store.checkpoints().load("p").await.unwrap_err();
    assert!(error.to_string().contains("garbage"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_holders_of_a_lease_never_run_at_once() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let running = Arc::new(AtomicBool::new(false));
    let turns = Arc::new(AtomicUsize::new(0));
    let instances = (0..2).map(|_| {
        let leases = store.leases();
        let (running, turns) = (running.clone(), turns.clone());
        tokio::spawn(async move {
            for _ in 0..5 {
                let mut lease = leases.acquire("projector").await.unwrap();
                assert!(
                    !running.swap(true, Ordering::SeqCst),
                    "two instances ran the consumer at once"
                );
                assert!(lease.is_held().await);
                tokio::time::sleep(Duration::from_millis(30)).await;
                turns.fetch_add(1, Ordering::SeqCst);
                running.store(false, Ordering::SeqCst);
                drop(lease);
                tokio::task::yield_now().await;
            }
        })
    });
    for instance in instances.collect::<Vec<_>>() {
        instance.await.unwrap();
    }
    assert_eq!(turns.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn leases_of_different_consumers_do_not_block_each_other() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let leases = store.leases();
    let _projector = leases.acquire("projector").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), leases.acquire("saga"))
        .await
        .expect("the saga's lease waited for the projector's")
        .unwrap();
}

#[tokio::test]
async fn the_second_instance_takes_over_when_the_holders_connection_dies() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let leases = store.leases();
    let mut first = leases.acquire("projector").await.unwrap();
    let second = {
        let leases = leases.clone();
        tokio::spawn(async move { leases.acquire("projector").await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "the second instance got a held lease"
    );
    assert!(first.is_held().await);

    // The first instance's session dies (as when its process or machine does).
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE application_name = 'alpes lease projector' AND state = 'idle'
            AND datname = current_database()",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(killed, 1, "exactly the holder's session is idle");

    let mut second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second instance did not take over")
        .unwrap()
        .unwrap();
    assert!(second.is_held().await);
    assert!(
        !first.is_held().await,
        "the dead holder still thinks it holds the lease"
    );
    assert!(!first.is_held().await);
}
