//! The contract suite on EventStoreDB, when `EVENTSTORE_URL` names a server (compose.yaml
//! starts one); otherwise every test says loudly that it is skipped. Checkpoints and leases
//! live in a fresh SQLite file, as they would in the consumers' SQL database.

#[macro_use]
mod contract;

use alpes_event_store::{EventStoreBackend, StoreOptions};
use alpes_test_support::eventstore::url_or_skip;
use futures::future::BoxFuture;

use contract::TestStore;

contract_suite!(fresh_esdb);

fn fresh_esdb(options: StoreOptions) -> BoxFuture<'static, Option<TestStore>> {
    Box::pin(async move {
        let url = url_or_skip("EventStoreDB contract test")?;
        let folder = tempfile::tempdir().unwrap();
        let consumers = format!("sqlite://{}", folder.path().join("consumers.db").display());
        let options = StoreOptions {
            consumer_database: Some(consumers),
            ..options
        };
        let backend = EventStoreBackend::open(&url, options).await.unwrap();
        Some(TestStore {
            url,
            backend,
            // EventStoreDB has no client transactions to hold open; its $all order is
            // commit order by construction.
            held_append: None,
            guard: Box::new(folder),
        })
    })
}
