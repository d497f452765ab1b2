//! Settings every backend is opened with.

use crate::upcasting::Upcasters;

/// How a backend is opened.
#[derive(Clone)]
pub struct StoreOptions {
    /// Upcasters applied to every event read (aggregate loads and the global log).
    pub upcasters: Upcasters,
    /// Save a snapshot of an aggregate every N events (`None`: never).
    pub snapshot_every: Option<usize>,
    /// Maximum connections of an SQL pool.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            upcasters: Default::default(),
            snapshot_every: None,
            max_connections: 16,
        }
    }
}
