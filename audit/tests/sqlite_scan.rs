//! On SQLite, `export_store` reads the log with a scan that copies canonical stored JSON as
//! it is; it must write exactly the bytes of `export` through the log, which decodes every
//! event. The store mixes today's events, old schema rows (upcast), and rows inserted with
//! SQL whose JSON is valid but not canonical as stored.

use std::collections::HashMap;

use alpes_audit::{export, export_store, verify, Bound, ExportFilter, ExportOptions, Format};
use alpes_domain::interaccion::{DatosInteraccion, Interaccion, InteraccionCommand};
use alpes_domain::TipoInteraccion;
use alpes_event_store::{EventStoreBackend, Position, StoreOptions};
use alpes_test_support::legacy::insert_fixture;
use alpes_test_support::SqliteTestDb;
use uuid::Uuid;

const JOURNEY: &str = "5d1c8f0e-3b2a-4c6d-9e8f-7a6b5c4d3e2f";

/// Rows as another writer could have stored them: (event type, version, payload, metadata).
const HAND_WRITTEN_ROWS: [(&str, &str, &str, &str); 8] = [
    (
        "CampanaActivada",
        "1.0",
        r#"{"b":1,"a":{"z":[1,2.50,-0],"y":"\u00e9\/"}}"#,
        r#"{"correlation_id":"5d1c8f0e-3b2a-4c6d-9e8f-7a6b5c4d3e2f","actor":"ana"}"#,
    ),
    (
        "CampanaActivada",
        "1.0",
        r#"{ "spaced" : true }"#,
        r#"{"actor":"quote\"d","causation_id":"","correlation_id":7}"#,
    ),
    (
        "CampanaActivada",
        "1.0",
        r#"{"big":12345678901234567890,"exp":1e3,"neg":-42,"zero":0}"#,
        r#"{"correlation_id":""}"#,
    ),
    ("CampanaActivada", "1.0", r#"{"dup":1,"dup":2}"#, r#"{}"#),
    (
        "CampanaActivada",
        "1.0",
        "{\"tab\":\"a\\tb\",\"nl\":\"x\\ny\"}",
        r#"{"actor":"b\\c"}"#,
    ),
    (
        "CampanaActivada",
        "1.0",
        r#"{"a":{"b":{"c":[[[{"d":null}]]]}}}"#,
        r#"{"actor":"x","causation_id":"c-1","correlation_id":"5d1c8f0e-3b2a-4c6d-9e8f-7a6b5c4d3e2f"}"#,
    ),
    (
        "CampanaActivada",
        "1.0",
        r#""just a string""#,
        r#"{"z":[]}"#,
    ),
    ("CampanaActivada", "1.0", "17", r#"{"actor":null}"#),
];

async fn insert_row(url: &str, index: usize, row: (&str, &str, &str, &str), recorded_at: &str) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, recorded_at) VALUES ('Campana', ?, 1, ?, ?, ?, ?, ?)",
    )
    .bind(format!("hand-{index}"))
    .bind(row.0)
    .bind(row.1)
    .bind(row.2)
    .bind(row.3)
    .bind(recorded_at)
    .execute(&pool)
    .await
    .unwrap();
}

async fn write_current_events(backend: &EventStoreBackend, count: usize) {
    let interacciones = backend.aggregate_store::<Interaccion>();
    for index in 0..count {
        let id = Uuid::new_v4();
        let datos = DatosInteraccion {
            tipo: TipoInteraccion::Click,
            campana_id: Uuid::from_u128(1),
            partner_id: Some(Uuid::from_u128(7)),
            journey_id: Uuid::parse_str(JOURNEY).unwrap(),
            occurred_at: chrono::Utc::now(),
            valor: None,
            pedido_id: None,
            contexto: Default::default(),
        };
        let mut metadata = HashMap::from([("actor".to_string(), format!("tester \"{index}\""))]);
        if index % 2 == 0 {
            metadata.insert("correlation_id".to_string(), JOURNEY.to_string());
        }
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

async fn seeded_store() -> (SqliteTestDb, String) {
    let db = SqliteTestDb::create().unwrap();
    let url = db.url().to_string();
    let backend = EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    write_current_events(&backend, 5).await;
    for fixture in [
        "campana_creada_1_0.json",
        "interaccion_registrada_1_0_compra.json",
        "interaccion_registrada_1_1.json",
        "comision_reservada_1_0.json",
    ] {
        insert_fixture(&url, fixture).await;
    }
    // Times as other writers may have stored them: other offsets, more or fewer digits.
    let times = [
        "2025-03-01T10:00:00.123Z",
        "2025-03-01T11:00:00+02:00",
        "2025-03-01T10:00:00.123456789Z",
        "2025-03-02T00:00:00Z",
    ];
    for (index, row) in HAND_WRITTEN_ROWS.into_iter().enumerate() {
        insert_row(&url, index, row, times[index % times.len()]).await;
    }
    write_current_events(&backend, 5).await;
    (db, url)
}

async fn both_exports(
    backend: &EventStoreBackend,
    filter: &ExportFilter,
    format: Format,
) -> (Vec<u8>, Vec<u8>) {
    let options = ExportOptions {
        format,
        batch_size: 3,
    };
    let mut through_log = Vec::new();
    export(
        backend.log().as_ref(),
        filter,
        &options,
        &mut through_log,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    let mut scanned = Vec::new();
    let summary = export_store(backend, filter, &options, &mut scanned, &mut |_, _| {})
        .await
        .unwrap();
    assert!(summary.scanned > 0, "{filter:?}");
    (through_log, scanned)
}

#[tokio::test]
async fn the_sqlite_scan_writes_the_bytes_of_the_log_export() {
    let (_db, url) = seeded_store().await;
    let filters = [
        ExportFilter::default(),
        ExportFilter {
            correlation: Some(JOURNEY.to_string()),
            ..Default::default()
        },
        ExportFilter {
            correlation: Some(String::new()),
            ..Default::default()
        },
        ExportFilter {
            event_type: Some("CampanaActivada".to_string()),
            ..Default::default()
        },
        ExportFilter::default()
            .with_aggregate("Campana:hand-1")
            .unwrap(),
        ExportFilter {
            from: Some(Bound::Position(Position::new(4, 0))),
            to: Some(Bound::Position(Position::new(15, 3))),
            ..Default::default()
        },
        ExportFilter {
            from: Some(Bound::Time("2025-03-01T09:00:00Z".parse().unwrap())),
            to: Some(Bound::Time("2025-03-01T10:00:00.2Z".parse().unwrap())),
            ..Default::default()
        },
    ];
    for upcasters in [StoreOptions::default().upcasters, Default::default()] {
        let backend = EventStoreBackend::open(
            &url,
            StoreOptions {
                upcasters,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
        for filter in &filters {
            for format in [Format::Jsonl, Format::Csv] {
                let (through_log, scanned) = both_exports(&backend, filter, format).await;
                assert_eq!(
                    String::from_utf8(scanned.clone()).unwrap(),
                    String::from_utf8(through_log).unwrap(),
                    "{filter:?} {format:?}"
                );
                verify(scanned.as_slice()).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn an_unreadable_row_fails_the_scan_as_it_fails_the_log() {
    let (_db, url) = seeded_store().await;
    insert_row(
        &url,
        99,
        ("CampanaActivada", "1.0", r#"{"cut":"#, "{}"),
        "2025-03-01T10:00:00Z",
    )
    .await;
    let backend = EventStoreBackend::open(&url, StoreOptions::default())
        .await
        .unwrap();
    let options = ExportOptions::default();
    let through_log = export(
        backend.log().as_ref(),
        &ExportFilter::default(),
        &options,
        Vec::new(),
        &mut |_, _| {},
    )
    .await
    .unwrap_err()
    .to_string();
    let scanned = export_store(
        &backend,
        &ExportFilter::default(),
        &options,
        Vec::new(),
        &mut |_, _| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(scanned, through_log);
    assert!(scanned.contains("Campana-hand-99"), "{scanned}");
}
