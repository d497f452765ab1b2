//! The catalogue of every event: one sample of each, used to document the events
//! (`docs/events.md`, generated and checked by a test) and to validate event-type names
//! given by users (the audit export's `--type`).
//!
//! Adding an event variant fails to compile in the `variant_index` functions below until a
//! sample is added, so the catalogue cannot silently miss one.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::atribucion::{
    Atribucion, AtribucionEvent, Conversion, CreditoPartner, HallazgoFraude, MotivoNoAtribucion,
    MotivoReversion, OrigenFraude,
};
use crate::campana::{
    CalculoComision, Campana, CampanaEvent, ConfiguracionAtribucion, DatosCampana, Marca,
    ReglaComision, ReglasComision, SegmentoAudiencia, TipoCampana,
};
use crate::comision::{Comision, ComisionEvent, DatosComision};
use crate::interaccion::{
    ContextoInteraccion, DatosInteraccion, IdentidadUsuario, Interaccion, InteraccionEvent,
    ParametrosUtm,
};
use crate::money::{Currency, Money};
use crate::rules::fraud::ReglaDisparada;
use crate::tipos::{ModeloAtribucion, TipoConversion, TipoInteraccion};

/// One documented event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSample {
    /// The aggregate that records the event, e.g. `Campana`.
    pub aggregate_type: &'static str,
    /// The event's name, e.g. `CampanaCreada`.
    pub event_type: String,
    /// The event's current schema version, e.g. `2.0`.
    pub event_version: String,
    /// The event as stored (externally tagged, as cqrs-es serializes it).
    pub payload: Value,
}

/// The four aggregate types.
pub const AGGREGATE_TYPES: [&str; 4] = [
    Campana::TYPE,
    Interaccion::TYPE,
    Atribucion::TYPE,
    Comision::TYPE,
];

/// A sample of every event of every aggregate, in declaration order.
pub fn samples() -> Vec<EventSample> {
    let mut all = Vec::new();
    all.extend(campana_events().iter().map(|e| sample(Campana::TYPE, e)));
    all.extend(
        interaccion_events()
            .iter()
            .map(|e| sample(Interaccion::TYPE, e)),
    );
    all.extend(
        atribucion_events()
            .iter()
            .map(|e| sample(Atribucion::TYPE, e)),
    );
    all.extend(comision_events().iter().map(|e| sample(Comision::TYPE, e)));
    all
}

/// Every event type name, in declaration order.
pub fn event_types() -> Vec<String> {
    samples()
        .into_iter()
        .map(|sample| sample.event_type)
        .collect()
}

fn sample<E: DomainEvent>(aggregate_type: &'static str, event: &E) -> EventSample {
    EventSample {
        aggregate_type,
        event_type: event.event_type(),
        event_version: event.event_version(),
        payload: serde_json::to_value(event).unwrap_or(Value::Null),
    }
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .unwrap_or_default()
}

fn regla_compra() -> ReglaComision {
    ReglaComision {
        calculo: CalculoComision::Porcentaje { bps: 1_000 },
        minimo: Some(eur(500)),
        maximo: Some(eur(500_000)),
        por_partner: [(id(7), CalculoComision::Fijo { monto: eur(1_000) })].into(),
    }
}

fn conversion() -> Conversion {
    Conversion {
        interaccion_id: id(20),
        tipo: TipoConversion::Compra,
        campana_id: id(1),
        journey_id: id(30),
        occurred_at: at("2026-03-02T10:00:00Z"),
        valor: eur(5_990),
        pedido_id: Some("PED-1".to_string()),
    }
}

fn campana_events() -> Vec<CampanaEvent> {
    let datos = DatosCampana {
        marca: Marca {
            id: id(2),
            nombre: "Moda Sol".to_string(),
        },
        nombre: "Verano".to_string(),
        descripcion: "Colección de verano".to_string(),
        tipo: TipoCampana::Afiliados,
        fecha_inicio: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default(),
        fecha_fin: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap_or_default(),
        segmento: SegmentoAudiencia {
            edad_min: Some(18),
            edad_max: Some(45),
            generos: vec!["f".to_string()],
            ubicaciones: vec!["ES".to_string()],
            intereses: vec!["moda".to_string()],
        },
        canales: vec!["instagram".to_string()],
        frecuencia_maxima: Some(3),
        presupuesto: eur(1_000_000),
        reglas_comision: ReglasComision {
            compra: Some(regla_compra()),
            lead: Some(ReglaComision {
                calculo: CalculoComision::Fijo { monto: eur(2_500) },
                minimo: None,
                maximo: None,
                por_partner: Default::default(),
            }),
            registro: None,
        },
        atribucion: ConfiguracionAtribucion::default(),
    };
    let events = vec![
        CampanaEvent::CampanaCreada { id: id(1), datos },
        CampanaEvent::CampanaActivada,
        CampanaEvent::CampanaPausada,
        CampanaEvent::CampanaFinalizada,
        CampanaEvent::CampanaCancelada {
            motivo: "presupuesto retirado".to_string(),
        },
        CampanaEvent::ReglaComisionActualizada {
            tipo_conversion: TipoConversion::Compra,
            regla: regla_compra(),
        },
        CampanaEvent::PresupuestoAmpliado {
            monto: eur(100_000),
            presupuesto: eur(1_100_000),
        },
        CampanaEvent::PresupuestoReservado {
            comision_id: id(40),
            conversion_id: id(20),
            partner_id: id(7),
            tipo_conversion: TipoConversion::Compra,
            monto: eur(599),
            reservado: eur(599),
        },
        CampanaEvent::PresupuestoInsuficiente {
            comision_id: id(41),
            conversion_id: id(21),
            partner_id: id(7),
            monto: eur(599),
            disponible: eur(100),
        },
        CampanaEvent::PresupuestoLiberado {
            comision_id: id(40),
            monto: eur(599),
            reservado: eur(0),
        },
    ];
    check_covered(&events, campana_index, 10);
    events
}

fn campana_index(event: &CampanaEvent) -> usize {
    match event {
        CampanaEvent::CampanaCreada { .. } => 0,
        CampanaEvent::CampanaActivada => 1,
        CampanaEvent::CampanaPausada => 2,
        CampanaEvent::CampanaFinalizada => 3,
        CampanaEvent::CampanaCancelada { .. } => 4,
        CampanaEvent::ReglaComisionActualizada { .. } => 5,
        CampanaEvent::PresupuestoAmpliado { .. } => 6,
        CampanaEvent::PresupuestoReservado { .. } => 7,
        CampanaEvent::PresupuestoInsuficiente { .. } => 8,
        CampanaEvent::PresupuestoLiberado { .. } => 9,
    }
}

fn interaccion_events() -> Vec<InteraccionEvent> {
    let datos = DatosInteraccion {
        tipo: TipoInteraccion::Compra,
        campana_id: id(1),
        partner_id: Some(id(7)),
        journey_id: id(30),
        occurred_at: at("2026-03-02T10:00:00Z"),
        valor: Some(eur(5_990)),
        pedido_id: Some("PED-1".to_string()),
        contexto: ContextoInteraccion {
            usuario: IdentidadUsuario {
                usuario_id: Some("cliente-1".to_string()),
                anonimo_id: Some("anon-1".to_string()),
                ip_hash: Some(
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string(),
                ),
                user_agent: Some("Mozilla/5.0".to_string()),
            },
            utm: ParametrosUtm {
                source: Some("instagram".to_string()),
                medium: Some("social".to_string()),
                campaign: Some("verano".to_string()),
                content: Some("reel-1".to_string()),
                term: Some("sandalias".to_string()),
            },
            pagina_url: Some("https://tienda.example/checkout".to_string()),
            referente_url: Some("https://instagram.com/".to_string()),
            elemento_objetivo: Some("btn-pagar".to_string()),
            dispositivo: Some("mobile".to_string()),
        },
    };
    let events = vec![
        InteraccionEvent::InteraccionRegistrada { id: id(20), datos },
        InteraccionEvent::InteraccionDescartada {
            motivo: "fraude".to_string(),
        },
    ];
    check_covered(&events, interaccion_index, 2);
    events
}

fn interaccion_index(event: &InteraccionEvent) -> usize {
    match event {
        InteraccionEvent::InteraccionRegistrada { .. } => 0,
        InteraccionEvent::InteraccionDescartada { .. } => 1,
    }
}

fn atribucion_events() -> Vec<AtribucionEvent> {
    let events = vec![
        AtribucionEvent::ConversionAtribuida {
            conversion: conversion(),
            modelo: ModeloAtribucion::UltimoClick,
            creditos: vec![CreditoPartner {
                partner_id: id(7),
                touchpoint_id: id(19),
                monto: eur(5_990),
            }],
            interacciones: vec![id(19), conversion().interaccion_id],
        },
        AtribucionEvent::ConversionNoAtribuida {
            conversion: conversion(),
            motivo: MotivoNoAtribucion::SinTouchpointEnVentana,
        },
        AtribucionEvent::FraudeDetectado {
            conversion: conversion(),
            origen: OrigenFraude::Reglas,
            motivo: "puntuación 100 ≥ umbral 50".to_string(),
            hallazgo: Some(HallazgoFraude {
                reglas: vec![ReglaDisparada {
                    regla: "PedidoYaConvertido".to_string(),
                    puntuacion: 100,
                    evidencia: "el pedido PED-1 ya convirtió".to_string(),
                }],
                puntuacion_total: 100,
                umbral: 50,
            }),
            interacciones: vec![id(19), conversion().interaccion_id],
        },
        AtribucionEvent::AtribucionRevertida {
            conversion: conversion(),
            motivo: MotivoReversion::Fraude,
            interacciones: vec![id(19), conversion().interaccion_id],
        },
    ];
    check_covered(&events, atribucion_index, 4);
    events
}

fn atribucion_index(event: &AtribucionEvent) -> usize {
    match event {
        AtribucionEvent::ConversionAtribuida { .. } => 0,
        AtribucionEvent::ConversionNoAtribuida { .. } => 1,
        AtribucionEvent::FraudeDetectado { .. } => 2,
        AtribucionEvent::AtribucionRevertida { .. } => 3,
    }
}

fn comision_events() -> Vec<ComisionEvent> {
    let events = vec![
        ComisionEvent::ComisionReservada {
            id: id(40),
            datos: DatosComision {
                conversion_id: id(20),
                atribucion_id: id(50),
                campana_id: id(1),
                partner_id: id(7),
                journey_id: id(30),
                monto: eur(599),
                fecha_conversion: at("2026-03-02T10:00:00Z"),
                dias_retencion: 30,
            },
        },
        ComisionEvent::ComisionAprobada {
            aprobada_en: at("2026-04-02T10:00:00Z"),
            lote_id: Some(id(60)),
        },
        ComisionEvent::ComisionPagada {
            referencia_pago: "SEPA-2026-04-001".to_string(),
            lote_id: Some(id(61)),
            pagada_en: at("2026-04-05T10:00:00Z"),
        },
        ComisionEvent::ComisionRevertida {
            campana_id: id(1),
            conversion_id: id(20),
            partner_id: id(7),
            motivo: "fraude".to_string(),
            monto: eur(599),
            clawback: true,
        },
    ];
    check_covered(&events, comision_index, 4);
    events
}

fn comision_index(event: &ComisionEvent) -> usize {
    match event {
        ComisionEvent::ComisionReservada { .. } => 0,
        ComisionEvent::ComisionAprobada { .. } => 1,
        ComisionEvent::ComisionPagada { .. } => 2,
        ComisionEvent::ComisionRevertida { .. } => 3,
    }
}

/// The samples hit every variant exactly once (checked in debug builds and tests).
fn check_covered<E>(events: &[E], index: fn(&E) -> usize, variants: usize) {
    let mut seen: Vec<usize> = events.iter().map(index).collect();
    seen.sort_unstable();
    debug_assert_eq!(
        seen,
        (0..variants).collect::<Vec<_>>(),
        "a variant lacks a sample"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_reads_back_as_its_event() {
        for sample in samples() {
            let ok = match sample.aggregate_type {
                "Campana" => serde_json::from_value::<CampanaEvent>(sample.payload.clone()).is_ok(),
                "Interaccion" => {
                    serde_json::from_value::<InteraccionEvent>(sample.payload.clone()).is_ok()
                }
                "Atribucion" => {
                    serde_json::from_value::<AtribucionEvent>(sample.payload.clone()).is_ok()
                }
                "Comision" => {
                    serde_json::from_value::<ComisionEvent>(sample.payload.clone()).is_ok()
                }
                other => panic!("unknown aggregate {other}"),
            };
            assert!(ok, "{} does not read back", sample.event_type);
        }
        assert_eq!(event_types().len(), 20);
    }
}
