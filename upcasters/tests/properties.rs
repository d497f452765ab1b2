//! Upcasting is deterministic, and a no-op on events already at their newest version.

use alpes_domain::interaccion::{ContextoInteraccion, DatosInteraccion, InteraccionEvent};
use alpes_domain::{Money, TipoInteraccion};
use alpes_upcasters::upcast_fully;
use chrono::DateTime;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

fn stored(
    event_type: &str,
    version: &str,
    aggregate_id: Uuid,
    payload: serde_json::Value,
) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: aggregate_id.to_string(),
        sequence: 1,
        aggregate_type: "Interaccion".to_string(),
        event_type: event_type.to_string(),
        event_version: version.to_string(),
        payload,
        metadata: json!({}),
    }
}

fn tipo() -> impl Strategy<Value = TipoInteraccion> {
    prop::sample::select(TipoInteraccion::ALL.to_vec())
}

prop_compose! {
    fn datos_2_0()(
        tipo in tipo(),
        campana in any::<u128>(),
        partner in proptest::option::of(any::<u128>()),
        journey in any::<u128>(),
        millis in 0i64..4_000_000_000_000,
        amount in proptest::option::of(0i64..10_000_000),
        pedido in proptest::option::of("[A-Z0-9-]{1,12}"),
    ) -> DatosInteraccion {
        DatosInteraccion {
            tipo,
            campana_id: Uuid::from_u128(campana),
            partner_id: partner.map(Uuid::from_u128),
            journey_id: Uuid::from_u128(journey),
            occurred_at: DateTime::from_timestamp_millis(millis).unwrap(),
            valor: amount.map(|amount| Money::new(amount, "EUR".parse().unwrap())),
            pedido_id: pedido,
            contexto: ContextoInteraccion::default(),
        }
    }
}

prop_compose! {
    fn payload_1_0()(
        tipo in prop::sample::select(vec!["vista", "CLICK", "Compra", "lead", "Registro", "like"]),
        usuario in "[a-z0-9-]{1,16}",
        seconds in proptest::option::of(0i64..4_000_000_000),
        valor in proptest::option::of((0u32..100_000, 0u32..100)),
        ip in proptest::option::of((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())),
    ) -> serde_json::Value {
        let mut datos = json!({ "usuario": usuario, "fuente": "web" });
        if let Some(seconds) = seconds {
            datos["timestamp"] = json!(seconds);
        }
        if let Some((units, cents)) = valor {
            datos["valor"] = serde_json::from_str(&format!("{units}.{cents:02}")).unwrap();
            datos["moneda"] = json!("EUR");
        }
        if let Some((a, b, c, d)) = ip {
            datos["ip"] = json!(format!("{a}.{b}.{c}.{d}"));
        }
        json!({ "InteraccionRegistrada": {
            "id_campana": "0b7e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
            "tipo_evento": tipo,
            "datos": datos,
            "fecha_evento": "2024-10-27T02:30:00",
        }})
    }
}

proptest! {
    #[test]
    fn upcasting_the_newest_version_changes_nothing(datos in datos_2_0(), id in any::<u128>()) {
        let id = Uuid::from_u128(id);
        let event = InteraccionEvent::InteraccionRegistrada { id, datos };
        let stored = stored(
            &event.event_type(),
            &event.event_version(),
            id,
            serde_json::to_value(&event).unwrap(),
        );
        prop_assert_eq!(upcast_fully(stored.clone()), stored);
    }

    #[test]
    fn upcasting_old_events_is_deterministic_and_reaches_2_0(payload in payload_1_0(), id in any::<u128>()) {
        let event = stored("InteraccionRegistrada", "1.0", Uuid::from_u128(id), payload);
        let once = upcast_fully(event.clone());
        let twice = upcast_fully(event);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(once.event_version.as_str(), "2.0");
        let decoded: InteraccionEvent = serde_json::from_value(once.payload.clone()).unwrap();
        prop_assert_eq!(decoded.event_version(), "2.0");
        // Upcasting the result again is a no-op.
        prop_assert_eq!(upcast_fully(once.clone()), once);
    }
}

prop_compose! {
    fn payload_1_1()(
        tipo in prop::sample::select(vec!["VIEW", "CLICK", "ENGAGEMENT", "LEAD", "SIGNUP", "PURCHASE"]),
        millis in 0i64..4_000_000_000_000,
        ip in (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
        correlacion in proptest::option::of("[a-z0-9-]{1,16}"),
        anonimo in proptest::option::of("[a-z0-9-]{1,16}"),
        campania in prop::sample::select(vec!["0b7e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "verano-2024"]),
    ) -> (serde_json::Value, String) {
        let ip = format!("{}.{}.{}.{}", ip.0, ip.1, ip.2, ip.3);
        let payload = json!({ "InteraccionRegistrada": {
            "id_interaccion": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
            "tipo": tipo,
            "marca_temporal": millis,
            "identidad_usuario": { "id_anonimo": anonimo, "direccion_ip": ip },
            "parametros_tracking": { "campania": campania },
            "estado": "ACTIVA",
            "id_correlacion": correlacion,
        }});
        (payload, ip)
    }
}

proptest! {
    /// Whatever happens to an old event, its raw IP never comes out: either the event is
    /// upcast (and the IP hashed) or it is left exactly as stored, at its old version.
    #[test]
    fn raw_ips_never_reach_the_newest_version((payload, ip) in payload_1_1(), id in any::<u128>()) {
        let event = stored("InteraccionRegistrada", "1.1", Uuid::from_u128(id), payload);
        let upcast = upcast_fully(event.clone());
        if upcast.event_version == "2.0" {
            let quoted_ip = format!("\"{ip}\"");
            let leaked = upcast.payload.to_string().contains(&quoted_ip);
            prop_assert!(!leaked, "raw IP {} carried forward", ip);
            let decoded: Result<InteraccionEvent, _> = serde_json::from_value(upcast.payload.clone());
            prop_assert!(decoded.is_ok());
        } else {
            prop_assert_eq!(upcast, event);
        }
    }

    #[test]
    fn old_campaigns_and_commissions_upcast_deterministically(
        units in 0u64..10_000_000,
        cents in 0u32..100,
        id in any::<u128>(),
    ) {
        let campana = stored("CampanaCreada", "1.0", Uuid::from_u128(id), json!({ "CampanaCreada": {
            "id": Uuid::from_u128(id),
            "id_marca": 42,
            "nombre_marca": "Marca",
            "nombre": "Campaña",
            "descripcion": "Descripción",
            "fecha_inicio": "2024-01-01",
            "fecha_fin": "2024-12-31",
            "presupuesto": serde_json::from_str::<serde_json::Value>(&format!("{units}.{cents:02}")).unwrap(),
        }}));
        let comision = stored("ComisionReservada", "1.0", Uuid::from_u128(id), json!({ "ComisionReservada": {
            "id_correlacion": Uuid::from_u128(id.wrapping_add(1)),
            "id_comision": Uuid::from_u128(id),
            "id_campania": Uuid::from_u128(id.wrapping_add(2)),
            "monto": { "valor": format!("{units}.{cents:02}"), "moneda": "eur" },
            "timestamp": "2024-03-01T09:15:00Z",
        }}));
        for event in [campana, comision] {
            let once = upcast_fully(event.clone());
            prop_assert_eq!(&once, &upcast_fully(event));
            prop_assert_eq!(once.event_version.as_str(), "2.0");
            prop_assert_eq!(upcast_fully(once.clone()), once.clone());
            let expected = format!("\"amount\":{}", units * 100 + u64::from(cents));
            let exact = once.payload.to_string().contains(&expected);
            prop_assert!(exact, "amount not {}", expected);
        }
    }
}
