//! The global log of the PostgreSQL backend: gap-free order under concurrent writers with
//! late commits, resuming from any checkpoint, upcasting, waking readers, the head.

mod postgres_common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpes_event_store::{EventLog, Position, StoreOptions};
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository, SerializedEvent};
use postgres_common::{follow, fresh_store, fresh_store_with, incremented, unique_keys, Counter};
use sqlx::PgPool;

const WRITERS: usize = 8;
const EVENTS_PER_WRITER: usize = 2_000;
const EVENTS_PER_AGGREGATE: usize = 10;

/// Inserts events as postgres-es does (one INSERT per event, in one transaction), holding
/// the transaction open for `hold` before committing.
async fn insert_slowly(pool: &PgPool, events: &[SerializedEvent], hold: Duration) {
    let mut transaction = pool.begin().await.unwrap();
    for event in events {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence as i64)
        .bind(&event.event_type)
        .bind(&event.event_version)
        .bind(&event.payload)
        .bind(&event.metadata)
        .execute(&mut *transaction)
        .await
        .unwrap();
    }
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    transaction.commit().await.unwrap();
}

/// A small deterministic random source per writer (xorshift).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

/// Writer `writer`'s events, in appends of 1 to 3 events. Even writers use raw
/// transactions that sometimes stay open for up to 15 ms; odd writers the repository.
async fn write_all(store: alpes_event_store::postgres::PostgresEventStore, writer: usize) {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (writer as u64 + 1));
    let mut written = 0;
    while written < EVENTS_PER_WRITER {
        let size = (1 + dice.roll(3) as usize).min(EVENTS_PER_WRITER - written);
        let events: Vec<SerializedEvent> = (written..written + size)
            .map(|n| {
                let id = format!("w{writer}-{}", n / EVENTS_PER_AGGREGATE);
                incremented(&id, n % EVENTS_PER_AGGREGATE + 1, n as u64)
            })
            .collect();
        // An append never spans two aggregates.
        let events = split_at_aggregate(events);
        if writer.is_multiple_of(2) {
            let hold = if dice.roll(4) == 0 {
                Duration::from_millis(1 + dice.roll(15))
            } else {
                Duration::ZERO
            };
            insert_slowly(store.pool(), &events, hold).await;
        } else {
            store
                .repository()
                .persist::<Counter>(&events, None)
                .await
                .unwrap();
        }
        written += events.len();
    }
}

/// The leading events of `events` that belong to the first one's aggregate.
fn split_at_aggregate(events: Vec<SerializedEvent>) -> Vec<SerializedEvent> {
    let first = events[0].aggregate_id.clone();
    events
        .into_iter()
        .take_while(|event| event.aggregate_id == first)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_every_event_once_in_one_stable_order_despite_late_commits() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let total = WRITERS * EVENTS_PER_WRITER;
    let log = store.log();
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            follow(
                log.as_ref(),
                Position::START,
                total,
                Duration::from_secs(120),
            )
            .await
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(write_all(store.clone(), writer)))
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let live = reader.await.unwrap();

    assert_eq!(live.len(), total, "the live reader missed events");
    let keys = unique_keys(&live);
    for writer in 0..WRITERS {
        for n in 0..EVENTS_PER_WRITER {
            let key = (
                format!("w{writer}-{}", n / EVENTS_PER_AGGREGATE),
                n % EVENTS_PER_AGGREGATE + 1,
            );
            assert!(keys.contains(&key), "{key:?} never read");
        }
    }
    let mut last_sequence: HashMap<&str, usize> = HashMap::new();
    for event in &live {
        let previous = last_sequence.insert(&event.event.aggregate_id, event.event.sequence);
        assert_eq!(
            previous.unwrap_or(0) + 1,
            event.event.sequence,
            "{} out of order",
            event.event.aggregate_id
        );
    }

    // Whoever reads later, from wherever, reads the same suffix in the same order.
    let positions: Vec<Position> = live.iter().map(|event| event.position).collect();
    let again = follow(
        log.as_ref(),
        Position::START,
        total,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        again.iter().map(|e| e.position).collect::<Vec<_>>(),
        positions
    );
    for checkpoint in [0, 1, 777, 5_000, 12_345, total - 1] {
        let suffix = follow(
            log.as_ref(),
            positions[checkpoint],
            total - checkpoint - 1,
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(
            suffix.iter().map(|e| e.position).collect::<Vec<_>>(),
            positions[checkpoint + 1..],
            "reading after checkpoint #{checkpoint}"
        );
        assert_eq!(suffix, live[checkpoint + 1..]);
        assert!(log
            .read_after(*positions.last().unwrap(), 10)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn an_event_committed_behind_an_open_transaction_waits_for_it() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let log = store.log();
    // The older transaction takes its id and the lower global position first ...
    let mut older = store.pool().begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Counter', 'older', 1, 'Incremented', '1.0', '{\"Incremented\":{\"by\":1}}', '{}')",
    )
    .execute(&mut *older)
    .await
    .unwrap();
    // ... and a younger one commits before it.
    store
        .repository()
        .persist::<Counter>(&[incremented("younger", 1, 2)], None)
        .await
        .unwrap();

    assert!(
        log.read_after(Position::START, 10)
            .await
            .unwrap()
            .is_empty(),
        "the younger event was handed out before the older one"
    );
    let started = Instant::now();
    log.wait_for_events(Position::START, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a waiter on held-back events polls soon"
    );

    older.commit().await.unwrap();
    let read = follow(log.as_ref(), Position::START, 2, Duration::from_secs(10)).await;
    let ids: Vec<&str> = read.iter().map(|e| e.event.aggregate_id.as_str()).collect();
    assert_eq!(ids, vec!["older", "younger"]);
}

#[tokio::test]
async fn a_waiting_reader_wakes_when_events_are_committed() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let log = store.log();
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            log.wait_for_events(Position::START, Duration::from_secs(30))
                .await
                .unwrap();
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    store
        .repository()
        .persist::<Counter>(&[incremented("c", 1, 1)], None)
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter was not woken")
        .unwrap();
    assert!(
        waited >= Duration::from_millis(250),
        "woke too early: {waited:?}"
    );
}

#[tokio::test]
async fn a_waiting_reader_returns_after_the_timeout_when_nothing_comes() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let started = Instant::now();
    store
        .log()
        .wait_for_events(Position::START, Duration::from_millis(400))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn the_head_is_the_last_readable_event() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let log = store.log();
    assert_eq!(log.head().await.unwrap(), None);
    for sequence in 1..=3 {
        store
            .repository()
            .persist::<Counter>(&[incremented("c", sequence, 1)], None)
            .await
            .unwrap();
    }
    let read = follow(log.as_ref(), Position::START, 3, Duration::from_secs(10)).await;
    let (position, recorded_at) = log.head().await.unwrap().unwrap();
    assert_eq!(position, read[2].position);
    assert_eq!(recorded_at, read[2].recorded_at);
}

/// Version 0.9 of Incremented called its field `step`.
struct StepToBy;

impl EventUpcaster for StepToBy {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == "Incremented" && event_version == "0.9"
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        let step = event.payload["Incremented"]["step"].clone();
        event.payload = serde_json::json!({ "Incremented": { "by": step } });
        event.event_version = "1.0".to_string();
        event
    }
}

#[tokio::test]
async fn the_log_hands_out_events_upcast_and_remembers_the_stored_version() {
    let options = StoreOptions {
        upcasters: Arc::new(vec![Box::new(StepToBy) as Box<dyn EventUpcaster>]),
        ..StoreOptions::default()
    };
    let Some((_db, store)) = fresh_store_with(options).await else {
        return;
    };
    let mut old = incremented("c", 1, 0);
    old.event_version = "0.9".to_string();
    old.payload = serde_json::json!({ "Incremented": { "step": 7 } });
    store
        .repository()
        .persist::<Counter>(&[old, incremented("c", 2, 3)], None)
        .await
        .unwrap();

    let read = follow(
        store.log().as_ref(),
        Position::START,
        2,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(read[0].stored_version, "0.9");
    assert_eq!(read[0].event.event_version, "1.0");
    let decoded = read[0].decode::<Counter>().unwrap();
    assert_eq!(
        decoded.payload,
        postgres_common::CounterEvent::Incremented { by: 7 }
    );
    assert_eq!(read[1].stored_version, "1.0");
    assert_eq!(
        read[1].metadata().get("writer").map(String::as_str),
        Some("test")
    );
}

#[tokio::test]
async fn an_empty_log_reads_empty() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let log: Arc<dyn EventLog> = store.log();
    assert!(log
        .read_after(Position::START, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(log
        .read_after(Position::new(u64::MAX, u64::MAX), 100)
        .await
        .unwrap()
        .is_empty());
}
