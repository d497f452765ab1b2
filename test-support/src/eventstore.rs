//! The EventStoreDB server of the tests, when there is one: none runs on our machines, so
//! its tests run only where `EVENTSTORE_URL` names a server (compose.yaml starts one).

use std::io::Write;

/// The variable naming the server, e.g. `esdb://localhost:2113?tls=false`.
pub const URL_VARIABLE: &str = "EVENTSTORE_URL";

/// The server's URL, or `None` after saying loudly that `test` is skipped.
pub fn url_or_skip(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var(URL_VARIABLE) {
        return Some(url);
    }
    // Straight to stderr: the test harness captures `eprintln!` of passing tests.
    let line = format!(
        "\n*** SKIP {test}: {URL_VARIABLE} is not set, no EventStoreDB to test against. \
         Run `docker compose up eventstore` and set {URL_VARIABLE}=esdb://localhost:2113?tls=false ***\n"
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}
