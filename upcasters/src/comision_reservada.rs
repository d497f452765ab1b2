//! `ComisionReservada`: 1.0 → 2.0.
//!
//! 1.0: `id_correlacion` (the purchase interaction: the conversion), `id_journey`,
//! `id_comision`, `id_campania`, `monto` {valor as a float, moneda}, `configuracion`
//! {tipo, porcentaje} (how the amount had been computed), an ISO `timestamp` (the
//! conversion's time), `fraud_ok` and `score_fraude` (the check made before reserving).
//!
//! 2.0 is today's `ComisionEvent::ComisionReservada { id, datos }` with money in minor
//! units. Mapping and defaults:
//! - `conversion_id` from `id_correlacion`, `atribucion_id` derived from it as today;
//! - `partner_id`: 1.0 did not record the partner; such commissions carry the nil UUID,
//!   which no real partner has, so views show them as "partner unknown";
//! - `dias_retencion`: 30, the hold period of that era;
//! - `configuracion`, `fraud_ok` and `score_fraude` are not carried: a reservation was only
//!   ever recorded after the check passed, and the amount is what counts.

use cqrs_es::persist::SerializedEvent;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::legacy::{currency, iso_instant, minor_units, money, object, text, uuid_or_derived};

/// The hold period of commissions reserved before 2.0.
pub const LEGACY_HOLD_DAYS: u32 = 30;

pub fn v1_0_to_v2_0(event: &SerializedEvent, old: &Map<String, Value>) -> Option<Value> {
    let conversion_id = Uuid::parse_str(&text(old, "id_correlacion")?).ok()?;
    let id = text(old, "id_comision").unwrap_or_else(|| event.aggregate_id.clone());
    let id = Uuid::parse_str(&id).ok()?;
    let monto = object(old, "monto")?;
    let amount = minor_units(monto.get("valor")?)?;
    let code = currency(&text(monto, "moneda")?)?;
    let journey_id = text(old, "id_journey")
        .map(|journey| uuid_or_derived(&journey))
        .unwrap_or(conversion_id);
    Some(json!({
        "id": id,
        "datos": {
            "conversion_id": conversion_id,
            "atribucion_id": alpes_domain::ids::atribucion_id(&conversion_id),
            "campana_id": Uuid::parse_str(&text(old, "id_campania")?).ok()?,
            "partner_id": Uuid::nil(),
            "journey_id": journey_id,
            "monto": money(amount, &code),
            "fecha_conversion": iso_instant(&text(old, "timestamp")?)?,
            "dias_retencion": LEGACY_HOLD_DAYS,
        }
    }))
}
