use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosInteraccion;

/// Commands of the Interaccion aggregate.
#[allow(
    clippy::large_enum_variant,
    reason = "built once and moved straight into the aggregate; boxing `datos` would change the API for nothing measurable"
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteraccionCommand {
    RegistrarInteraccion { id: Uuid, datos: DatosInteraccion },
    DescartarInteraccion { motivo: String },
}
