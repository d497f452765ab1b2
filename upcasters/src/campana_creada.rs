//! `CampanaCreada`: 1.0 → 2.0.
//!
//! 1.0 (the influencer-campaign era): `id`, `id_marca` (a UUID, or a legacy brand number
//! from which a stable UUID is derived), `nombre_marca`, `nombre`,
//! `descripcion`, `tipo` as lower-case text, `fecha_inicio`/`fecha_fin` (dates), `presupuesto`
//! as a float in the brand's currency (`moneda`, EUR when absent: every brand of that era
//! was billed in euros), and a list of `influencers` {nombre, plataforma, seguidores,
//! categoria}; no commission rule and no attribution settings.
//!
//! 2.0 is today's `CampanaEvent::CampanaCreada { id, datos }`. Defaults for old campaigns:
//! - budget: the float read exactly from its decimal text into minor units;
//! - commission rule: purchases pay 10% (1,000 bps) with no minimum or maximum, as the
//!   influencer contracts of that era did; leads and sign-ups pay nothing (no rule);
//! - attribution: last click, 30-day window, 30-day hold period, fraud threshold 50;
//! - channels: the influencers' platforms; audience interests: their categories; the
//!   influencers themselves (names, follower counts) are partner data, not campaign data,
//!   and are not carried forward.

use std::collections::BTreeSet;

use cqrs_es::persist::SerializedEvent;
use serde_json::{json, Map, Value};

use chrono::NaiveDate;
use uuid::Uuid;

use crate::legacy::{currency, minor_units, money, text, uuid_or_derived};

/// What old campaigns pay per purchase, in basis points.
pub const DEFAULT_PURCHASE_BPS: u32 = 1_000;

fn tipo_2_0(tipo: &str) -> Option<&'static str> {
    Some(match tipo.trim().to_lowercase().as_str() {
        "influencer" | "influencers" => "Influencer",
        "afiliados" | "afiliacion" | "afiliación" => "Afiliados",
        "mixta" => "Mixta",
        "b2b" => "B2b",
        "display" => "Display",
        "email" => "Email",
        _ => return None,
    })
}

pub fn v1_0_to_v2_0(event: &SerializedEvent, old: &Map<String, Value>) -> Option<Value> {
    let influencers: Vec<&Map<String, Value>> = old
        .get("influencers")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let tipo = match text(old, "tipo") {
        Some(tipo) => tipo_2_0(&tipo)?,
        None if !influencers.is_empty() => "Influencer",
        None => "Afiliados",
    };
    let moneda = match text(old, "moneda") {
        Some(code) => currency(&code)?,
        None => "EUR".to_string(),
    };
    let presupuesto = minor_units(old.get("presupuesto")?)?;
    let id =
        Uuid::parse_str(&text(old, "id").unwrap_or_else(|| event.aggregate_id.clone())).ok()?;
    let fecha = |field: &str| -> Option<String> {
        let date = NaiveDate::parse_from_str(&text(old, field)?, "%Y-%m-%d").ok()?;
        Some(date.to_string())
    };
    let distinct = |field: &str| -> Vec<String> {
        let values: BTreeSet<String> = influencers
            .iter()
            .filter_map(|influencer| text(influencer, field))
            .map(|value| value.to_lowercase())
            .collect();
        values.into_iter().collect()
    };
    Some(json!({
        "id": id,
        "datos": {
            "marca": {
                "id": uuid_or_derived(&text(old, "id_marca")?),
                "nombre": text(old, "nombre_marca")?,
            },
            "nombre": text(old, "nombre")?,
            "descripcion": text(old, "descripcion")?,
            "tipo": tipo,
            "fecha_inicio": fecha("fecha_inicio")?,
            "fecha_fin": fecha("fecha_fin")?,
            "segmento": {
                "edad_min": null,
                "edad_max": null,
                "generos": [],
                "ubicaciones": [],
                "intereses": distinct("categoria"),
            },
            "canales": distinct("plataforma"),
            "frecuencia_maxima": null,
            "presupuesto": money(presupuesto, &moneda),
            "reglas_comision": {
                "compra": {
                    "calculo": { "Porcentaje": { "bps": DEFAULT_PURCHASE_BPS } },
                    "minimo": null,
                    "maximo": null,
                    "por_partner": {},
                },
                "lead": null,
                "registro": null,
            },
            "atribucion": {
                "modelo": "UltimoClick",
                "ventana_dias": 30,
                "dias_retencion": 30,
                "umbral_fraude": 50,
            },
        }
    }))
}
