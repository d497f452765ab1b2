//! Request bodies that many tests send.

use serde_json::{json, Value};
use uuid::Uuid;

/// A new campaign running through 2025 with a 10,000.00 EUR budget and a 10 % commission on
/// purchases, for `POST /api/v1/campanas`.
pub fn campana_json() -> Value {
    json!({
        "marca": {"id": Uuid::new_v4(), "nombre": "Moda Sol"},
        "nombre": "Verano",
        "descripcion": "Colección de verano",
        "fecha_inicio": "2025-01-01",
        "fecha_fin": "2025-12-31",
        "presupuesto": {"amount": 1_000_000, "currency": "EUR"},
        "reglas_comision": {"compra": {"calculo": {"Porcentaje": {"bps": 1000}}}}
    })
}
