//! Placeholder until the Comision rules land.

/// Why a Comision command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComisionError {
    #[error("no existe")]
    NoExiste,
}
