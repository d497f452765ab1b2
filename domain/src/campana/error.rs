//! Placeholder until the Campana rules land.

/// Why a Campana command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampanaError {
    #[error("no existe")]
    NoExiste,
}
