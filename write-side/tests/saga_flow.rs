//! The saga end to end on the real store, each test on SQLite and on PostgreSQL: the domain
//! is driven through CommandServices, the real reactors run under ConsumerRunner, and the
//! outcome is read from the global log.

#[macro_use]
mod saga_common;

use std::time::Duration;

use alpes_domain::atribucion::{Atribucion, AtribucionEvent, MotivoNoAtribucion, MotivoReversion};
use alpes_domain::campana::{Campana, CampanaCommand, CampanaEvent};
use alpes_domain::comision::{Comision, ComisionEvent, EstadoComision};
use alpes_domain::interaccion::EstadoInteraccion;
use alpes_domain::{ids, Currency, ModeloAtribucion, Money, TipoInteraccion};
use alpes_write::saga::{names, SagaDatabase};
use alpes_write::{CommandContext, Service};
use saga_common::*;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

on_sqlite_and_postgres!(
    a_partner_click_before_a_purchase_reserves_its_commission,
    a_purchase_without_partner_touchpoints_is_not_attributed,
    a_budget_too_small_reverts_the_attribution_and_reserves_nothing,
    a_budget_that_covers_one_of_two_partners_keeps_nothing_reserved,
    reported_fraud_is_compensated_in_reverse_order,
    reported_fraud_releases_every_partner_before_reverting_the_attribution,
    fraud_found_by_the_rules_discards_the_journey,
    a_campaign_paused_before_the_reservation_reverts_the_attribution,
    a_second_conversion_of_the_same_order_is_fraud,
    a_lead_in_a_campaign_that_pays_no_leads_keeps_its_attribution,
    reactions_in_one_batch_see_only_what_came_before_them,
    a_reaction_waits_for_what_the_batch_before_learned,
);

async fn a_partner_click_before_a_purchase_reserves_its_commission(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;
    let partner = Uuid::new_v4();

    let journey = store.click_y_compra(campana, Some(partner), 25_000).await;

    let log = store
        .wait_for("ComisionReservada", WAIT, |log| {
            count(of_journey(log, journey.id), "ComisionReservada") == 1
        })
        .await;
    let events = of_journey(&log, journey.id);
    let comision_id = ids::comision_id(&journey.compra, &partner);

    let atribuida = find(&events, "ConversionAtribuida");
    assert_eq!(
        atribuida.stream(),
        format!("Atribucion-{}", ids::atribucion_id(&journey.compra))
    );
    assert_caused_by(
        atribuida,
        &format!("Interaccion-{}#1", journey.compra),
        names::ATRIBUIR_CONVERSION,
        journey.id,
    );
    let AtribucionEvent::ConversionAtribuida { creditos, .. } =
        atribuida.decode::<Atribucion>().unwrap().payload
    else {
        unreachable!()
    };
    assert_eq!(creditos.len(), 1);
    assert_eq!(
        (creditos[0].partner_id, creditos[0].touchpoint_id),
        (partner, journey.click)
    );

    let reservado = find(&events, "PresupuestoReservado");
    let CampanaEvent::PresupuestoReservado {
        comision_id: reservada,
        monto,
        ..
    } = reservado.decode::<Campana>().unwrap().payload
    else {
        unreachable!()
    };
    assert_eq!(reservada, comision_id);
    assert_eq!(monto, Money::new(2_500, Currency::EUR), "10% of 250.00");
    assert_caused_by(
        reservado,
        &cause(atribuida),
        names::RESERVAR_PRESUPUESTO,
        journey.id,
    );

    let comision = find(&events, "ComisionReservada");
    assert_eq!(comision.stream(), format!("Comision-{comision_id}"));
    assert_caused_by(
        comision,
        &cause(reservado),
        names::RESERVAR_COMISION,
        journey.id,
    );
    let ComisionEvent::ComisionReservada { datos, .. } =
        comision.decode::<Comision>().unwrap().payload
    else {
        unreachable!()
    };
    assert_eq!(datos.monto, Money::new(2_500, Currency::EUR));
    assert_eq!(
        (datos.campana_id, datos.partner_id, datos.journey_id),
        (campana, partner, journey.id)
    );
    assert_eq!(
        (datos.conversion_id, datos.atribucion_id),
        (journey.compra, ids::atribucion_id(&journey.compra))
    );
    assert_eq!(
        (datos.fecha_conversion, datos.dias_retencion),
        (hora_compra(), 30)
    );
    assert_eq!(store.reservado(campana).await, 2_500);
    saga.stop().await;
}

async fn a_purchase_without_partner_touchpoints_is_not_attributed(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;

    let journey = store.click_y_compra(campana, None, 25_000).await;

    store
        .wait_for("ConversionNoAtribuida", WAIT, |log| {
            count(of_journey(log, journey.id), "ConversionNoAtribuida") == 1
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey.id);
    let AtribucionEvent::ConversionNoAtribuida { motivo, .. } =
        find(&events, "ConversionNoAtribuida")
            .decode::<Atribucion>()
            .unwrap()
            .payload
    else {
        unreachable!()
    };
    assert_eq!(motivo, MotivoNoAtribucion::SinTouchpointEnVentana);
    assert_eq!(count(events.iter().copied(), "PresupuestoReservado"), 0);
    assert_eq!(count(&log, "ComisionReservada"), 0);
    assert_eq!(store.reservado(campana).await, 0);
    saga.stop().await;
}

async fn a_budget_too_small_reverts_the_attribution_and_reserves_nothing(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(500).await;

    let journey = store
        .click_y_compra(campana, Some(Uuid::new_v4()), 10_000)
        .await;

    store
        .wait_for("AtribucionRevertida", WAIT, |log| {
            count(of_journey(log, journey.id), "AtribucionRevertida") == 1
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey.id);
    let CampanaEvent::PresupuestoInsuficiente {
        monto, disponible, ..
    } = find(&events, "PresupuestoInsuficiente")
        .decode::<Campana>()
        .unwrap()
        .payload
    else {
        unreachable!()
    };
    assert_eq!((monto.amount, disponible.amount), (1_000, 500));
    let revertida = find(&events, "AtribucionRevertida");
    let AtribucionEvent::AtribucionRevertida { motivo, .. } =
        revertida.decode::<Atribucion>().unwrap().payload
    else {
        unreachable!()
    };
    assert_eq!(motivo, MotivoReversion::PresupuestoInsuficiente);
    assert_eq!(
        revertida.metadata()["actor"],
        names::REVERTIR_ATRIBUCION_POR_PRESUPUESTO
    );
    assert_eq!(count(&log, "PresupuestoReservado"), 0);
    assert_eq!(count(&log, "ComisionReservada"), 0);
    assert_eq!(store.reservado(campana).await, 0, "the budget is unchanged");
    saga.stop().await;
}

async fn a_budget_that_covers_one_of_two_partners_keeps_nothing_reserved(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let mut datos = datos_campana(1_500);
    datos.atribucion.modelo = ModeloAtribucion::Lineal;
    let campana = store.campana_activa_con(datos).await;
    let (ana, bruno) = (Uuid::new_v4(), Uuid::new_v4());
    let journey = Uuid::new_v4();
    for (partner, horas) in [(ana, 3), (bruno, 2)] {
        let at = hora_compra() - chrono::Duration::hours(horas);
        store
            .registrar(interaccion(
                TipoInteraccion::Click,
                campana,
                journey,
                Some(partner),
                at,
            ))
            .await;
    }
    let compra = store.registrar(compra(campana, journey, 20_000)).await;

    store
        .wait_for("Ana's budget released", WAIT, |log| {
            count(of_journey(log, journey), "PresupuestoLiberado") == 1
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey);
    let tipos = |tipo: &str| count(events.iter().copied(), tipo);
    assert_eq!(tipos("PresupuestoReservado"), 1, "Ana's 10.00 fit in 15.00");
    assert_eq!(tipos("PresupuestoInsuficiente"), 1, "Bruno's 10.00 did not");
    assert_eq!(tipos("AtribucionRevertida"), 1);
    assert_eq!(tipos("ComisionRevertida"), tipos("ComisionReservada"));
    assert_eq!(store.reservado(campana).await, 0, "nothing stays reserved");
    for partner in [ana, bruno] {
        let comision = store
            .commands
            .load_comision(ids::comision_id(&compra, &partner))
            .await
            .unwrap();
        assert_ne!(comision.estado(), EstadoComision::Reservada, "{partner}");
    }
    saga.stop().await;
}

async fn reported_fraud_is_compensated_in_reverse_order(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;
    let partner = Uuid::new_v4();
    let journey = store.click_y_compra(campana, Some(partner), 25_000).await;
    store
        .wait_for("ComisionReservada", WAIT, |log| {
            count(of_journey(log, journey.id), "ComisionReservada") == 1
        })
        .await;

    store.marcar_fraude(&journey).await;

    store
        .wait_for("two InteraccionDescartada", WAIT, |log| {
            count(of_journey(log, journey.id), "InteraccionDescartada") == 2
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey.id);
    let compensation: Vec<&str> = events
        .iter()
        .map(|event| event.event.event_type.as_str())
        .skip_while(|event_type| *event_type != "FraudeDetectado")
        .collect();
    assert_eq!(
        compensation,
        [
            "FraudeDetectado",
            "ComisionRevertida",
            "PresupuestoLiberado",
            "AtribucionRevertida",
            "InteraccionDescartada",
            "InteraccionDescartada",
        ]
    );
    let AtribucionEvent::AtribucionRevertida { motivo, .. } = find(&events, "AtribucionRevertida")
        .decode::<Atribucion>()
        .unwrap()
        .payload
    else {
        unreachable!()
    };
    assert_eq!(motivo, MotivoReversion::Fraude);
    assert_eq!(store.reservado(campana).await, 0, "the budget is released");
    let comision = store
        .commands
        .load_comision(ids::comision_id(&journey.compra, &partner))
        .await
        .unwrap();
    assert_eq!(comision.estado(), EstadoComision::Revertida);
    for interaccion in [journey.click, journey.compra] {
        let interaccion = store.commands.load_interaccion(interaccion).await.unwrap();
        assert_eq!(interaccion.estado(), EstadoInteraccion::Descartada);
    }
    saga.stop().await;
}

async fn reported_fraud_releases_every_partner_before_reverting_the_attribution(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let mut datos = datos_campana(100_000);
    datos.atribucion.modelo = ModeloAtribucion::Lineal;
    let campana = store.campana_activa_con(datos).await;
    let (ana, bruno) = (Uuid::new_v4(), Uuid::new_v4());
    let journey = Uuid::new_v4();
    for (partner, horas) in [(ana, 3), (bruno, 2)] {
        let at = hora_compra() - chrono::Duration::hours(horas);
        store
            .registrar(interaccion(
                TipoInteraccion::Click,
                campana,
                journey,
                Some(partner),
                at,
            ))
            .await;
    }
    let compra = store.registrar(compra(campana, journey, 20_000)).await;
    store
        .wait_for("two ComisionReservada", WAIT, |log| {
            count(of_journey(log, journey), "ComisionReservada") == 2
        })
        .await;
    assert_eq!(
        store.reservado(campana).await,
        2_000,
        "10% of each half of 200.00"
    );

    store
        .marcar_fraude(&Journey {
            id: journey,
            click: compra,
            compra,
        })
        .await;

    store
        .wait_for("three InteraccionDescartada", WAIT, |log| {
            count(of_journey(log, journey), "InteraccionDescartada") == 3
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey);
    let revertida = indexes(&events, "AtribucionRevertida");
    assert_eq!(revertida.len(), 1);
    for partner in [ana, bruno] {
        let stream = format!("Comision-{}", ids::comision_id(&compra, &partner));
        let revertida_en = events
            .iter()
            .position(|event| {
                event.stream() == stream && event.event.event_type == "ComisionRevertida"
            })
            .unwrap();
        let liberada_en = events
            .iter()
            .position(|event| {
                event.event.event_type == "PresupuestoLiberado"
                    && matches!(
                        event.decode::<Campana>().unwrap().payload,
                        CampanaEvent::PresupuestoLiberado { comision_id, .. }
                            if ids::comision_id(&compra, &partner) == comision_id
                    )
            })
            .unwrap();
        assert!(
            revertida_en < liberada_en,
            "{partner}: reverted, then released"
        );
        assert!(
            liberada_en < revertida[0],
            "{partner}: released before the attribution is reverted"
        );
    }
    assert!(indexes(&events, "InteraccionDescartada")
        .iter()
        .all(|&i| i > revertida[0]));
    assert_eq!(store.reservado(campana).await, 0);
    saga.stop().await;
}

async fn fraud_found_by_the_rules_discards_the_journey(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;
    let journey = Uuid::new_v4();
    let mut click = interaccion(
        TipoInteraccion::Click,
        campana,
        journey,
        Some(Uuid::new_v4()),
        hora_compra() - chrono::Duration::hours(1),
    );
    click.contexto.usuario.user_agent = Some("curl/8.5.0".to_string());
    let click = store.registrar(click).await;
    let compra = store.registrar(compra(campana, journey, 25_000)).await;

    store
        .wait_for("two InteraccionDescartada", WAIT, |log| {
            count(of_journey(log, journey), "InteraccionDescartada") == 2
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey);
    let AtribucionEvent::FraudeDetectado { hallazgo, .. } = find(&events, "FraudeDetectado")
        .decode::<Atribucion>()
        .unwrap()
        .payload
    else {
        unreachable!()
    };
    assert!(hallazgo.unwrap().es_fraude());
    for event_type in [
        "PresupuestoReservado",
        "ComisionReservada",
        "AtribucionRevertida",
    ] {
        assert_eq!(count(events.iter().copied(), event_type), 0, "{event_type}");
    }
    for interaccion in [click, compra] {
        let interaccion = store.commands.load_interaccion(interaccion).await.unwrap();
        assert_eq!(interaccion.estado(), EstadoInteraccion::Descartada);
    }
    saga.stop().await;
}

async fn a_campaign_paused_before_the_reservation_reverts_the_attribution(db: TestDb) {
    let store = db.open().await;
    let early = [Service::Atribucion, Service::Tracking];
    let saga = store.start_saga_with(&early, saga_config()).await;
    let campana = store.campana_activa(100_000).await;
    let journey = store
        .click_y_compra(campana, Some(Uuid::new_v4()), 25_000)
        .await;
    store
        .wait_for("ConversionAtribuida", WAIT, |log| {
            count(of_journey(log, journey.id), "ConversionAtribuida") == 1
        })
        .await;
    saga.stop().await;
    store
        .commands
        .campana(
            campana,
            CampanaCommand::PausarCampana,
            &CommandContext::by("test"),
        )
        .await
        .unwrap();

    let saga = store.start_saga().await;

    store
        .wait_for("AtribucionRevertida", WAIT, |log| {
            count(of_journey(log, journey.id), "AtribucionRevertida") == 1
        })
        .await;
    let database = SagaDatabase::of_backend(&store.backend).await.unwrap();
    assert_eq!(
        database
            .rejections(names::RESERVAR_PRESUPUESTO)
            .await
            .unwrap(),
        ["CampanaNoActiva"]
    );
    // The reactor moved on: another campaign's purchase still earns its commission.
    let otra = store.campana_activa(100_000).await;
    let siguiente = store
        .click_y_compra(otra, Some(Uuid::new_v4()), 25_000)
        .await;
    store
        .wait_for("ComisionReservada", WAIT, |log| {
            count(of_journey(log, siguiente.id), "ComisionReservada") == 1
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    assert_eq!(
        count(of_journey(&log, journey.id), "PresupuestoReservado"),
        0
    );
    assert_eq!(store.reservado(campana).await, 0);
    saga.stop().await;
}

async fn a_second_conversion_of_the_same_order_is_fraud(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;
    let mut journeys = Vec::new();
    for _ in 0..2 {
        let journey = Uuid::new_v4();
        let click = interaccion(
            TipoInteraccion::Click,
            campana,
            journey,
            Some(Uuid::new_v4()),
            hora_compra() - chrono::Duration::hours(1),
        );
        store.registrar(click).await;
        let mut compra = compra(campana, journey, 25_000);
        compra.pedido_id = Some("P-1001".to_string());
        store.registrar(compra).await;
        journeys.push(journey);
    }

    store
        .wait_for("the second journey discarded", WAIT, |log| {
            count(of_journey(log, journeys[1]), "InteraccionDescartada") == 2
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let primera = of_journey(&log, journeys[0]);
    assert_eq!(count(primera.iter().copied(), "ComisionReservada"), 1);
    assert_eq!(count(primera.iter().copied(), "InteraccionDescartada"), 0);
    let segunda = of_journey(&log, journeys[1]);
    let AtribucionEvent::FraudeDetectado { hallazgo, .. } = find(&segunda, "FraudeDetectado")
        .decode::<Atribucion>()
        .unwrap()
        .payload
    else {
        unreachable!()
    };
    let reglas: Vec<String> = hallazgo
        .unwrap()
        .reglas
        .into_iter()
        .map(|r| r.regla)
        .collect();
    assert_eq!(reglas, ["PedidoYaConvertido"]);
    assert_eq!(count(segunda.iter().copied(), "PresupuestoReservado"), 0);
    assert_eq!(store.reservado(campana).await, 2_500);
    saga.stop().await;
}

async fn a_lead_in_a_campaign_that_pays_no_leads_keeps_its_attribution(db: TestDb) {
    let store = db.open().await;
    let saga = store.start_saga().await;
    let campana = store.campana_activa(100_000).await;
    let journey = Uuid::new_v4();
    let antes = hora_compra() - chrono::Duration::hours(1);
    store
        .registrar(interaccion(
            TipoInteraccion::Click,
            campana,
            journey,
            Some(Uuid::new_v4()),
            antes,
        ))
        .await;
    store
        .registrar(interaccion(
            TipoInteraccion::Lead,
            campana,
            journey,
            None,
            hora_compra(),
        ))
        .await;

    store
        .wait_for("ConversionAtribuida", WAIT, |log| {
            count(of_journey(log, journey), "ConversionAtribuida") == 1
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    let events = of_journey(&log, journey);
    let AtribucionEvent::ConversionAtribuida { conversion, .. } =
        find(&events, "ConversionAtribuida")
            .decode::<Atribucion>()
            .unwrap()
            .payload
    else {
        unreachable!()
    };
    assert_eq!(
        conversion.valor,
        Money::zero(Currency::EUR),
        "a lead without a value"
    );
    let database = SagaDatabase::of_backend(&store.backend).await.unwrap();
    assert_eq!(
        database
            .rejections(names::RESERVAR_PRESUPUESTO)
            .await
            .unwrap(),
        ["SinReglaComision"]
    );
    for event_type in [
        "PresupuestoReservado",
        "AtribucionRevertida",
        "ComisionReservada",
    ] {
        assert_eq!(count(events.iter().copied(), event_type), 0, "{event_type}");
    }
    saga.stop().await;
}

/// Conversions found together in the log (the saga was down while they were written) are
/// reacted to side by side, each seeing only what the log held before it: a partner click
/// appended after a purchase does not earn that purchase, however early the click says it
/// happened; every other journey's commission is reserved on the one campaign.
async fn reactions_in_one_batch_see_only_what_came_before_them(db: TestDb) {
    const JOURNEYS: usize = 40;
    let store = db.open().await;
    let campana = store.campana_activa(10_000_000).await;
    let antes = hora_compra() - chrono::Duration::hours(1);
    let mut late_clicks = Vec::new();
    let mut in_order = Vec::new();
    for index in 0..JOURNEYS {
        let partner = Some(Uuid::new_v4());
        if index % 2 == 0 {
            let journey = Uuid::new_v4();
            store.registrar(compra(campana, journey, 25_000)).await;
            let click = interaccion(TipoInteraccion::Click, campana, journey, partner, antes);
            store.registrar(click).await;
            late_clicks.push(journey);
        } else {
            in_order.push(store.click_y_compra(campana, partner, 25_000).await.id);
        }
    }

    let saga = store.start_saga().await;
    store
        .wait_for("every conversion decided", WAIT, |log| {
            count(log, "ComisionReservada") == in_order.len()
                && count(log, "ConversionNoAtribuida") == late_clicks.len()
        })
        .await;
    store.settle(&Service::ALL).await;
    let log = store.log().await;
    for journey in &late_clicks {
        let events = of_journey(&log, *journey);
        assert_eq!(count(events.iter().copied(), "ConversionNoAtribuida"), 1);
        assert_eq!(count(events.iter().copied(), "ConversionAtribuida"), 0);
    }
    for journey in &in_order {
        let events = of_journey(&log, *journey);
        assert_eq!(count(events.iter().copied(), "ComisionReservada"), 1);
    }
    assert_eq!(
        store.reservado(campana).await,
        2_500 * in_order.len() as i64
    );
    saga.stop().await;
}

/// One event per batch: each click is learned in a commit the reactor queues without
/// waiting, and the purchase right after it, in the next batch, reads that click. Every
/// purchase must still find its click: a reaction waits for the queued commits that taught
/// what it reads.
async fn a_reaction_waits_for_what_the_batch_before_learned(db: TestDb) {
    const JOURNEYS: usize = 30;
    let store = db.open().await;
    let campana = store.campana_activa(10_000_000).await;
    let mut journeys = Vec::new();
    for _ in 0..JOURNEYS {
        let partner = Some(Uuid::new_v4());
        journeys.push(store.click_y_compra(campana, partner, 25_000).await.id);
    }

    let mut config = saga_config();
    config.runner.batch_size = 1;
    let saga = store.start_saga_with(&Service::ALL, config).await;
    store
        .wait_for("every conversion decided", WAIT, |log| {
            count(log, "ComisionReservada") + count(log, "ConversionNoAtribuida") == JOURNEYS
        })
        .await;
    let log = store.log().await;
    for journey in &journeys {
        let events = of_journey(&log, *journey);
        assert_eq!(count(events.iter().copied(), "ConversionNoAtribuida"), 0);
        assert_eq!(count(events.iter().copied(), "ComisionReservada"), 1);
    }
    saga.stop().await;
}

fn find<'a>(
    events: &[&'a alpes_event_store::RecordedEvent],
    event_type: &str,
) -> &'a alpes_event_store::RecordedEvent {
    events
        .iter()
        .find(|event| event.event.event_type == event_type)
        .copied()
        .unwrap_or_else(|| panic!("no {event_type} in the journey"))
}

fn cause(event: &alpes_event_store::RecordedEvent) -> String {
    format!("{}#{}", event.stream(), event.event.sequence)
}

fn assert_caused_by(
    event: &alpes_event_store::RecordedEvent,
    causation: &str,
    actor: &str,
    journey: Uuid,
) {
    let metadata = event.metadata();
    assert_eq!(metadata["causation_id"], causation, "{}", describe(event));
    assert_eq!(metadata["actor"], actor, "{}", describe(event));
    assert_eq!(
        metadata["correlation_id"],
        journey.to_string(),
        "{}",
        describe(event)
    );
}
