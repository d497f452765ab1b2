//! Settings every backend is opened with.

use crate::upcasting::Upcasters;

/// How a backend is opened. The default carries every upcaster of `alpes-upcasters`.
#[derive(Clone)]
pub struct StoreOptions {
    /// Upcasters applied to every event read (aggregate loads and the global log).
    pub upcasters: Upcasters,
    /// Save a snapshot of an aggregate every N events (`None`: never).
    pub snapshot_every: Option<usize>,
    /// Maximum connections of an SQL pool.
    pub max_connections: u32,
    /// The SQL database (`sqlite://…` or `postgres://…`) where consumers keep checkpoints and
    /// leases when the events live in EventStoreDB (usually the `--views` database).
    pub consumer_database: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            upcasters: std::sync::Arc::new(alpes_upcasters::all()),
            snapshot_every: None,
            max_connections: 16,
            consumer_database: None,
        }
    }
}
