use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosInteraccion;

/// Commands of the Interaccion aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteraccionCommand {
    RegistrarInteraccion { id: Uuid, datos: DatosInteraccion },
    DescartarInteraccion { motivo: String },
}
