//! Comision: one aggregate per (conversion, partner), from reservation to payment.

mod aggregate;
mod commands;
mod error;
mod events;

pub use aggregate::{Comision, EstadoComision};
pub use commands::ComisionCommand;
pub use error::ComisionError;
pub use events::ComisionEvent;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;

/// The facts a commission is reserved with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatosComision {
    pub conversion_id: Uuid,
    pub atribucion_id: Uuid,
    pub campana_id: Uuid,
    pub partner_id: Uuid,
    pub journey_id: Uuid,
    pub monto: Money,
    pub fecha_conversion: DateTime<Utc>,
    /// Days after the conversion before the commission can be approved.
    pub dias_retencion: u32,
}
