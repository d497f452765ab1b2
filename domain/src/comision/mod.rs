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
    /// The conversion (interaction) the commission is for.
    pub conversion_id: Uuid,
    /// The attribution that credited the partner.
    pub atribucion_id: Uuid,
    /// The campaign whose budget pays it.
    pub campana_id: Uuid,
    /// The partner that earns it.
    pub partner_id: Uuid,
    /// The visitor's journey that led to the conversion.
    pub journey_id: Uuid,
    /// What the partner earns, as the campaign reserved it; not negative.
    pub monto: Money,
    /// When the conversion happened; the hold period counts from it.
    pub fecha_conversion: DateTime<Utc>,
    /// Days after the conversion before the commission can be approved.
    pub dias_retencion: u32,
}
