//! The saga as a client of `alpes serve` sees it: the real application (REST API, saga
//! reactors, projectors) on a random port over a real store, driven only through HTTP,
//! each test on SQLite and on PostgreSQL. The outcome is read from the global log.

mod support;

use std::time::Duration;

use alpes_domain::campana::Campana;
use alpes_event_store::{EventStoreBackend, RecordedEvent, StoreOptions};
use chrono::{SecondsFormat, Utc};
use cqrs_es::EventStore;
use serde_json::{json, Value};
use uuid::Uuid;

use support::{count, of_journey, TestDb, TestServer};

const WAIT: Duration = Duration::from_secs(60);

on_sqlite_and_postgres!(
    a_partner_click_then_a_purchase_reserves_the_commission,
    a_purchase_without_partner_touchpoints_is_not_attributed,
    a_budget_too_small_reverts_the_attribution_and_reserves_nothing,
    reported_fraud_is_compensated_in_reverse_order,
    a_redelivered_log_changes_nothing,
    a_crash_mid_saga_completes_exactly_once_after_restart,
    two_hundred_purchases_on_a_budget_for_fifty_reserve_fifty,
);

/// A campaign running today, paying 10% of purchases, with `presupuesto` cents of budget.
fn campana_body(presupuesto: i64) -> Value {
    let today = Utc::now().date_naive();
    json!({
        "marca": {"id": Uuid::new_v4(), "nombre": "Alpes Outdoor"},
        "nombre": "Invierno",
        "descripcion": "Campaña de invierno",
        "fecha_inicio": (today - chrono::Duration::days(30)).to_string(),
        "fecha_fin": (today + chrono::Duration::days(365)).to_string(),
        "presupuesto": {"amount": presupuesto, "currency": "EUR"},
        "reglas_comision": {"compra": {"calculo": {"Porcentaje": {"bps": 1000}}}}
    })
}

async fn campana_activa(server: &TestServer, presupuesto: i64) -> Uuid {
    let created = server
        .expect("/api/v1/campanas", &campana_body(presupuesto), 201)
        .await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    server
        .expect(&format!("/api/v1/campanas/{id}/activar"), &json!(null), 200)
        .await;
    id
}

fn hace(minutes: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A journey's ids: the partner's click (if any) and the purchase.
struct Journey {
    id: Uuid,
    click: Uuid,
    compra: Uuid,
}

/// A click (by `partner`, or organic) ten minutes before a purchase worth `valor` cents,
/// both through `POST /api/v1/interacciones`.
async fn click_y_compra(
    server: &TestServer,
    campana: Uuid,
    partner: Option<Uuid>,
    valor: i64,
) -> Journey {
    let journey = Uuid::new_v4();
    let click = json!({
        "tipo": "Click", "campana_id": campana, "journey_id": journey,
        "partner_id": partner, "occurred_at": hace(10)
    });
    let click = server.expect("/api/v1/interacciones", &click, 201).await;
    let compra = json!({
        "tipo": "Compra", "campana_id": campana, "journey_id": journey,
        "valor": {"amount": valor, "currency": "EUR"},
        "pedido_id": format!("P-{}", Uuid::new_v4().simple()), "occurred_at": hace(0)
    });
    let compra = server.expect("/api/v1/interacciones", &compra, 201).await;
    let id = |answer: &Value| answer["id"].as_str().unwrap().parse().unwrap();
    Journey {
        id: journey,
        click: id(&click),
        compra: id(&compra),
    }
}

/// What campaign `id` holds reserved, in cents.
async fn reservado(backend: &EventStoreBackend, id: Uuid) -> i64 {
    let campana: Campana = backend
        .aggregate_store::<Campana>()
        .load_aggregate(&id.to_string())
        .await
        .unwrap()
        .aggregate;
    campana.reservado().unwrap().amount
}

fn types(events: &[&RecordedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| event.event.event_type.clone())
        .collect()
}

async fn a_partner_click_then_a_purchase_reserves_the_commission(db: TestDb) {
    let server = db.serve(&[]).await;
    let campana = campana_activa(&server, 100_000).await;
    let partner = Uuid::new_v4();

    let journey = click_y_compra(&server, campana, Some(partner), 25_000).await;

    let log = server
        .wait_for("ComisionReservada", WAIT, |log| {
            count(of_journey(log, journey.id), "ComisionReservada") == 1
        })
        .await;
    let events = of_journey(&log, journey.id);
    assert_eq!(
        types(&events),
        [
            "InteraccionRegistrada",
            "InteraccionRegistrada",
            "ConversionAtribuida",
            "PresupuestoReservado",
            "ComisionReservada"
        ]
    );
    let comision = events[4].event.payload["ComisionReservada"]["datos"].clone();
    assert_eq!(
        comision["monto"],
        json!({"amount": 2_500, "currency": "EUR"})
    );
    assert_eq!(comision["partner_id"], json!(partner));
    assert_eq!(comision["conversion_id"], json!(journey.compra));
    let atribuida = &events[2].event.payload["ConversionAtribuida"];
    assert_eq!(
        atribuida["creditos"][0]["touchpoint_id"],
        json!(journey.click)
    );
    assert_eq!(reservado(&server.backend, campana).await, 2_500);
    server.stop().await;
}

async fn a_purchase_without_partner_touchpoints_is_not_attributed(db: TestDb) {
    let server = db.serve(&[]).await;
    let campana = campana_activa(&server, 100_000).await;

    let journey = click_y_compra(&server, campana, None, 25_000).await;

    server
        .wait_for("ConversionNoAtribuida", WAIT, |log| {
            count(of_journey(log, journey.id), "ConversionNoAtribuida") == 1
        })
        .await;
    server.settle().await;
    let log = server.log().await;
    assert_eq!(count(&log, "ConversionAtribuida"), 0);
    assert_eq!(count(&log, "ComisionReservada"), 0);
    assert_eq!(reservado(&server.backend, campana).await, 0);
    server.stop().await;
}

async fn a_budget_too_small_reverts_the_attribution_and_reserves_nothing(db: TestDb) {
    let server = db.serve(&[]).await;
    // 10% of 250.00 is 25.00; the budget holds 10.00.
    let campana = campana_activa(&server, 1_000).await;

    let journey = click_y_compra(&server, campana, Some(Uuid::new_v4()), 25_000).await;

    let log = server
        .wait_for("AtribucionRevertida", WAIT, |log| {
            count(of_journey(log, journey.id), "AtribucionRevertida") == 1
        })
        .await;
    let events = of_journey(&log, journey.id);
    assert_eq!(
        types(&events)[2..],
        [
            "ConversionAtribuida",
            "PresupuestoInsuficiente",
            "AtribucionRevertida"
        ]
    );
    server.settle().await;
    assert_eq!(count(&server.log().await, "ComisionReservada"), 0);
    assert_eq!(
        reservado(&server.backend, campana).await,
        0,
        "budget unchanged"
    );
    server.stop().await;
}

async fn reported_fraud_is_compensated_in_reverse_order(db: TestDb) {
    let server = db.serve(&[]).await;
    let campana = campana_activa(&server, 100_000).await;
    let journey = click_y_compra(&server, campana, Some(Uuid::new_v4()), 25_000).await;
    server
        .wait_for("ComisionReservada", WAIT, |log| {
            count(of_journey(log, journey.id), "ComisionReservada") == 1
        })
        .await;

    // Reported by purchase id, as a risk team would.
    let report = json!({"motivo": "tarjeta robada", "reportado_por": "equipo-riesgo"});
    server
        .expect(
            &format!("/api/v1/atribuciones/{}/fraude", journey.compra),
            &report,
            200,
        )
        .await;

    let log = server
        .wait_for("both interactions discarded", WAIT, |log| {
            count(of_journey(log, journey.id), "InteraccionDescartada") == 2
        })
        .await;
    let events = of_journey(&log, journey.id);
    assert_eq!(
        types(&events)[5..],
        [
            "FraudeDetectado",
            "ComisionRevertida",
            "PresupuestoLiberado",
            "AtribucionRevertida",
            "InteraccionDescartada",
            "InteraccionDescartada"
        ],
        "compensation runs in reverse: commission, budget, attribution, interactions"
    );
    let discarded: Vec<String> = events[9..]
        .iter()
        .map(|event| event.event.aggregate_id.clone())
        .collect();
    assert!(discarded.contains(&journey.click.to_string()));
    assert!(discarded.contains(&journey.compra.to_string()));
    assert_eq!(
        reservado(&server.backend, campana).await,
        0,
        "budget released"
    );
    server.stop().await;
}

/// Every reactor reads the whole log again (its checkpoint rewound): the commands it sends
/// carry ids derived from their causes, so nothing new is appended.
async fn a_redelivered_log_changes_nothing(db: TestDb) {
    let server = db.serve(&[]).await;
    let campana = campana_activa(&server, 100_000).await;
    let journeys = [
        click_y_compra(&server, campana, Some(Uuid::new_v4()), 25_000).await,
        click_y_compra(&server, campana, Some(Uuid::new_v4()), 10_000).await,
    ];
    server
        .wait_for("both commissions", WAIT, |log| {
            count(log, "ComisionReservada") == 2
        })
        .await;
    server.settle().await;
    let before = server.log().await.len();
    server.stop().await;

    let backend = EventStoreBackend::open(&db.url(), StoreOptions::default())
        .await
        .unwrap();
    let checkpoints = backend.checkpoints();
    for name in alpes_write::saga::consumer_names(&alpes_write::Service::ALL) {
        checkpoints
            .save(name, alpes_event_store::Position::START)
            .await
            .unwrap();
    }
    drop(backend);

    let server = db.serve(&[]).await;
    server.settle().await;
    let log = server.log().await;
    assert_eq!(log.len(), before, "the redelivered log appended nothing");
    for journey in &journeys {
        assert_eq!(count(of_journey(&log, journey.id), "ComisionReservada"), 1);
    }
    assert_eq!(reservado(&server.backend, campana).await, 3_500);
    server.stop().await;
}

/// The process dies (its runtime dropped, no clean shutdown) at several points after the
/// purchase is accepted; started again, it finishes each saga exactly once.
async fn a_crash_mid_saga_completes_exactly_once_after_restart(db: TestDb) {
    let mut crashed = Vec::new();
    for stop_after in [
        "InteraccionRegistrada",
        "ConversionAtribuida",
        "PresupuestoReservado",
    ] {
        let url = db.url();
        let run = std::thread::spawn(move || crash_after(&url, stop_after));
        crashed.push(run.join().unwrap());
    }

    let server = db.serve(&[]).await;
    server
        .wait_for("every ComisionReservada", WAIT, |log| {
            crashed
                .iter()
                .all(|(_, journey)| count(of_journey(log, *journey), "ComisionReservada") == 1)
        })
        .await;
    server.settle().await;
    let log = server.log().await;
    for (campana, journey) in &crashed {
        let events = of_journey(&log, *journey);
        for event_type in [
            "ConversionAtribuida",
            "PresupuestoReservado",
            "ComisionReservada",
        ] {
            assert_eq!(count(events.iter().copied(), event_type), 1, "{event_type}");
        }
        assert_eq!(reservado(&server.backend, *campana).await, 2_500);
    }
    server.stop().await;
}

/// Runs `alpes serve` on a runtime of its own, sends a journey through its API, and drops
/// the runtime as soon as the journey's `stop_after` event is in the log.
fn crash_after(url: &str, stop_after: &str) -> (Uuid, Uuid) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (campana, journey, completed) = runtime.block_on(async {
        let server = TestServer::start(url, &[]).await;
        let campana = campana_activa(&server, 100_000).await;
        let journey = click_y_compra(&server, campana, Some(Uuid::new_v4()), 25_000).await;
        let log = loop {
            let log = server.log().await;
            if count(of_journey(&log, journey.id), stop_after) > 0 {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let completed = count(of_journey(&log, journey.id), "ComisionReservada") > 0;
        std::mem::forget(server);
        (campana, journey.id, completed)
    });
    drop(runtime);
    eprintln!("crashed after {stop_after}; the saga had completed: {completed}");
    (campana, journey)
}

async fn two_hundred_purchases_on_a_budget_for_fifty_reserve_fifty(db: TestDb) {
    const PURCHASES: usize = 200;
    const COVERED: usize = 50;
    let server = std::sync::Arc::new(db.serve(&[]).await);
    // Each purchase of 100.00 earns 10.00; the budget covers fifty.
    let presupuesto = 1_000 * COVERED as i64;
    let campana = campana_activa(&server, presupuesto).await;

    let purchases: Vec<_> = (0..PURCHASES)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                click_y_compra(&server, campana, Some(Uuid::new_v4()), 10_000).await;
            })
        })
        .collect();
    for purchase in purchases {
        purchase.await.unwrap();
    }

    server
        .wait_for("every conversion reserved or reverted", WAIT * 3, |log| {
            count(log, "ComisionReservada") + count(log, "AtribucionRevertida") == PURCHASES
        })
        .await;
    server.settle().await;
    let log = server.log().await;
    assert_eq!(count(&log, "ConversionAtribuida"), PURCHASES);
    assert_eq!(count(&log, "ComisionReservada"), COVERED);
    assert_eq!(count(&log, "PresupuestoInsuficiente"), PURCHASES - COVERED);
    for event in log
        .iter()
        .filter(|event| event.event.event_type == "PresupuestoReservado")
    {
        let reservado = event.event.payload["PresupuestoReservado"]["reservado"]["amount"]
            .as_i64()
            .unwrap();
        assert!(
            reservado <= presupuesto,
            "reserved {reservado} beyond the budget"
        );
    }
    assert_eq!(reservado(&server.backend, campana).await, presupuesto);
}
