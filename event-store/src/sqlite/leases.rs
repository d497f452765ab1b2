//! Leases on a single node: the process itself is the only possible holder.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::{Lease, LeaseProvider, StoreError};

/// One lock per (store, consumer) for the whole process, so that two runners — even over
/// two handles on the same file — never run the same consumer at once.
static LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// Grants a consumer's lease to one runner of this process at a time.
pub struct ProcessLeaseProvider {
    scope: String,
}

impl ProcessLeaseProvider {
    /// Leases of the store identified by `scope` (e.g. the canonical path of its file).
    pub fn new(scope: impl Into<String>) -> Self {
        ProcessLeaseProvider {
            scope: scope.into(),
        }
    }

    fn lock_of(&self, consumer: &str) -> Arc<tokio::sync::Mutex<()>> {
        let key = format!("{}\u{0}{consumer}", self.scope);
        // A poisoned map still holds valid locks: a panic cannot leave it half-updated.
        let mut locks = LOCKS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(key).or_default().clone()
    }
}

#[async_trait::async_trait]
impl LeaseProvider for ProcessLeaseProvider {
    async fn acquire(&self, consumer: &str) -> Result<Box<dyn Lease>, StoreError> {
        let guard = self.lock_of(consumer).lock_owned().await;
        Ok(Box::new(ProcessLease { _guard: guard }))
    }
}

/// Held until dropped; a process cannot lose its own lock.
struct ProcessLease {
    _guard: OwnedMutexGuard<()>,
}

#[async_trait::async_trait]
impl Lease for ProcessLease {
    async fn is_held(&mut self) -> bool {
        true
    }
}
