//! The server a benchmark measures: `alpes serve` itself, in this process, on a random
//! port, and the HTTP client that loads it.

use std::time::Duration;

use alpes_event_store::EventStoreBackend;
use anyhow::Context;
use clap::Parser;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{BenchServerArgs, Cli, Command};
use crate::configuration::Settings;
use crate::startup::Application;

/// A running server; stopped (gracefully) by [`BenchServer::stop`].
pub struct BenchServer {
    pub address: String,
    pub backend: EventStoreBackend,
    shutdown: CancellationToken,
    running: JoinHandle<anyhow::Result<()>>,
    _folder: Option<tempfile::TempDir>,
}

impl BenchServer {
    pub async fn start(arguments: &BenchServerArgs) -> anyhow::Result<BenchServer> {
        let (events, folder) = match &arguments.events {
            Some(events) => (events.clone(), None),
            None => {
                let folder = tempfile::tempdir().context("creating a temporary folder")?;
                let events = format!("sqlite://{}", folder.path().join("alpes.db").display());
                (events, Some(folder))
            }
        };
        let flags = [
            "alpes",
            "serve",
            "--events",
            &events,
            "--listen",
            "127.0.0.1:0",
            "--services",
            &arguments.services,
        ];
        let settings = match Cli::try_parse_from(flags)?.command {
            Command::Serve(serve) => Settings::from_args(serve)?,
            _ => anyhow::bail!("internal: the bench server's flags are not serve's"),
        };
        let application = Application::build(settings).await?;
        let address = format!("http://{}", application.local_addr()?);
        let backend = application.backend().clone();
        let shutdown = application.shutdown_token();
        let running = tokio::spawn(application.run_until_stopped());
        println!("server: {address} on {events}");
        Ok(BenchServer {
            address,
            backend,
            shutdown,
            running,
            _folder: folder,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// [`BenchServer::url`], parsed once: a client handed the text parses it again on
    /// every request, in the benchmark's own process.
    pub fn endpoint(&self, path: &str) -> anyhow::Result<reqwest::Url> {
        let url = self.url(path);
        url.parse()
            .with_context(|| format!("the benchmark's URL {url}"))
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.running.await.context("the server task")?
    }
}

/// A client keeping up to `connections` connections open to the server.
pub fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        // The server never redirects (a redirect fails the benchmark's status check);
        // following them would cost a policy check per request.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")
}

/// The `quantile` (0..=1) of sorted `values`.
pub fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
