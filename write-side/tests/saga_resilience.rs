//! The saga under redelivery, crashes, contention and time, each test on SQLite and on
//! PostgreSQL, with the real reactors on the real store.

#[macro_use]
mod saga_common;

use std::time::Duration;

use alpes_domain::campana::{Campana, CampanaEvent};
use alpes_domain::comision::{Comision, ComisionEvent};
use alpes_event_store::{Position, StoreOptions};
use alpes_write::saga::{self, names, ApprovalSchedule, SagaDatabase};
use alpes_write::{SagaConfig, Service};
use saga_common::*;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

on_sqlite_and_postgres!(
    a_redelivered_event_changes_nothing,
    a_crash_mid_saga_completes_exactly_once_after_restart,
    concurrent_purchases_reserve_no_more_than_the_budget,
    commissions_are_approved_once_their_hold_period_is_over,
);

async fn a_redelivered_event_changes_nothing(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;
    let journey = store
        .click_y_compra(campana, Some(Uuid::new_v4()), 25_000)
        .await;
    store
        .wait_for("ComisionReservada", WAIT, |log| {
            count(of_journey(log, journey.id), "ComisionReservada") == 1
        })
        .await;
    store.settle(&Service::ALL).await;
    saga.stop().await;
    let before = store.log().await;

    // Each reacting consumer is handed its event twice, as after a crash before its
    // checkpoint.
    let database = SagaDatabase::of_backend(&store.backend).await.unwrap();
    let consumers = saga::consumers(&store.commands, &database, &Service::ALL);
    let purchase = format!("Interaccion-{}", journey.compra);
    for (name, event_type) in [
        (names::ATRIBUIR_CONVERSION, "InteraccionRegistrada"),
        (names::RESERVAR_PRESUPUESTO, "ConversionAtribuida"),
        (names::RESERVAR_COMISION, "PresupuestoReservado"),
    ] {
        let consumer = consumers.iter().find(|c| c.name() == name).unwrap();
        let event = before
            .iter()
            .find(|event| {
                event.event.event_type == event_type
                    && (event_type != "InteraccionRegistrada" || event.stream() == purchase)
            })
            .unwrap();
        for _ in 0..2 {
            consumer.handle(std::slice::from_ref(event)).await.unwrap();
        }
    }
    assert_eq!(
        store.log().await,
        before,
        "no command was carried out twice"
    );

    // Every consumer replays the whole log.
    let checkpoints = store.backend.checkpoints();
    for name in saga::consumer_names(&Service::ALL) {
        checkpoints.save(name, Position::START).await.unwrap();
    }
    let saga = store.start_saga().await;
    store.settle(&Service::ALL).await;
    assert_eq!(
        store.log().await,
        before,
        "a replay of the log sends nothing new"
    );
    assert_eq!(store.reservado(campana).await, 2_500);
    saga.stop().await;
}

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

    let store = db.open().await;
    let saga = store.start_saga().await;

    let log = store
        .wait_for("every ComisionReservada", WAIT, |log| {
            crashed
                .iter()
                .all(|(_, journey)| count(of_journey(log, journey.id), "ComisionReservada") == 1)
        })
        .await;
    store.settle(&Service::ALL).await;
    let log_after = store.log().await;
    assert_eq!(
        log_after.len(),
        log.len(),
        "nothing happened after the saga completed"
    );
    for (campana, journey) in &crashed {
        let events = of_journey(&log_after, journey.id);
        for event_type in [
            "ConversionAtribuida",
            "PresupuestoReservado",
            "ComisionReservada",
        ] {
            assert_eq!(count(events.iter().copied(), event_type), 1, "{event_type}");
        }
        assert_eq!(store.reservado(*campana).await, 2_500);
    }
    saga.stop().await;
}

/// Runs the saga on a runtime of its own and drops that runtime — every task wherever it
/// is, no clean shutdown — as soon as the journey's `stop_after` event is in the log.
fn crash_after(url: &str, stop_after: &str) -> (Uuid, Journey) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (campana, journey, completed) = runtime.block_on(async {
        let store = Store::open(url, StoreOptions::default()).await;
        let _saga = store.start_saga().await;
        let campana = store.campana_activa(100_000).await;
        let journey = store
            .click_y_compra(campana, Some(Uuid::new_v4()), 25_000)
            .await;
        // Polled tightly, so the crash comes as close after `stop_after` as it can.
        let log = loop {
            let log = store.log().await;
            if count(of_journey(&log, journey.id), stop_after) > 0 {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let completed = count(of_journey(&log, journey.id), "ComisionReservada") > 0;
        (campana, journey, completed)
    });
    drop(runtime);
    eprintln!("crashed after {stop_after}; the saga had completed: {completed}");
    (campana, journey)
}

async fn concurrent_purchases_reserve_no_more_than_the_budget(db: TestDb) {
    const PURCHASES: usize = 200;
    const COVERED: usize = 50;
    // Campana is the hot aggregate: load it from snapshots, as `alpes serve` does.
    let options = StoreOptions {
        snapshot_every: Some(50),
        ..StoreOptions::default()
    };
    let store = Store::open(&db.url(), options).await;
    let saga = store.start_saga().await;
    let presupuesto = 1_000 * COVERED as i64;
    let campana = store.campana_activa(presupuesto).await;

    let purchases: Vec<_> = (0..PURCHASES)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .click_y_compra(campana, Some(Uuid::new_v4()), 10_000)
                    .await
            })
        })
        .collect();
    for purchase in purchases {
        purchase.await.unwrap();
    }

    store
        .wait_for(
            "every conversion reserved or reverted",
            Duration::from_secs(180),
            |log| count(log, "ComisionReservada") + count(log, "AtribucionRevertida") == PURCHASES,
        )
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    assert_eq!(count(&log, "ConversionAtribuida"), PURCHASES);
    assert_eq!(count(&log, "ComisionReservada"), COVERED);
    assert_eq!(count(&log, "PresupuestoReservado"), COVERED);
    assert_eq!(count(&log, "PresupuestoInsuficiente"), PURCHASES - COVERED);
    assert_eq!(count(&log, "AtribucionRevertida"), PURCHASES - COVERED);
    assert_eq!(count(&log, "PresupuestoLiberado"), 0);
    for event in log
        .iter()
        .filter(|e| e.event.event_type == "PresupuestoReservado")
    {
        let CampanaEvent::PresupuestoReservado { reservado, .. } =
            event.decode::<Campana>().unwrap().payload
        else {
            unreachable!()
        };
        assert!(
            reservado.amount <= presupuesto,
            "reserved {reservado} beyond the budget"
        );
    }
    assert_eq!(store.reservado(campana).await, presupuesto);
    saga.stop().await;
}

async fn commissions_are_approved_once_their_hold_period_is_over(db: TestDb) {
    let store = db.open().await;
    let clock = ManualClock::at(dias_despues_de_la_compra(1));
    let config = SagaConfig {
        approval_interval: Duration::from_millis(50),
        clock: clock.clone(),
        ..saga_config()
    };
    let saga = store.start_saga_with(&Service::ALL, config).await;
    let campana = store.campana_activa(100_000).await;
    let honesta = store
        .click_y_compra(campana, Some(Uuid::new_v4()), 25_000)
        .await;
    let fraudulenta = store
        .click_y_compra(campana, Some(Uuid::new_v4()), 25_000)
        .await;
    store
        .wait_for("two ComisionReservada", WAIT, |log| {
            count(log, "ComisionReservada") == 2
        })
        .await;
    store.marcar_fraude(&fraudulenta).await;
    store
        .wait_for("the fraud compensated", WAIT, |log| {
            count(of_journey(log, fraudulenta.id), "InteraccionDescartada") == 2
        })
        .await;
    store.settle(&Service::ALL).await;

    // A millisecond before the 30 days of hold are over.
    clock.set(dias_despues_de_la_compra(30) - chrono::Duration::milliseconds(1));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(count(&store.log().await, "ComisionAprobada"), 0);
    let database = SagaDatabase::of_backend(&store.backend).await.unwrap();
    let schedule = ApprovalSchedule::new(store.commands.clone(), database, clock.clone());
    assert_eq!(schedule.approve_due().await.unwrap().due, 0);

    clock.set(dias_despues_de_la_compra(30));

    let log = store
        .wait_for("ComisionAprobada", WAIT, |log| {
            count(log, "ComisionAprobada") == 1
        })
        .await;
    let aprobada = log
        .iter()
        .find(|event| event.event.event_type == "ComisionAprobada")
        .unwrap();
    let reservada = of_journey(&log, honesta.id)
        .into_iter()
        .find(|event| event.event.event_type == "ComisionReservada")
        .unwrap();
    assert_eq!(
        aprobada.stream(),
        reservada.stream(),
        "the honest commission"
    );
    let ComisionEvent::ComisionAprobada { aprobada_en, .. } =
        aprobada.decode::<Comision>().unwrap().payload
    else {
        unreachable!()
    };
    assert_eq!(aprobada_en, dias_despues_de_la_compra(30));
    let metadata = aprobada.metadata();
    assert_eq!(metadata["actor"], names::APROBAR_COMISION);
    assert_eq!(
        metadata["causation_id"],
        format!("{}#{}", reservada.stream(), reservada.event.sequence)
    );
    assert_eq!(metadata["correlation_id"], honesta.id.to_string());

    // Later rounds approve nothing else: the reverted commission stays reverted.
    clock.set(dias_despues_de_la_compra(60));
    store.settle(&Service::ALL).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(count(&store.log().await, "ComisionAprobada"), 1);
    saga.stop().await;
}
