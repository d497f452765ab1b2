//! Building the running application from its [`Settings`]: used by `alpes serve` and by
//! the tests alike.
//!
//! Shutdown (SIGTERM, SIGINT, or a cancelled [`Application::shutdown_token`]): the HTTP
//! server stops accepting and finishes the requests in flight; consumers (the saga's, the
//! write side's) finish their current batch and stop; then [`Application::run_until_stopped`]
//! returns and the process exits 0.

use std::net::SocketAddr;

use alpes_event_store::EventStoreBackend;
use alpes_graphql::ReadContext;
use alpes_write::http::{HttpServer, WriteApi};
use alpes_write::saga::SagaDatabase;
use alpes_write::{CommandServices, SagaConfig};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::configuration::Settings;
use crate::metrics::ConsumerLag;

/// `alpes serve`: runs until SIGTERM or SIGINT.
pub async fn serve(arguments: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::from_args(arguments)?;
    let application = Application::build(settings).await?;
    tracing::info!(
        address = %application.local_addr()?,
        events = %application.backend.url(),
        "alpes serve started; SIGTERM or Ctrl-C stops it"
    );
    let shutdown = application.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: finishing requests in flight and current batches");
        shutdown.cancel();
    });
    application.run_until_stopped().await
}

/// The services of one process, bound and ready to run.
pub struct Application {
    settings: Settings,
    backend: EventStoreBackend,
    commands: CommandServices,
    server: HttpServer,
    lag: ConsumerLag,
    shutdown: CancellationToken,
}

impl Application {
    /// Opens the stores and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let backend = EventStoreBackend::open(&settings.events, settings.store_options())
            .await
            .context("opening the event store")?;
        let commands = CommandServices::new(&backend, Default::default());
        let api = WriteApi::open(
            &backend,
            commands.clone(),
            &settings.services,
            settings.write_side_database(),
        )
        .await
        .context("opening the write side's tables")?;
        let lag = consumer_lag(&backend, &settings).await?;
        // The GraphQL API reads the views the projectors write (started with the server).
        let views = alpes_read::Views::open(&settings.views)
            .await
            .context("opening the views database")?;
        let graphql = ReadContext::new(views, backend.clone(), settings.graphql);
        let server = HttpServer::bind(settings.listen, api)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?
            .with_routes(crate::metrics::routes(lag.clone()))
            .with_routes(alpes_graphql::router(graphql));
        Ok(Application {
            settings,
            backend,
            commands,
            server,
            lag,
            shutdown: CancellationToken::new(),
        })
    }

    /// The event store it runs on.
    pub fn backend(&self) -> &EventStoreBackend {
        &self.backend
    }

    /// The address the HTTP API listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Cancelling it shuts the application down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs the HTTP API and the saga until the shutdown token is cancelled, then waits for
    /// both to finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        // Each reactor watches the token, finishes its current batch when it is cancelled,
        // and ends; their handles are awaited before the process exits.
        let saga = alpes_write::saga::start(
            &self.backend,
            self.commands.clone(),
            &self.settings.services,
            SagaConfig::default(),
            self.shutdown.clone(),
        )
        .await
        .context("starting the saga's reactors")?;
        // The read side's projectors keep the views of every service up to date (in the
        // processes that run them).
        let projections = if self.settings.projectors {
            let running =
                alpes_read::start(&self.backend, &self.settings.views, self.shutdown.clone())
                    .await
                    .context("starting the projectors")?;
            self.lag.with_projections(running.views().clone());
            Some(running)
        } else {
            None
        };
        let served = self.server.run(self.shutdown.clone()).await;
        // Whatever ended the server ends the reactors too.
        self.shutdown.cancel();
        for reactor in saga {
            if let Err(error) = reactor.await {
                tracing::error!(%error, "a saga reactor failed");
            }
        }
        if let Some(projections) = projections {
            projections.join().await;
        }
        served.context("serving the HTTP API")
    }
}

/// What `/metrics` measures the lag of: the saga reactors of the services run here (the
/// projectors are added when they start).
async fn consumer_lag(
    backend: &EventStoreBackend,
    settings: &Settings,
) -> anyhow::Result<ConsumerLag> {
    let reactors = alpes_write::saga::consumer_names(&settings.services);
    let saga = if reactors.is_empty() {
        None
    } else {
        let database = SagaDatabase::of_backend(backend)
            .await
            .context("opening the saga's database")?;
        Some((database, reactors))
    };
    Ok(ConsumerLag::new(backend.clone(), saga))
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use alpes_test_support::SqliteTestDb;
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn settings_for(url: &str, services: &str) -> Settings {
        let cli = Cli::try_parse_from([
            "alpes",
            "serve",
            "--events",
            url,
            "--listen",
            "127.0.0.1:0",
            "--services",
            services,
        ])
        .unwrap();
        match cli.command {
            Command::Serve(arguments) => Settings::from_args(arguments).unwrap(),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_application_serves_its_services_and_stops_when_cancelled() {
        let db = SqliteTestDb::create().unwrap();
        let application = Application::build(settings_for(db.url(), "tracking"))
            .await
            .unwrap();
        let address = format!("http://{}", application.local_addr().unwrap());
        let shutdown = application.shutdown_token();
        let running = tokio::spawn(application.run_until_stopped());

        let client = reqwest::Client::new();
        let ready = client.get(format!("{address}/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let click = serde_json::json!({
            "tipo": "Click",
            "campana_id": uuid::Uuid::new_v4(),
            "journey_id": uuid::Uuid::new_v4(),
        });
        let registered = client
            .post(format!("{address}/api/v1/interacciones"))
            .json(&click)
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201);
        let absent = client
            .post(format!("{address}/api/v1/campanas"))
            .json(&click)
            .send()
            .await
            .unwrap();
        assert_eq!(absent.status(), 404, "marketing is not run here");

        shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("stops within 10 s")
            .unwrap();
        assert!(stopped.is_ok(), "{stopped:?}");
        assert!(client
            .get(format!("{address}/health"))
            .send()
            .await
            .is_err());
    }

    #[tokio::test]
    async fn an_unreachable_store_is_one_clear_error() {
        let error = Application::build(settings_for(
            "postgres://alpes:s3cret@127.0.0.1:1/alpes",
            "marketing",
        ))
        .await
        .err()
        .expect("no store there");
        let message = format!("{error:#}");
        assert!(message.contains("opening the event store"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
