//! The audit export end to end, on a real store: SQLite always, PostgreSQL when available
//! (a fresh database; skipped loudly, or failing under ALPES_REQUIRE_POSTGRES=1).
//!
//! The store holds events written by today's code and raw rows of old schema versions
//! (the upcasters' fixtures, inserted with SQL as the first services stored them; on
//! EventStoreDB, when `EVENTSTORE_URL` is set, appended as raw JSON of their old version).

use std::collections::HashMap;

use alpes_audit::{export, verify, Bound, ExportFilter, ExportOptions, Format};
use alpes_domain::campana::{Campana, CampanaCommand, EstadoCampana};
use alpes_domain::comision::Comision;
use alpes_domain::interaccion::{DatosInteraccion, Interaccion, InteraccionCommand};
use alpes_domain::{Money, TipoInteraccion};
use alpes_event_store::{EventStoreBackend, Position, StoreOptions};
use alpes_test_support::eventstore::url_or_skip;
use alpes_test_support::legacy::{fixture_text, insert_fixture, LegacyRow};
use alpes_test_support::{PostgresTestDb, SqliteTestDb};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::EventStore;
use serde_json::Value;
use uuid::Uuid;

/// The campaign of the `CampanaCreada` 1.0 fixture.
const FIXTURE_CAMPANA: &str = "0b7e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

const FIXTURES: [&str; 4] = [
    "campana_creada_1_0.json",
    "interaccion_registrada_1_0_compra.json",
    "interaccion_registrada_1_1.json",
    "comision_reservada_1_0.json",
];

/// Inserts the old rows exactly as stored then.
async fn insert_raw_fixtures(url: &str) {
    for name in FIXTURES {
        insert_fixture(url, name).await;
    }
}

/// Today's events: a click and a purchase in one journey, with correlation metadata.
async fn write_current_events(backend: &EventStoreBackend, campana: Uuid, journey: Uuid) {
    let interacciones = backend.aggregate_store::<Interaccion>();
    for (tipo, valor, pedido) in [
        (TipoInteraccion::Click, None, None),
        (
            TipoInteraccion::Compra,
            Some(Money::new(4_500, "EUR".parse().unwrap())),
            Some("PED-77".to_string()),
        ),
    ] {
        let id = Uuid::new_v4();
        let datos = DatosInteraccion {
            tipo,
            campana_id: campana,
            partner_id: Some(Uuid::from_u128(7)),
            journey_id: journey,
            occurred_at: chrono::Utc::now(),
            valor,
            pedido_id: pedido,
            contexto: Default::default(),
        };
        let metadata = HashMap::from([
            ("correlation_id".to_string(), journey.to_string()),
            ("actor".to_string(), "test".to_string()),
        ]);
        interacciones
            .execute(
                &id.to_string(),
                InteraccionCommand::RegistrarInteraccion { id, datos },
                &(),
                metadata,
            )
            .await
            .unwrap();
    }
}

/// A committed event may stay unreadable for a moment (PostgreSQL: until older open
/// transactions on the server — other tests' too — end); exports read what is readable.
async fn wait_until_readable(backend: &EventStoreBackend, expected: usize) {
    let log = backend.log();
    let started = std::time::Instant::now();
    loop {
        let readable = log
            .read_after(Position::START, expected + 10)
            .await
            .unwrap()
            .len();
        if readable >= expected || started.elapsed() > std::time::Duration::from_secs(20) {
            return;
        }
        log.wait_for_events(Position::START, std::time::Duration::from_millis(100))
            .await
            .unwrap();
    }
}

struct Seeded {
    backend: EventStoreBackend,
    url: String,
    journey: Uuid,
    _guard: Box<dyn std::any::Any>,
}

async fn seed(url: String, guard: Box<dyn std::any::Any>) -> Seeded {
    // Opening runs the migrations; the raw rows go in after, as old services wrote them.
    let backend = EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    insert_raw_fixtures(&url).await;
    let campana = Uuid::parse_str(FIXTURE_CAMPANA).unwrap();
    let journey = Uuid::new_v4();
    write_current_events(&backend, campana, journey).await;
    wait_until_readable(&backend, FIXTURES.len() + 2).await;
    Seeded {
        backend,
        url,
        journey,
        _guard: guard,
    }
}

async fn sqlite() -> Seeded {
    let db = SqliteTestDb::create().unwrap();
    let url = db.url().to_string();
    seed(url, Box::new(db)).await
}

async fn postgres() -> Option<Seeded> {
    let db = PostgresTestDb::create().await.unwrap()?;
    let url = db.url().to_string();
    Some(seed(url, Box::new(db)).await)
}

async fn export_to_bytes(
    backend: &EventStoreBackend,
    filter: &ExportFilter,
    format: Format,
) -> Vec<u8> {
    let mut out = Vec::new();
    let options = ExportOptions {
        format,
        batch_size: 2,
    };
    export(
        backend.log().as_ref(),
        filter,
        &options,
        &mut out,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    out
}

fn records(jsonl: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(jsonl).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|value| value.get("trailer").is_none())
        .collect()
}

/// The old CampanaCreada 1.0 loads as today's campaign (a draft, its float budget in minor
/// units) and takes today's commands.
async fn old_campaign_loads_and_takes_commands(backend: &EventStoreBackend, campana_id: &str) {
    let campanas = backend.aggregate_store::<Campana>();
    let context = campanas.load_aggregate(campana_id).await.unwrap();
    assert_eq!(context.aggregate.estado(), Some(EstadoCampana::Borrador));
    assert_eq!(
        context.aggregate.presupuesto(),
        Some(Money::new(1_250_075, "EUR".parse().unwrap()))
    );
    let outcome = campanas
        .execute(
            campana_id,
            CampanaCommand::ActivarCampana,
            &(),
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.version, 2);
}

async fn old_rows_load_and_export_upcast(seeded: Seeded) {
    old_campaign_loads_and_takes_commands(&seeded.backend, FIXTURE_CAMPANA).await;

    let bytes = export_to_bytes(&seeded.backend, &ExportFilter::default(), Format::Jsonl).await;
    let all = records(&bytes);
    assert_eq!(all.len(), 4 + 2 + 1);
    let old: Vec<&Value> = all
        .iter()
        .filter(|r| r["stored_version"] != r["version"])
        .collect();
    assert_eq!(old.len(), 4, "every fixture row is upcast in the export");
    for record in old {
        assert_eq!(record["version"], "2.0");
    }
    assert!(
        !String::from_utf8_lossy(&bytes).contains("203.0.113.7"),
        "a raw IP was exported"
    );

    // --raw: as stored.
    let raw_backend = EventStoreBackend::open(
        &seeded.url,
        StoreOptions {
            upcasters: Default::default(),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let raw =
        records(&export_to_bytes(&raw_backend, &ExportFilter::default(), Format::Jsonl).await);
    let stored_old = raw
        .iter()
        .filter(|r| r["event_type"] != "CampanaActivada" && r["version"] != "2.0")
        .count();
    assert_eq!(stored_old, 4, "--raw keeps the old versions as stored");
}

async fn export_verifies_and_a_flipped_byte_is_named(seeded: Seeded) {
    for format in [Format::Jsonl, Format::Csv] {
        let bytes = export_to_bytes(&seeded.backend, &ExportFilter::default(), format).await;
        let summary = verify(bytes.as_slice()).unwrap();
        assert_eq!(summary.trailer.count, 6, "{format:?}");

        // The same range twice: the same bytes.
        let again = export_to_bytes(&seeded.backend, &ExportFilter::default(), format).await;
        assert_eq!(bytes, again, "{format:?} export is not reproducible");

        // Flip one byte inside the payload of the third record.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let line_start: usize = text
            .split_inclusive('\n')
            .take(if format == Format::Csv { 3 } else { 2 })
            .map(str::len)
            .sum();
        let target = line_start + text[line_start..].find("Interaccion").unwrap() + 2;
        let mut tampered = bytes.clone();
        tampered[target] ^= 0x01;
        let error = verify(tampered.as_slice()).unwrap_err().to_string();
        assert!(error.contains("record 3"), "{format:?}: {error}");

        // A removed last record breaks the trailer.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(lines.len() - 2);
        let truncated = lines.join("\n") + "\n";
        assert!(verify(truncated.as_bytes()).is_err(), "{format:?}");
    }
}

async fn filters_select_what_they_name(seeded: Seeded) {
    let all =
        records(&export_to_bytes(&seeded.backend, &ExportFilter::default(), Format::Jsonl).await);
    let by = |filter: ExportFilter| {
        let backend = seeded.backend.clone();
        async move { records(&export_to_bytes(&backend, &filter, Format::Jsonl).await) }
    };
    let compras = by(ExportFilter {
        event_type: Some("CampanaCreada".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(compras.len(), 1);

    let journey = by(ExportFilter {
        correlation: Some(seeded.journey.to_string()),
        ..Default::default()
    })
    .await;
    assert_eq!(journey.len(), 2);

    let one_aggregate = by(ExportFilter::default()
        .with_aggregate("Comision:3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")
        .unwrap())
    .await;
    assert_eq!(one_aggregate.len(), 1);

    let position = |record: &Value| {
        record["position"]
            .as_str()
            .unwrap()
            .parse::<Position>()
            .unwrap()
    };
    let from = position(&all[2]);
    let to = position(&all[4]);
    let range = by(ExportFilter {
        from: Some(Bound::Position(from)),
        to: Some(Bound::Position(to)),
        ..Default::default()
    })
    .await;
    let without_hash = |records: &[Value]| -> Vec<Value> {
        records
            .iter()
            .cloned()
            .map(|mut record| {
                record.as_object_mut().unwrap().remove("hash");
                record
            })
            .collect()
    };
    // A range starts its own chain, so only the hashes differ from the full export.
    assert_eq!(without_hash(&range), without_hash(&all[2..=4]));
    assert!(verify(
        export_to_bytes(
            &seeded.backend,
            &ExportFilter {
                from: Some(Bound::Position(from)),
                to: Some(Bound::Position(to)),
                ..Default::default()
            },
            Format::Jsonl
        )
        .await
        .as_slice()
    )
    .is_ok());

    let future = by(ExportFilter {
        from: Some(Bound::Time(chrono::Utc::now() + chrono::Duration::hours(1))),
        ..Default::default()
    })
    .await;
    assert!(future.is_empty());
}

#[tokio::test]
async fn sqlite_old_rows_load_and_export_upcast() {
    old_rows_load_and_export_upcast(sqlite().await).await;
}

#[tokio::test]
async fn sqlite_export_verifies_and_a_flipped_byte_is_named() {
    export_verifies_and_a_flipped_byte_is_named(sqlite().await).await;
}

#[tokio::test]
async fn sqlite_filters_select_what_they_name() {
    filters_select_what_they_name(sqlite().await).await;
}

#[tokio::test]
async fn postgres_old_rows_load_and_export_upcast() {
    if let Some(seeded) = postgres().await {
        old_rows_load_and_export_upcast(seeded).await;
    }
}

#[tokio::test]
async fn postgres_export_verifies_and_a_flipped_byte_is_named() {
    if let Some(seeded) = postgres().await {
        export_verifies_and_a_flipped_byte_is_named(seeded).await;
    }
}

#[tokio::test]
async fn postgres_filters_select_what_they_name() {
    if let Some(seeded) = postgres().await {
        filters_select_what_they_name(seeded).await;
    }
}

/// The fixtures of `upcasters/fixtures/` as old services appended them to EventStoreDB:
/// raw JSON of their old version. Every id of the fixtures is replaced by a fresh one, as
/// the server outlives test runs; answers the events and the fresh id of each old one.
fn raw_fixtures_with_fresh_ids() -> (Vec<SerializedEvent>, HashMap<String, String>) {
    let texts: Vec<String> = FIXTURES.iter().map(|name| fixture_text(name)).collect();
    let fresh: HashMap<String, String> = texts
        .iter()
        .map(|text| {
            (
                LegacyRow::parse(text).aggregate_id,
                Uuid::new_v4().to_string(),
            )
        })
        .collect();
    let events = texts
        .iter()
        .map(|text| {
            let renamed = fresh
                .iter()
                .fold(text.clone(), |text, (old, new)| text.replace(old, new));
            let row = LegacyRow::parse(&renamed);
            SerializedEvent {
                aggregate_id: row.aggregate_id,
                sequence: row.sequence as usize,
                aggregate_type: row.aggregate_type,
                event_type: row.event_type,
                event_version: row.event_version,
                payload: row.payload,
                metadata: row.metadata,
            }
        })
        .collect();
    (events, fresh)
}

/// Appends one raw event to its aggregate's stream, as stored, and answers its position.
async fn append_raw(backend: &EventStoreBackend, event: SerializedEvent) -> Position {
    let repository = backend.repository();
    let events = [event];
    let written = match events[0].aggregate_type.as_str() {
        "Campana" => repository.append::<Campana>(&events, None).await,
        "Interaccion" => repository.append::<Interaccion>(&events, None).await,
        "Comision" => repository.append::<Comision>(&events, None).await,
        other => panic!("no fixture aggregate {other}"),
    };
    written
        .unwrap()
        .expect("EventStoreDB tells the position of an append")
}

#[tokio::test]
async fn eventstoredb_old_events_appended_raw_load_and_export_upcast() {
    let Some(url) = url_or_skip("eventstoredb_old_events_appended_raw_load_and_export_upcast")
    else {
        return;
    };
    let consumers = SqliteTestDb::create().unwrap();
    let options = StoreOptions {
        consumer_database: Some(consumers.url().to_string()),
        ..StoreOptions::default()
    };
    let backend = EventStoreBackend::open(&url, options).await.unwrap();
    let (events, fresh) = raw_fixtures_with_fresh_ids();
    let mut first = None;
    for event in events {
        let position = append_raw(&backend, event).await;
        first.get_or_insert(position);
    }

    old_campaign_loads_and_takes_commands(&backend, &fresh[FIXTURE_CAMPANA]).await;

    // Ours only: other writers may share the server.
    let filter = ExportFilter {
        from: Some(Bound::Position(first.unwrap())),
        ..Default::default()
    };
    let bytes = export_to_bytes(&backend, &filter, Format::Jsonl).await;
    let ours: Vec<Value> = records(&bytes)
        .into_iter()
        .filter(|record| {
            fresh
                .values()
                .any(|id| record["aggregate_id"] == id.as_str())
        })
        .collect();
    assert_eq!(ours.len(), FIXTURES.len() + 1);
    let upcast = ours
        .iter()
        .filter(|record| record["stored_version"] != record["version"])
        .inspect(|record| assert_eq!(record["version"], "2.0"))
        .count();
    assert_eq!(
        upcast,
        FIXTURES.len(),
        "every raw event is upcast in the export"
    );
    assert!(
        !String::from_utf8_lossy(&bytes).contains("203.0.113.7"),
        "a raw IP was exported"
    );
    verify(bytes.as_slice()).unwrap();
}
