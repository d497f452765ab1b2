use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosInteraccion;

/// Commands of the Interaccion aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteraccionCommand {
    /// Register an interaction; a repeat of the same id is already done.
    RegistrarInteraccion {
        /// The interaction's id, the caller's idempotency key.
        id: Uuid,
        /// What happened.
        datos: DatosInteraccion,
    },
    /// Discard a registered interaction (fraud compensation).
    DescartarInteraccion {
        /// Why; not blank.
        motivo: String,
    },
}
