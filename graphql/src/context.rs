//! What every resolver reads through: the views, the log, and a per-request count of the
//! query API's calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alpes_event_store::EventStoreBackend;
use alpes_read::Views;
use async_graphql::dataloader::DataLoader;

use crate::loaders::ViewsLoader;
use crate::GraphqlSettings;

/// The schema-wide data: the views and the event store whose log feeds them.
#[derive(Clone)]
pub struct ReadContext {
    pub(crate) views: Views,
    pub(crate) backend: EventStoreBackend,
    pub(crate) settings: GraphqlSettings,
}

impl ReadContext {
    /// Reads `views`, projected from `backend`'s log.
    pub fn new(views: Views, backend: EventStoreBackend, settings: GraphqlSettings) -> Self {
        ReadContext {
            views,
            backend,
            settings,
        }
    }

    /// The settings the API runs with.
    pub fn settings(&self) -> GraphqlSettings {
        self.settings
    }
}

/// One request's (or one WebSocket connection's) access to the views: every call of the
/// query API goes through [`Db::views`], which counts it, and nested objects go through
/// one DataLoader (batched, not cached across ticks).
#[derive(Clone)]
pub(crate) struct Db {
    views: Views,
    calls: Arc<AtomicU64>,
    pub(crate) loader: Arc<DataLoader<ViewsLoader>>,
}

impl Db {
    pub(crate) fn new(views: &Views) -> Db {
        let calls = Arc::new(AtomicU64::new(0));
        let loader = ViewsLoader {
            views: views.clone(),
            calls: calls.clone(),
        };
        Db {
            views: views.clone(),
            calls,
            loader: Arc::new(DataLoader::new(loader, tokio::spawn)),
        }
    }

    /// The views, counting one call of the query API.
    pub(crate) fn views(&self) -> &Views {
        self.calls.fetch_add(1, Ordering::Relaxed);
        &self.views
    }

    /// Calls of the query API made so far.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}
