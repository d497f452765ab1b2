//! Placeholder until the Interaccion rules land.

/// Why a Interaccion command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteraccionError {
    #[error("no existe")]
    NoExiste,
}
