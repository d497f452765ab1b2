use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosInteraccion;

/// Commands of the Interaccion aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteraccionCommand {
    RegistrarInteraccion { id: Uuid, datos: DatosInteraccion },
    DescartarInteraccion { motivo: String },
}
