//! Golden tests: every old payload kept in `fixtures/` upcasts to the committed expected
//! 2.0 payload in `fixtures/expected/`, which today's domain types read.
//! Regenerate the expected files after a deliberate change with `UPDATE_GOLDEN=1`.

use std::path::PathBuf;

use alpes_domain::atribucion::AtribucionEvent;
use alpes_domain::campana::CampanaEvent;
use alpes_domain::comision::ComisionEvent;
use alpes_domain::interaccion::InteraccionEvent;
use alpes_domain::{Money, TipoInteraccion};
use alpes_upcasters::{hash_ip, upcast_fully};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use serde_json::Value;
use uuid::Uuid;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn load(name: &str) -> SerializedEvent {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap();
    let raw: Value = serde_json::from_str(&text).unwrap();
    SerializedEvent {
        aggregate_id: raw["aggregate_id"].as_str().unwrap().to_string(),
        sequence: raw["sequence"].as_u64().unwrap() as usize,
        aggregate_type: raw["aggregate_type"].as_str().unwrap().to_string(),
        event_type: raw["event_type"].as_str().unwrap().to_string(),
        event_version: raw["event_version"].as_str().unwrap().to_string(),
        payload: raw["payload"].clone(),
        metadata: raw["metadata"].clone(),
    }
}

/// Upcasts a fixture and checks it against its golden file.
fn golden(name: &str) -> SerializedEvent {
    let upcast = upcast_fully(load(name));
    let expected_path = fixture_path(&format!("expected/{name}"));
    let actual = serde_json::to_string_pretty(&upcast.payload).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|_| panic!("missing golden file {}", expected_path.display()));
    assert_eq!(
        actual, expected,
        "{name} no longer upcasts to its golden payload"
    );
    upcast
}

fn interaccion(event: &SerializedEvent) -> alpes_domain::interaccion::DatosInteraccion {
    let decoded: InteraccionEvent = serde_json::from_value(event.payload.clone()).unwrap();
    assert_eq!(decoded.event_version(), event.event_version);
    match decoded {
        InteraccionEvent::InteraccionRegistrada { datos, .. } => datos,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn interaccion_registrada_1_0_purchase_becomes_2_0() {
    let event = golden("interaccion_registrada_1_0_compra.json");
    assert_eq!(event.event_version, "2.0");
    let datos = interaccion(&event);
    assert_eq!(datos.tipo, TipoInteraccion::Compra);
    assert_eq!(datos.valor, Some(Money::new(5_990, "EUR".parse().unwrap())));
    assert_eq!(datos.pedido_id.as_deref(), Some("PED-2024-0001"));
    // datos.timestamp (epoch seconds) wins over the naive local fecha_evento.
    assert_eq!(datos.occurred_at.to_rfc3339(), "2024-03-01T09:15:00+00:00");
    assert_eq!(
        datos.contexto.usuario.ip_hash.as_deref(),
        Some(hash_ip("203.0.113.7").as_str())
    );
    let text = event.payload.to_string();
    assert!(
        !text.contains("203.0.113.7"),
        "a raw IP was carried forward: {text}"
    );
}

#[test]
fn interaccion_registrada_1_0_partner_click_becomes_2_0() {
    let event = golden("interaccion_registrada_1_0_click.json");
    let datos = interaccion(&event);
    assert_eq!(datos.tipo, TipoInteraccion::Click);
    assert_eq!(
        datos.partner_id.map(|id| id.to_string()).as_deref(),
        Some("7d9e1f2a-3b4c-4d5e-9f6a-7b8c9d0e1f2a")
    );
    let compra = interaccion(&upcast_fully(load(
        "interaccion_registrada_1_0_compra.json",
    )));
    assert_eq!(
        datos.journey_id, compra.journey_id,
        "same usuario, same journey"
    );
    assert!(datos.occurred_at < compra.occurred_at);
}

#[test]
fn interaccion_registrada_1_0_without_timestamp_reads_madrid_local_time() {
    let event = golden("interaccion_registrada_1_0_vista.json");
    let datos = interaccion(&event);
    assert_eq!(datos.tipo, TipoInteraccion::Vista);
    // 10:00 in Madrid in July is 08:00 UTC.
    assert_eq!(datos.occurred_at.to_rfc3339(), "2024-07-15T08:00:00+00:00");
    assert_eq!(datos.partner_id, None);
}

#[test]
fn the_journey_of_a_1_0_event_comes_from_datos_usuario() {
    let compra = interaccion(&upcast_fully(load(
        "interaccion_registrada_1_0_compra.json",
    )));
    let vista = interaccion(&upcast_fully(load("interaccion_registrada_1_0_vista.json")));
    assert_eq!(
        compra.journey_id, vista.journey_id,
        "same usuario, same journey"
    );
}

#[test]
fn interaccion_registrada_1_1_becomes_2_0() {
    let event = golden("interaccion_registrada_1_1.json");
    assert_eq!(event.event_version, "2.0");
    let datos = interaccion(&event);
    assert_eq!(datos.tipo, TipoInteraccion::Click);
    assert_eq!(
        datos.journey_id.to_string(),
        "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8"
    );
    assert_eq!(datos.occurred_at.timestamp_millis(), 1_717_236_000_123);
    assert_eq!(datos.contexto.utm.source.as_deref(), Some("tiktok"));
    assert_eq!(
        datos.contexto.elemento_objetivo.as_deref(),
        Some("btn-comprar")
    );
    assert!(!event.payload.to_string().contains("198.51.100.23"));
}

#[test]
fn campana_creada_1_0_becomes_2_0_with_documented_defaults() {
    let event = golden("campana_creada_1_0.json");
    assert_eq!(event.event_version, "2.0");
    let decoded: CampanaEvent = serde_json::from_value(event.payload.clone()).unwrap();
    let CampanaEvent::CampanaCreada { datos, .. } = decoded else {
        panic!("not a CampanaCreada");
    };
    assert_eq!(
        datos.presupuesto,
        Money::new(1_250_075, "EUR".parse().unwrap())
    );
    assert_eq!(
        datos.canales,
        vec!["instagram".to_string(), "tiktok".to_string()]
    );
    assert!(datos.reglas_comision.compra.is_some());
    assert_eq!(datos.atribucion.umbral_fraude, 50);
}

#[test]
fn comision_reservada_1_0_becomes_2_0_in_minor_units() {
    let event = golden("comision_reservada_1_0.json");
    assert_eq!(event.event_version, "2.0");
    let decoded: ComisionEvent = serde_json::from_value(event.payload.clone()).unwrap();
    let ComisionEvent::ComisionReservada { datos, .. } = decoded else {
        panic!("not a ComisionReservada");
    };
    assert_eq!(datos.monto, Money::new(599, "EUR".parse().unwrap()));
    assert_eq!(datos.partner_id, uuid::Uuid::nil());
    assert_eq!(
        datos.atribucion_id,
        alpes_domain::ids::atribucion_id(&datos.conversion_id)
    );
}

/// An Atribucion fixture upcast and read by today's domain types, with the interactions
/// 1.1 names.
fn atribucion(name: &str) -> (AtribucionEvent, Vec<Uuid>) {
    let event = golden(name);
    assert_eq!(event.event_version, "1.1");
    let decoded: AtribucionEvent = serde_json::from_value(event.payload.clone()).unwrap();
    assert_eq!(decoded.event_version(), event.event_version);
    let interacciones = match &decoded {
        AtribucionEvent::ConversionAtribuida { interacciones, .. }
        | AtribucionEvent::FraudeDetectado { interacciones, .. }
        | AtribucionEvent::AtribucionRevertida { interacciones, .. } => interacciones.clone(),
        other => panic!("unexpected {other:?}"),
    };
    (decoded, interacciones)
}

#[test]
fn atribucion_events_1_0_become_1_1_naming_the_conversion_as_their_journey() {
    let conversion: Uuid = "5f0c6a2e-8d1b-4c3a-9e7f-1a2b3c4d5e6f".parse().unwrap();
    for name in [
        "conversion_atribuida_1_0.json",
        "fraude_detectado_1_0.json",
        "atribucion_revertida_1_0.json",
    ] {
        let (decoded, interacciones) = atribucion(name);
        assert_eq!(interacciones, [conversion], "{name}: {decoded:?}");
    }
    let (atribuida, _) = atribucion("conversion_atribuida_1_0.json");
    let AtribucionEvent::ConversionAtribuida { creditos, .. } = atribuida else {
        unreachable!()
    };
    assert_eq!(
        creditos[0].monto,
        Money::new(12_990, "EUR".parse().unwrap())
    );
}

#[test]
fn an_unknown_version_is_left_as_stored_so_readers_fail_loudly() {
    let mut event = load("interaccion_registrada_1_0_compra.json");
    event.event_version = "0.9".to_string();
    assert_eq!(upcast_fully(event.clone()), event);
}

#[test]
fn a_chain_that_fails_half_way_leaves_the_event_as_stored() {
    // 1.0 → 1.1 succeeds with any campaign text, 1.1 → 2.0 needs a UUID: the event must not
    // stop at 1.1 (which would carry the raw IP in clear).
    let mut event = load("interaccion_registrada_1_0_compra.json");
    event.payload["InteraccionRegistrada"]["id_campana"] = "123".into();
    assert_eq!(upcast_fully(event.clone()), event);
}

#[test]
fn an_unconvertible_old_payload_is_left_as_stored() {
    let mut event = load("atribucion_revertida_1_0.json");
    event.payload["AtribucionRevertida"]["conversion"]["interaccion_id"] = "C-17".into();
    assert_eq!(upcast_fully(event.clone()), event);
    let mut event = load("interaccion_registrada_1_0_compra.json");
    event.payload["InteraccionRegistrada"]["tipo_evento"] = "teletransporte".into();
    assert_eq!(upcast_fully(event.clone()), event);
    let mut event = load("campana_creada_1_0.json");
    event.payload["CampanaCreada"]["presupuesto"] = "mucho".into();
    assert_eq!(upcast_fully(event.clone()), event);
    for (field, bad) in [
        ("presupuesto", serde_json::json!("92233720368547758.076")),
        ("fecha_inicio", serde_json::json!("1 de marzo")),
        ("id", serde_json::json!("campana-7")),
    ] {
        let mut event = load("campana_creada_1_0.json");
        event.payload["CampanaCreada"][field] = bad;
        assert_eq!(upcast_fully(event.clone()), event, "{field}");
    }
}
