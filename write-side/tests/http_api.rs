//! The REST command API as a client sees it: a real server on port 0 over a real store,
//! each test on SQLite and on PostgreSQL (skipped loudly when PostgreSQL is missing; failing
//! under ALPES_REQUIRE_POSTGRES=1).

mod http_support;

use alpes_domain::atribucion::{
    AtribucionCommand, Conversion, EvidenciaJourney, ParametrosAtribucion, Touchpoint,
};
use alpes_domain::comision::{ComisionCommand, DatosComision};
use alpes_domain::{ids, Currency, ModeloAtribucion, Money, TipoConversion, TipoInteraccion};
use alpes_event_store::Position;
use alpes_write::http::lotes::{AccionLote, Filter};
use alpes_write::CommandContext;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use http_support::{eventually, problem, TestApp};

on_every_backend!(
    a_campaign_is_created_and_moves_through_its_lifecycle,
    every_error_class_is_a_problem,
    a_retried_request_with_the_same_key_changes_nothing,
    a_key_reused_with_another_body_is_refused,
    concurrent_duplicates_run_once,
    interactions_are_ingested_one_by_one_and_in_batches,
    commissions_are_approved_paid_and_reverted,
    batches_approve_and_pay_the_eligible_commissions,
    batches_ask_named_commissions_and_say_why_they_skip,
    fraud_is_reported_by_attribution_or_purchase_id,
    health_and_readiness_answer,
    every_answer_carries_the_log_position_of_its_last_event,
);

fn campana_body() -> Value {
    json!({
        "marca": {"id": Uuid::new_v4(), "nombre": "Moda Sol"},
        "nombre": "Verano",
        "descripcion": "Colección de verano",
        "fecha_inicio": "2026-03-01",
        "fecha_fin": "2026-09-30",
        "presupuesto": {"amount": 1_000_000, "currency": "EUR"},
        "reglas_comision": {
            "compra": {"calculo": {"Porcentaje": {"bps": 1000}}}
        }
    })
}

async fn create_campaign(app: &TestApp) -> Uuid {
    let response = app.post("/api/v1/campanas", &campana_body()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn a_campaign_is_created_and_moves_through_its_lifecycle(app: TestApp) {
    let response = app.post("/api/v1/campanas", &campana_body()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/campanas/{id}"));
    assert_eq!(body["version"], 1);

    let mut expected_version = 1;
    for step in ["activar", "pausar", "activar", "finalizar"] {
        let response = app
            .post_empty(&format!("/api/v1/campanas/{id}/{step}"))
            .await;
        assert_eq!(response.status(), 200, "{step}");
        expected_version += 1;
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (&body["id"], &body["version"]),
            (&json!(id), &json!(expected_version)),
            "{step}"
        );
    }

    // A client-chosen id is kept.
    let chosen = Uuid::new_v4();
    let mut with_id = campana_body();
    with_id["id"] = json!(chosen);
    let response = app.post("/api/v1/campanas", &with_id).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], json!(chosen));
    let other = app
        .client
        .put(app.url(&format!("/api/v1/campanas/{chosen}/reglas-comision")))
        .json(&json!({
            "tipo_conversion": "Lead",
            "regla": {"calculo": {"Fijo": {"monto": {"amount": 2500, "currency": "EUR"}}}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    let response = app
        .post(
            &format!("/api/v1/campanas/{chosen}/presupuesto/ampliar"),
            &json!({"monto": {"amount": 5000, "currency": "EUR"}}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], 3);
    let response = app
        .post(
            &format!("/api/v1/campanas/{chosen}/cancelar"),
            &json!({"motivo": "presupuesto retirado"}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], 4);
}

async fn every_error_class_is_a_problem(app: TestApp) {
    // 400: not JSON.
    let body = problem(
        app.post_raw("/api/v1/campanas", r#"{"nombre": "#).await,
        400,
    )
    .await;
    assert_eq!(body["code"], "MalformedJson");

    // 400: a bad field, named by its path.
    let mut bad_currency = campana_body();
    bad_currency["presupuesto"]["currency"] = json!("eur");
    let body = problem(app.post("/api/v1/campanas", &bad_currency).await, 400).await;
    assert_eq!(body["code"], "InvalidField");
    assert_eq!(body["field"], "presupuesto.currency");

    // 400: a missing field, named by where it is missing.
    let mut no_brand_name = campana_body();
    no_brand_name["marca"]
        .as_object_mut()
        .unwrap()
        .remove("nombre");
    let body = problem(app.post("/api/v1/campanas", &no_brand_name).await, 400).await;
    assert_eq!(body["field"], "marca");
    assert!(
        body["detail"].as_str().unwrap().contains("nombre"),
        "{body}"
    );

    // 400: a field the API does not know.
    let mut typo = campana_body();
    typo["presupuestoo"] = json!(1);
    let body = problem(app.post("/api/v1/campanas", &typo).await, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("presupuestoo"),
        "{body}"
    );

    // 400: a domain input rule, with its code.
    let mut blank_name = campana_body();
    blank_name["nombre"] = json!("  ");
    let body = problem(app.post("/api/v1/campanas", &blank_name).await, 400).await;
    assert_eq!(body["code"], "NombreVacio");

    // 400: a path id that is not a UUID.
    let body = problem(app.post_empty("/api/v1/campanas/42/activar").await, 400).await;
    assert_eq!(body["field"], "id");

    // 415: a body that is not JSON by its type.
    let response = app
        .client
        .post(app.url("/api/v1/campanas"))
        .header("content-type", "text/plain")
        .body("hola")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;

    // 404: an unknown aggregate, and an unknown route.
    let unknown = Uuid::new_v4();
    let body = problem(
        app.post_empty(&format!("/api/v1/campanas/{unknown}/activar"))
            .await,
        404,
    )
    .await;
    assert_eq!(body["code"], "NoExiste");
    let body = problem(app.post_empty("/api/v1/no-such-thing").await, 404).await;
    assert_eq!(body["code"], "RouteNotFound");

    // 409: an invalid transition.
    let id = create_campaign(&app).await;
    let body = problem(
        app.post_empty(&format!("/api/v1/campanas/{id}/pausar"))
            .await,
        409,
    )
    .await;
    assert_eq!(body["code"], "TransicionInvalida");

    // 422: a business rule (an extension in another currency than the budget).
    let body = problem(
        app.post(
            &format!("/api/v1/campanas/{id}/presupuesto/ampliar"),
            &json!({"monto": {"amount": 100, "currency": "USD"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "MonedaDistinta");

    // 405: a route with another method.
    let response = app
        .client
        .get(app.url("/api/v1/campanas"))
        .send()
        .await
        .unwrap();
    problem(response, 405).await;
}

async fn a_retried_request_with_the_same_key_changes_nothing(app: TestApp) {
    let body = campana_body();
    let first = app
        .post_with_key("/api/v1/campanas", "crear-1", &body)
        .await;
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();
    let events = app.stored_events().await;

    let retry = app
        .post_with_key("/api/v1/campanas", "crear-1", &body)
        .await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], location);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first_body);
    assert_eq!(
        app.stored_events().await,
        events,
        "the retry appended nothing"
    );

    let id = first_body["id"].as_str().unwrap();
    let activar = format!("/api/v1/campanas/{id}/activar");
    let first = app.post_with_key(&activar, "activar-1", &json!(null)).await;
    assert_eq!(first.status(), 200);
    let events = app.stored_events().await;
    let retry = app.post_with_key(&activar, "activar-1", &json!(null)).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap()["version"], 2);
    assert_eq!(app.stored_events().await, events);

    // A refused command is answered the same way again, without running again.
    let finalizar = format!("/api/v1/campanas/{id}/finalizar");
    assert_eq!(app.post_empty(&finalizar).await.status(), 200);
    let refused = app.post_with_key(&finalizar, "fin-2", &json!(null)).await;
    let refused = problem(refused, 409).await;
    let again = app.post_with_key(&finalizar, "fin-2", &json!(null)).await;
    assert_eq!(problem(again, 409).await, refused);
}

async fn a_key_reused_with_another_body_is_refused(app: TestApp) {
    let first = app
        .post_with_key("/api/v1/campanas", "k-reused", &campana_body())
        .await;
    assert_eq!(first.status(), 201);
    let events = app.stored_events().await;
    let mut other = campana_body();
    other["nombre"] = json!("Invierno");
    let body = problem(
        app.post_with_key("/api/v1/campanas", "k-reused", &other)
            .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "IdempotencyKeyReused");
    // The same key on another path is another request too.
    let id = Uuid::new_v4();
    let body = problem(
        app.post_with_key(
            &format!("/api/v1/campanas/{id}/activar"),
            "k-reused",
            &campana_body(),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "IdempotencyKeyReused");
    assert_eq!(app.stored_events().await, events);

    let response = app
        .client
        .post(app.url("/api/v1/campanas"))
        .header("Idempotency-Key", "")
        .json(&campana_body())
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert_eq!(body["code"], "InvalidIdempotencyKey");
}

async fn concurrent_duplicates_run_once(app: TestApp) {
    let body = campana_body();
    let events = app.stored_events().await;
    let requests = (0..8).map(|_| app.post_with_key("/api/v1/campanas", "en-paralelo", &body));
    let responses = futures::future::join_all(requests).await;
    let mut created = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            201 => created.push(response.json::<Value>().await.unwrap()),
            409 => {
                assert_eq!(response.headers()["retry-after"], "1");
                let body = problem(response, 409).await;
                assert_eq!(body["code"], "IdempotencyKeyInProgress");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!created.is_empty(), "the first request is answered");
    assert!(
        created.iter().all(|body| *body == created[0]),
        "{created:?}"
    );
    assert_eq!(
        app.stored_events().await,
        events + 1,
        "one campaign created"
    );
}

fn click(campana: Uuid, journey: Uuid) -> Value {
    json!({
        "tipo": "Click",
        "campana_id": campana,
        "partner_id": Uuid::new_v4(),
        "journey_id": journey,
        "occurred_at": "2026-03-02T10:00:00Z",
        "contexto": {"usuario": {"ip": "203.0.113.7"}, "utm": {"source": "instagram"}}
    })
}

async fn interactions_are_ingested_one_by_one_and_in_batches(app: TestApp) {
    let campana = Uuid::new_v4();
    let journey = Uuid::new_v4();

    // One: 201 and Location; the raw IP is stored only as its SHA-256.
    let response = app
        .post("/api/v1/interacciones", &click(campana, journey))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("/api/v1/interacciones/{id}"));
    let stored = app.commands.load_interaccion(id).await.unwrap();
    let expected_hash = format!("{:x}", Sha256::digest(b"203.0.113.7"));
    assert_eq!(
        stored.datos().unwrap().contexto.usuario.ip_hash.as_deref(),
        Some(expected_hash.as_str())
    );

    // A batch with valid and invalid items: one result per item, in order.
    let compra_id = Uuid::new_v4();
    let batch = json!([
        click(campana, journey),
        {
            "id": compra_id, "tipo": "Compra", "campana_id": campana, "journey_id": journey,
            "valor": {"amount": 5990, "currency": "EUR"}, "pedido_id": "PED-1"
        },
        {"tipo": "Compra", "campana_id": campana, "journey_id": journey, "pedido_id": "PED-2"},
        {"tipo": "Desconocido", "campana_id": campana, "journey_id": journey},
        {"tipo": "Click", "campana_id": campana, "journey_id": journey,
         "contexto": {"usuario": {"ip_hash": "not-a-digest"}}},
    ]);
    let events = app.stored_events().await;
    let response = app.post("/api/v1/interacciones", &batch).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["registered"], 2, "{body}");
    assert_eq!(body["failed"], 3, "{body}");
    let results = body["results"].as_array().unwrap();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![201, 201, 400, 400, 400]);
    assert!(results.iter().enumerate().all(|(i, r)| r["index"] == i));
    assert_eq!(results[1]["id"], json!(compra_id));
    assert_eq!(results[1]["version"], 1);
    assert_eq!(results[2]["error"]["code"], "CompraSinValor");
    assert_eq!(results[2]["error"]["field"], "valor");
    assert_eq!(results[3]["error"]["code"], "InvalidField");
    assert_eq!(results[3]["error"]["field"], "tipo");
    assert_eq!(results[4]["error"]["code"], "IpHashInvalido");
    assert_eq!(app.stored_events().await, events + 2);

    // Registering an id again is a no-op.
    let again = app.post("/api/v1/interacciones", &batch[1]).await;
    assert_eq!(again.status(), 201);
    assert_eq!(app.stored_events().await, events + 2);

    // In a batch too, whatever the repeat says (as a new purchase this one would be
    // refused: it has no value), while the new item beside it is registered.
    let repeat = json!([
        {"id": compra_id, "tipo": "Compra", "campana_id": campana, "journey_id": journey,
         "pedido_id": "PED-1"},
        click(campana, journey),
    ]);
    let response = app.post("/api/v1/interacciones", &repeat).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["registered"], 2, "{body}");
    assert_eq!(body["results"][0]["version"], 1, "{body}");
    assert_eq!(body["results"][1]["version"], 1, "{body}");
    assert_eq!(app.stored_events().await, events + 3);

    // Too many items.
    let too_many = Value::Array(vec![click(campana, journey); 1_001]);
    let body = problem(app.post("/api/v1/interacciones", &too_many).await, 400).await;
    assert_eq!(body["code"], "BatchTooLarge");

    // Discarding.
    let response = app
        .post(
            &format!("/api/v1/interacciones/{compra_id}/descartar"),
            &json!({"motivo": "fraude"}),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 2);
}

/// Reserves a commission as the saga would, converted `days_ago` days ago with a 30-day
/// hold period.
async fn reserve_commission(app: &TestApp, campana: Uuid, partner: Uuid, days_ago: i64) -> Uuid {
    let conversion = Uuid::new_v4();
    let id = ids::comision_id(&conversion, &partner);
    let command = ComisionCommand::ReservarComision {
        id,
        datos: DatosComision {
            conversion_id: conversion,
            atribucion_id: ids::atribucion_id(&conversion),
            campana_id: campana,
            partner_id: partner,
            journey_id: Uuid::new_v4(),
            monto: Money::new(599, Currency::EUR),
            fecha_conversion: Utc::now() - Duration::days(days_ago),
            dias_retencion: 30,
        },
    };
    app.commands
        .comision(id, command, &CommandContext::by("test-saga"))
        .await
        .unwrap();
    id
}

async fn commissions_are_approved_paid_and_reverted(app: TestApp) {
    let (campana, partner) = (Uuid::new_v4(), Uuid::new_v4());
    let held = reserve_commission(&app, campana, partner, 1).await;
    let body = problem(
        app.post_empty(&format!("/api/v1/comisiones/{held}/aprobar"))
            .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "PeriodoRetencionVigente");

    let due = reserve_commission(&app, campana, partner, 40).await;
    let response = app
        .post_empty(&format!("/api/v1/comisiones/{due}/aprobar"))
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 2);

    let body = problem(
        app.post(
            &format!("/api/v1/comisiones/{due}/pagar"),
            &json!({"referencia_pago": " "}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["code"], "ReferenciaPagoVacia");
    let response = app
        .post(
            &format!("/api/v1/comisiones/{due}/pagar"),
            &json!({"referencia_pago": "SEPA-1"}),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 3);

    let response = app
        .post(
            &format!("/api/v1/comisiones/{due}/revertir"),
            &json!({"motivo": "devolución"}),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 4);
    let reverted = app.commands.load_comision(due).await.unwrap();
    assert!(reverted.clawback(), "a paid commission is clawed back");

    let unknown = Uuid::new_v4();
    let body = problem(
        app.post_empty(&format!("/api/v1/comisiones/{unknown}/aprobar"))
            .await,
        404,
    )
    .await;
    assert_eq!(body["code"], "NoExiste");
}

async fn batches_approve_and_pay_the_eligible_commissions(app: TestApp) {
    let (campana, partner) = (Uuid::new_v4(), Uuid::new_v4());
    let due_1 = reserve_commission(&app, campana, partner, 45).await;
    let due_2 = reserve_commission(&app, campana, partner, 40).await;
    let _held = reserve_commission(&app, campana, partner, 2).await;
    let other_campaign = reserve_commission(&app, Uuid::new_v4(), partner, 40).await;
    let known = app.api.state().known_commissions.clone().unwrap();
    eventually("the consumer knows the 4 commissions", || async {
        known.count().await.unwrap() == 4
    })
    .await;

    let lote = Uuid::new_v4();
    let response = app
        .post(
            "/api/v1/comisiones/lotes",
            &json!({"accion": "Aprobar", "lote_id": lote, "campana_id": campana}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["lote_id"], json!(lote));
    assert_eq!(
        body["done"],
        json!([{"id": due_1, "version": 2}, {"id": due_2, "version": 2}]),
        "oldest first, the held and the other campaign's left alone"
    );
    assert_eq!(body["skipped"], json!([]));
    let approved = app.commands.load_comision(due_1).await.unwrap();
    assert_eq!(approved.lote_aprobacion(), Some(lote));
    let untouched = app.commands.load_comision(other_campaign).await.unwrap();
    assert_eq!(untouched.aprobada_en(), None);

    let filter = Filter {
        campana_id: Some(campana),
        partner_id: Some(partner),
    };
    eventually("the consumer saw the approvals", || async {
        known
            .eligible(AccionLote::Pagar, &filter, Utc::now(), 10)
            .await
            .unwrap()
            .len()
            == 2
    })
    .await;
    let body = problem(
        app.post(
            "/api/v1/comisiones/lotes",
            &json!({"accion": "Pagar", "partner_id": partner, "campana_id": campana}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["field"], "referencia_pago");
    let response = app
        .post(
            "/api/v1/comisiones/lotes",
            &json!({"accion": "Pagar", "partner_id": partner, "campana_id": campana,
                    "referencia_pago": "SEPA-2026-04", "limite": 1}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["done"],
        json!([{"id": due_1, "version": 3}]),
        "limite 1"
    );
    let paid = app.commands.load_comision(due_1).await.unwrap();
    assert_eq!(paid.referencia_pago(), Some("SEPA-2026-04"));
    assert_eq!(
        paid.lote_pago(),
        body["lote_id"].as_str().unwrap().parse().ok()
    );
}

async fn batches_ask_named_commissions_and_say_why_they_skip(app: TestApp) {
    let (campana, partner) = (Uuid::new_v4(), Uuid::new_v4());
    let due = reserve_commission(&app, campana, partner, 40).await;
    let held = reserve_commission(&app, campana, partner, 1).await;
    let unknown = Uuid::new_v4();
    let request = json!({"accion": "Aprobar", "comision_ids": [due, held, due, unknown]});
    let response = app.post("/api/v1/comisiones/lotes", &request).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["done"], json!([{"id": due, "version": 2}]));
    let skipped = body["skipped"].as_array().unwrap();
    let codes: Vec<(&str, &str)> = skipped
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (held.to_string().as_str(), "PeriodoRetencionVigente"),
            (unknown.to_string().as_str(), "NoExiste"),
        ]
    );
    assert!(skipped
        .iter()
        .all(|s| !s["reason"].as_str().unwrap().is_empty()));

    // Running it again: the approved one is skipped as already approved.
    let response = app.post("/api/v1/comisiones/lotes", &request).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["done"], json!([]));
    assert_eq!(body["skipped"][0]["code"], "YaAprobada");

    let body = problem(
        app.post(
            "/api/v1/comisiones/lotes",
            &json!({"accion": "Aprobar", "comision_ids": [due], "campana_id": campana}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["field"], "comision_ids");
}

async fn fraud_is_reported_by_attribution_or_purchase_id(app: TestApp) {
    let compra = Uuid::new_v4();
    let partner = Uuid::new_v4();
    let now = Utc::now();
    let command = AtribucionCommand::AtribuirConversion {
        conversion: Conversion {
            interaccion_id: compra,
            tipo: TipoConversion::Compra,
            campana_id: Uuid::new_v4(),
            journey_id: Uuid::new_v4(),
            occurred_at: now,
            valor: Money::new(5_990, Currency::EUR),
            pedido_id: Some(format!("PED-{compra}")),
        },
        journey: vec![Touchpoint {
            interaccion_id: Uuid::new_v4(),
            tipo: TipoInteraccion::Click,
            partner_id: Some(partner),
            occurred_at: now - Duration::hours(1),
            ip_hash: None,
            user_agent: None,
        }],
        parametros: ParametrosAtribucion {
            modelo: ModeloAtribucion::UltimoClick,
            ventana_dias: 30,
            umbral_fraude: 50,
            campana_activa: true,
        },
        evidencia: EvidenciaJourney::default(),
    };
    let atribucion = ids::atribucion_id(&compra);
    let executed = app
        .commands
        .atribucion(atribucion, command, &CommandContext::by("test-saga"))
        .await
        .unwrap();
    assert_eq!(executed.event_types, vec!["ConversionAtribuida"]);

    let report = json!({"motivo": "tarjeta robada", "reportado_por": "equipo-riesgo"});
    let response = app
        .post(&format!("/api/v1/atribuciones/{compra}/fraude"), &report)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (&body["id"], &body["version"]),
        (&json!(atribucion), &json!(2)),
        "by purchase id"
    );
    let response = app
        .post(
            &format!("/api/v1/atribuciones/{atribucion}/fraude"),
            &report,
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": atribucion, "version": 2}),
        "by its own id: no-op"
    );

    let body = problem(
        app.post(
            &format!("/api/v1/atribuciones/{atribucion}/fraude"),
            &json!({"motivo": "x", "reportado_por": ""}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["field"], "reportado_por");
    let unknown = Uuid::new_v4();
    let body = problem(
        app.post(&format!("/api/v1/atribuciones/{unknown}/fraude"), &report)
            .await,
        404,
    )
    .await;
    assert_eq!(body["code"], "AtribucionNoExiste");
}

async fn health_and_readiness_answer(app: TestApp) {
    for path in ["/health", "/ready"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"status": "ok"})
        );
    }
    assert!(app.stop().await.is_ok());
}

/// The consistency token of an answer (body and header agree) as a log position.
fn token_of(response: &reqwest::Response) -> Option<Position> {
    let header = response.headers().get("x-consistency-token")?;
    Some(header.to_str().unwrap().parse().unwrap())
}

/// The stream of the event at `position` in the global log (waiting for PostgreSQL's log
/// to show it: it trails commits of other transactions of the cluster).
async fn stream_at(app: &TestApp, position: Position) -> String {
    let log = app.backend.log();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = log.read_after(Position::START, 100_000).await.unwrap();
        if let Some(event) = events.into_iter().find(|event| event.position == position) {
            return event.stream();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no event at {position} in the log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn every_answer_carries_the_log_position_of_its_last_event(app: TestApp) {
    let created = app.post("/api/v1/campanas", &campana_body()).await;
    assert_eq!(created.status(), 201);
    let creation = token_of(&created).expect("a token on a create");
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["consistency"], creation.to_string());
    let campana = body["id"].as_str().unwrap().to_string();
    assert_eq!(
        stream_at(&app, creation).await,
        format!("Campana-{campana}")
    );

    let activated = app
        .post_with_key(
            &format!("/api/v1/campanas/{campana}/activar"),
            "act-1",
            &json!(null),
        )
        .await;
    let activation = token_of(&activated).expect("a token on a command");
    assert!(activation > creation);
    let replayed = app
        .post_with_key(
            &format!("/api/v1/campanas/{campana}/activar"),
            "act-1",
            &json!(null),
        )
        .await;
    assert_eq!(
        token_of(&replayed),
        Some(activation),
        "a replay answers the same token"
    );
    let campana: Uuid = campana.parse().unwrap();
    let mut one = click(campana, Uuid::new_v4());
    one["id"] = json!(Uuid::new_v4());
    let first = app.post("/api/v1/interacciones", &one).await;
    assert!(token_of(&first).is_some());
    let repeated = app.post("/api/v1/interacciones", &one).await;
    assert_eq!(repeated.status(), 201);
    assert_eq!(token_of(&repeated), None);
    let repeated_body: Value = repeated.json().await.unwrap();
    assert!(
        repeated_body.get("consistency").is_none(),
        "a command that appended nothing has no token: {repeated_body}"
    );

    let batch = json!([
        click(campana, Uuid::new_v4()),
        click(campana, Uuid::new_v4())
    ]);
    let answered = app.post("/api/v1/interacciones", &batch).await;
    let latest = token_of(&answered).expect("a token on a batch");
    let body: Value = answered.json().await.unwrap();
    let items: Vec<Position> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["consistency"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(items.iter().max(), Some(&latest), "{body}");
    assert_eq!(body["consistency"], latest.to_string());
    for (item, position) in body["results"].as_array().unwrap().iter().zip(&items) {
        assert_eq!(
            stream_at(&app, *position).await,
            format!("Interaccion-{}", item["id"].as_str().unwrap())
        );
    }
}
