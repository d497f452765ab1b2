//! The typed settings of `alpes serve`. clap reads every flag from the command line or from
//! its environment variable (`ALPES_EVENTS`, `ALPES_VIEWS`, `ALPES_LISTEN`,
//! `ALPES_SERVICES`, `ALPES_SNAPSHOT_EVERY`, `ALPES_PROJECTORS`, `ALPES_LOG_FORMAT`); this
//! module checks them together and derives what follows from them.

use std::net::SocketAddr;
use std::str::FromStr;

use alpes_event_store::{EventStoreUrl, StoreOptions};
use alpes_graphql::GraphqlSettings;
use alpes_write::{Service, UnknownService};
use anyhow::{bail, Context};

use crate::cli::ServeArgs;

/// A comma-separated list of services, as `--services` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceList(pub Vec<Service>);

impl FromStr for ServiceList {
    type Err = UnknownService;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim() == "none" {
            return Ok(ServiceList(Vec::new()));
        }
        Service::parse_list(text).map(ServiceList)
    }
}

/// What one `alpes serve` process runs, and on which stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The event store's URL.
    pub events: String,
    /// The SQL database of views and consumers: `--views`, or the event store when it is
    /// SQL.
    pub views: String,
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// The services run, in a stable order.
    pub services: Vec<Service>,
    /// Snapshot every N events; `None`: never.
    pub snapshot_every: Option<usize>,
    /// Whether the read side's projectors run in this process.
    pub projectors: bool,
    /// The GraphQL API's limits and consistency wait.
    pub graphql: GraphqlSettings,
    events_in_eventstoredb: bool,
}

impl Settings {
    /// Checks the flags together: the URLs parse, the views database is SQL, and
    /// EventStoreDB comes with a views database.
    pub fn from_args(arguments: ServeArgs) -> anyhow::Result<Settings> {
        let events = EventStoreUrl::parse(&arguments.events).context("--events (ALPES_EVENTS)")?;
        let graphql = graphql_settings(&arguments)?;
        let events_in_eventstoredb = matches!(events, EventStoreUrl::EventStoreDb { .. });
        let views = match arguments.views {
            Some(views) => {
                let parsed = EventStoreUrl::parse(&views).context("--views (ALPES_VIEWS)")?;
                if matches!(parsed, EventStoreUrl::EventStoreDb { .. }) {
                    bail!(
                        "--views (ALPES_VIEWS) must be an SQL database (sqlite://PATH or \
                         postgres://…), not {parsed}"
                    );
                }
                views
            }
            None if events_in_eventstoredb => bail!(
                "--views (ALPES_VIEWS) is required with EventStoreDB events ({events}): \
                 consumers keep their checkpoints and views in an SQL database \
                 (sqlite://PATH or postgres://…)"
            ),
            None => alpes_read::default_views_url(&arguments.events)
                .context("--events (ALPES_EVENTS)")?,
        };
        Ok(Settings {
            events: arguments.events,
            views,
            listen: arguments.listen,
            services: arguments.services.0,
            snapshot_every: (arguments.snapshot_every > 0).then_some(arguments.snapshot_every),
            projectors: arguments.projectors,
            graphql,
            events_in_eventstoredb,
        })
    }

    /// How the event store is opened: every upcaster, the snapshot policy, and for
    /// EventStoreDB the consumers' SQL database.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            snapshot_every: self.snapshot_every,
            consumer_database: self.events_in_eventstoredb.then(|| self.views.clone()),
            ..StoreOptions::default()
        }
    }

    /// The SQL database of the write side's own tables when the event store has none
    /// (EventStoreDB); `None` means the event store's own database.
    pub fn write_side_database(&self) -> Option<&str> {
        self.events_in_eventstoredb.then_some(self.views.as_str())
    }
}

/// The GraphQL limits: zero would refuse every query, so it is refused here.
fn graphql_settings(arguments: &ServeArgs) -> anyhow::Result<GraphqlSettings> {
    if arguments.graphql_max_depth == 0 {
        bail!("--graphql-max-depth (ALPES_GRAPHQL_MAX_DEPTH) must be at least 1, not 0");
    }
    if arguments.graphql_max_complexity == 0 {
        bail!("--graphql-max-complexity (ALPES_GRAPHQL_MAX_COMPLEXITY) must be at least 1, not 0");
    }
    Ok(GraphqlSettings {
        max_depth: arguments.graphql_max_depth,
        max_complexity: arguments.graphql_max_complexity,
        consistency_timeout: std::time::Duration::from_millis(arguments.consistency_timeout_ms),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// Parsing reads the environment, which one test sets: they take turns.
    static ENVIRONMENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn settings(arguments: &[&str]) -> anyhow::Result<Settings> {
        let _turn = ENVIRONMENT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        parse(arguments)
    }

    fn parse(arguments: &[&str]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from([&["alpes", "serve"], arguments].concat())?;
        match cli.command {
            Command::Serve(arguments) => Settings::from_args(arguments),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn flags_override_the_defaults() {
        let parsed = settings(&[
            "--events",
            "postgres://alpes@db/alpes",
            "--listen",
            "127.0.0.1:9000",
            "--services",
            "tracking,atribucion",
            "--snapshot-every",
            "0",
        ])
        .unwrap();
        assert_eq!(parsed.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            parsed.services,
            vec![Service::Tracking, Service::Atribucion]
        );
        assert_eq!(parsed.snapshot_every, None);
        assert_eq!(
            parsed.views, "postgres://alpes@db/alpes",
            "views default to SQL events"
        );
        assert_eq!(parsed.write_side_database(), None);
        assert_eq!(parsed.store_options().consumer_database, None);
    }

    #[test]
    fn eventstoredb_needs_an_sql_views_database() {
        let error = settings(&["--events", "esdb://localhost:2113?tls=false"]).unwrap_err();
        assert!(error.to_string().contains("--views"), "{error}");
        let error = settings(&[
            "--events",
            "esdb://localhost:2113?tls=false",
            "--views",
            "esdb://other:2113",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("SQL"), "{error}");
        let parsed = settings(&[
            "--events",
            "esdb://localhost:2113?tls=false",
            "--views",
            "postgres://alpes@db/views",
        ])
        .unwrap();
        assert_eq!(
            parsed.write_side_database(),
            Some("postgres://alpes@db/views")
        );
        assert_eq!(
            parsed.store_options().consumer_database.as_deref(),
            Some("postgres://alpes@db/views")
        );
    }

    #[test]
    fn a_process_may_run_only_the_projectors() {
        let parsed = settings(&["--services", "none", "--projectors", "true"]).unwrap();
        assert!(parsed.services.is_empty() && parsed.projectors);
        let parsed = settings(&["--services", "tracking", "--projectors", "false"]).unwrap();
        assert!(!parsed.projectors);
        assert!(settings(&["--projectors", "maybe"]).is_err());
    }

    #[test]
    fn unknown_services_and_bad_addresses_are_refused() {
        let error = settings(&["--services", "tracking,ventas"]).unwrap_err();
        assert!(error.to_string().contains("ventas"), "{error}");
        assert!(settings(&["--listen", "8080"]).is_err());
        assert!(settings(&["--events", "data/alpes.db"]).is_err());
    }

    #[test]
    fn every_flag_also_comes_from_the_environment() {
        let _turn = ENVIRONMENT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let variables = [
            ("ALPES_EVENTS", "sqlite:///tmp/alpes-env.db"),
            ("ALPES_LISTEN", "127.0.0.1:9100"),
            ("ALPES_SERVICES", "comisiones"),
            ("ALPES_SNAPSHOT_EVERY", "7"),
            ("ALPES_VIEWS", "sqlite:///tmp/alpes-views.db"),
        ];
        for (name, value) in variables {
            std::env::set_var(name, value);
        }
        let parsed = parse(&[]);
        for (name, _) in variables {
            std::env::remove_var(name);
        }
        let parsed = parsed.unwrap();
        assert_eq!(parsed.events, "sqlite:///tmp/alpes-env.db");
        assert_eq!(parsed.views, "sqlite:///tmp/alpes-views.db");
        assert_eq!(parsed.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(parsed.services, vec![Service::Comisiones]);
        assert_eq!(parsed.snapshot_every, Some(7));
    }

    #[test]
    fn graphql_limits_come_from_flags_or_the_environment_and_zero_is_refused() {
        let defaults = settings(&[]).unwrap().graphql;
        assert_eq!(defaults, GraphqlSettings::default());
        let parsed = settings(&[
            "--graphql-max-depth",
            "4",
            "--graphql-max-complexity",
            "90",
            "--consistency-timeout-ms",
            "250",
        ])
        .unwrap()
        .graphql;
        assert_eq!(parsed.max_depth, 4);
        assert_eq!(parsed.max_complexity, 90);
        assert_eq!(
            parsed.consistency_timeout,
            std::time::Duration::from_millis(250)
        );
        let error = settings(&["--graphql-max-depth", "0"]).unwrap_err();
        assert!(error.to_string().contains("--graphql-max-depth"), "{error}");
        assert!(settings(&["--consistency-timeout-ms", "soon"]).is_err());

        let _turn = ENVIRONMENT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let variables = [
            ("ALPES_GRAPHQL_MAX_DEPTH", "6"),
            ("ALPES_GRAPHQL_MAX_COMPLEXITY", "700"),
            ("ALPES_CONSISTENCY_TIMEOUT_MS", "1500"),
        ];
        for (name, value) in variables {
            std::env::set_var(name, value);
        }
        let parsed = parse(&[]);
        for (name, _) in variables {
            std::env::remove_var(name);
        }
        let parsed = parsed.unwrap().graphql;
        assert_eq!(parsed.max_depth, 6);
        assert_eq!(parsed.max_complexity, 700);
        assert_eq!(
            parsed.consistency_timeout,
            std::time::Duration::from_millis(1500)
        );
    }
}
