//! Fraud rules over a conversion's journey.

use serde::{Deserialize, Serialize};

/// One fraud rule that fired: its name, its score (0..=100) and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReglaDisparada {
    pub regla: String,
    pub puntuacion: u32,
    pub evidencia: String,
}
