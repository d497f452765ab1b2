//! Events of old schema versions, inserted as the first services stored them, feed the saga
//! like today's: a 1.0 campaign (no commission rule then: the upcaster's documented 10 %
//! default applies), a 1.0 partner click and a 1.0 purchase of the same user become a
//! reserved commission. On SQLite and PostgreSQL.

#[macro_use]
mod saga_common;

use std::time::Duration;

use alpes_domain::campana::CampanaCommand;
use alpes_domain::{ids, Currency, Money};
use alpes_test_support::legacy::insert_fixture;
use alpes_write::CommandContext;
use saga_common::*;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);
const CAMPANA: &str = "0b7e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const PARTNER: &str = "7d9e1f2a-3b4c-4d5e-9f6a-7b8c9d0e1f2a";
const COMPRA: &str = "5f0c6a2e-8d1b-4c3a-9e7f-1a2b3c4d5e6f";

on_sqlite_and_postgres!(old_events_feed_the_saga);

async fn old_events_feed_the_saga(db: TestDb) {
    let store = db.open().await;
    let url = db.url();
    insert_fixture(&url, "campana_creada_1_0.json").await;
    let campana = Uuid::parse_str(CAMPANA).unwrap();
    store
        .commands
        .campana(
            campana,
            CampanaCommand::ActivarCampana,
            &CommandContext::by("test"),
        )
        .await
        .unwrap();
    insert_fixture(&url, "interaccion_registrada_1_0_click.json").await;
    insert_fixture(&url, "interaccion_registrada_1_0_compra.json").await;

    let saga = store.start_saga().await;
    let compra = Uuid::parse_str(COMPRA).unwrap();
    let partner = Uuid::parse_str(PARTNER).unwrap();
    let comision = ids::comision_id(&compra, &partner);
    let log = store
        .wait_for("the commission of the old purchase", WAIT, |events| {
            events.iter().any(|event| {
                event.event.event_type == "ComisionReservada"
                    && event.event.aggregate_id == comision.to_string()
            })
        })
        .await;
    saga.stop().await;

    // 10 % (the 1.0 campaigns' default rule) of the 59.90 purchase.
    let reservado = log
        .iter()
        .find(|event| event.event.event_type == "PresupuestoReservado")
        .unwrap();
    assert_eq!(
        reservado.event.payload["PresupuestoReservado"]["monto"],
        serde_json::to_value(Money::new(599, Currency::EUR)).unwrap()
    );
    let old: Vec<&str> = log
        .iter()
        .filter(|event| event.stored_version != event.event.event_version)
        .map(|event| event.event.event_type.as_str())
        .collect();
    assert_eq!(
        old,
        [
            "CampanaCreada",
            "InteraccionRegistrada",
            "InteraccionRegistrada"
        ],
        "the old rows come out of the log upcast"
    );
}
