//! Placeholder until the Atribucion rules land.

/// Why a Atribucion command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtribucionError {
    #[error("no existe")]
    NoExiste,
}
