//! The contract suite on EventStoreDB, when `EVENTSTORE_URL` names a server (compose.yaml
//! starts one); otherwise every test says loudly that it is skipped. Checkpoints and leases
//! live in a fresh SQLite file, as they would in the consumers' SQL database.

#[macro_use]
mod contract;

use std::io::Write;

use alpes_event_store::{EventStoreBackend, StoreOptions};
use futures::future::BoxFuture;

use contract::TestStore;

contract_suite!(fresh_esdb);

fn fresh_esdb(options: StoreOptions) -> BoxFuture<'static, Option<TestStore>> {
    Box::pin(async move {
        let Ok(url) = std::env::var("EVENTSTORE_URL") else {
            let _ = std::io::stderr().write_all(
                b"\n*** SKIP EventStoreDB contract test: EVENTSTORE_URL is not set. Run \
                  `docker compose up eventstore` and set EVENTSTORE_URL=esdb://localhost:2113?tls=false ***\n",
            );
            return None;
        };
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
