//! `alpes projections status|rebuild` and `alpes bench project`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alpes_event_store::{EventStoreBackend, Position, StoreOptions, DEFAULT_EVENTS_URL};
use alpes_graphql::{GraphqlService, GraphqlSettings, ReadContext};
use alpes_read::comisiones::ComisionFilter;
use alpes_read::marketing::CampanaFilter;
use alpes_read::status::events_after;
use alpes_read::workload::{run_workload, Rng, WorkloadSizes};
use alpes_read::{
    default_views_url, rebuild_many, ProjectionName, ProjectionStatus, RebuildOptions,
    RebuildProgress, RebuildReport, Views,
};
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// `alpes projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each projection's checkpoint, the head of the log, and the lag between.
    Status(Databases),
    /// Replay the whole log into fresh tables and swap them in (the old view answers
    /// meanwhile; safe to interrupt and to run while `alpes serve` runs).
    Rebuild(RebuildArgs),
}

/// Where the events and the views are.
#[derive(Debug, Args)]
pub struct Databases {
    /// The event store (sqlite://PATH, postgres://…, esdb://…).
    #[arg(long, env = "ALPES_EVENTS", default_value = DEFAULT_EVENTS_URL)]
    pub events: String,

    /// The views database (sqlite://PATH or postgres://…); by default as `alpes serve`'s.
    #[arg(long, env = "ALPES_VIEWS")]
    pub views: Option<String>,
}

/// `alpes projections rebuild NAME|--all`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["name", "all"])))]
pub struct RebuildArgs {
    /// The projection: marketing, tracking, atribucion, comisiones or saga.
    pub name: Option<String>,

    /// Rebuild every projection (at once).
    #[arg(long)]
    pub all: bool,

    /// Events applied per transaction.
    #[arg(long, default_value_t = alpes_read::REBUILD_BATCH_SIZE)]
    pub batch_size: usize,

    #[command(flatten)]
    pub databases: Databases,
}

/// `alpes bench project`
#[derive(Debug, Args)]
pub struct BenchProjectArgs {
    #[command(flatten)]
    pub databases: Databases,

    /// Interactions to write first when the log is empty.
    #[arg(long, default_value_t = 1_000_000)]
    pub interactions: usize,

    /// Campaigns of that workload.
    #[arg(long, default_value_t = 200)]
    pub campaigns: usize,

    /// Partners of that workload.
    #[arg(long, default_value_t = 2_000)]
    pub partners: usize,

    /// Percent of that workload's journeys that convert.
    #[arg(long, default_value_t = 5)]
    pub conversion_percent: u64,

    /// Concurrent journeys while writing that workload.
    #[arg(long, default_value_t = 64)]
    pub writers: usize,

    /// Timed calls of each query.
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,

    /// Events applied per transaction while catching up.
    #[arg(long, default_value_t = alpes_read::REBUILD_BATCH_SIZE)]
    pub batch_size: usize,
}

/// Runs `alpes projections …`.
pub async fn run(command: ProjectionsCommand) -> anyhow::Result<()> {
    match command {
        ProjectionsCommand::Status(databases) => status(databases).await,
        ProjectionsCommand::Rebuild(arguments) => rebuild(arguments).await,
    }
}

/// Opens the event store and the views; for EventStoreDB, consumers keep their
/// checkpoints and leases in the views database.
async fn open(databases: &Databases) -> anyhow::Result<(EventStoreBackend, Views)> {
    let views_url = match &databases.views {
        Some(url) => url.clone(),
        None => default_views_url(&databases.events)?,
    };
    let options = StoreOptions {
        consumer_database: Some(views_url.clone()),
        ..StoreOptions::default()
    };
    let backend = EventStoreBackend::open(&databases.events, options).await?;
    let views = Views::open(&views_url).await?;
    Ok((backend, views))
}

async fn status(databases: Databases) -> anyhow::Result<()> {
    let (backend, views) = open(&databases).await?;
    let statuses = views.projection_status(&backend).await?;
    println!("events: {}", backend.url());
    println!("views:  {}", views.url());
    println!(
        "{:<11} {:>22} {:>22} {:>11} {:>9}  status",
        "projection", "position", "head", "lag events", "lag s"
    );
    for status in &statuses {
        println!("{}", status_line(status));
    }
    Ok(())
}

fn status_line(status: &ProjectionStatus) -> String {
    let head = status
        .head
        .map_or_else(|| "(empty log)".to_string(), |head| head.to_string());
    let lag = if status.lag_events_exact {
        status.lag_events.to_string()
    } else {
        format!("≥{}", status.lag_events)
    };
    let rebuild = match &status.rebuild {
        Some(rebuild) if rebuild.active => format!("; rebuilding, at {}", rebuild.position),
        Some(_) => "; an interrupted rebuild left tables behind".to_string(),
        None => String::new(),
    };
    format!(
        "{:<11} {:>22} {:>22} {:>11} {:>9.1}  {}{rebuild}",
        status.name.as_str(),
        status.position.to_string(),
        head,
        lag,
        status.lag_seconds,
        status.state
    )
}

async fn rebuild(arguments: RebuildArgs) -> anyhow::Result<()> {
    let names = match (&arguments.name, arguments.all) {
        (_, true) => ProjectionName::ALL.to_vec(),
        (Some(name), false) => vec![name.parse::<ProjectionName>()?],
        (None, false) => anyhow::bail!("name a projection or pass --all"),
    };
    let (backend, views) = open(&arguments.databases).await?;
    let options = RebuildOptions {
        batch_size: arguments.batch_size.max(1),
        ..RebuildOptions::default()
    };
    let progress: Arc<dyn RebuildProgress> = if std::io::stderr().is_terminal() {
        Arc::new(Bars::new())
    } else {
        Arc::new(Lines::default())
    };
    let rebuilding = rebuild_many(&backend, &views, &names, &options, progress);
    let results = tokio::select! {
        results = rebuilding => results,
        _ = tokio::signal::ctrl_c() => {
            anyhow::bail!(
                "interrupted: the live views are unchanged; the next rebuild removes what \
                 this one left"
            );
        }
    };
    let mut failed = Vec::new();
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(report) => println!(
                "{}: rebuilt from {} events in {:.1} s ({} appended meanwhile), live at {}",
                name,
                report.events,
                report.elapsed.as_secs_f64(),
                report.tail_events,
                report.position
            ),
            Err(error) => failed.push(format!("{name}: {error}")),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{}", failed.join("; "));
    }
    Ok(())
}

/// Progress bars on a terminal: one per projection.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<ProjectionName, ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: MultiProgress::new(),
            bars: Mutex::default(),
        }
    }

    fn with_bar(&self, projection: ProjectionName, action: impl FnOnce(&ProgressBar)) {
        let bars = self
            .bars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bar) = bars.get(&projection) {
            action(bar);
        }
    }
}

impl RebuildProgress for Bars {
    fn started(&self, projection: ProjectionName, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30}] {human_pos}/{human_len} events, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template(
                    "{prefix:>10} {spinner} {human_pos} events, {per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let bar = self.multi.add(bar.with_prefix(projection.as_str()));
        self.bars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(projection, bar);
    }

    fn advanced(&self, projection: ProjectionName, events: u64, _: Position) {
        self.with_bar(projection, |bar| bar.inc(events));
    }

    fn swapping(&self, projection: ProjectionName) {
        self.with_bar(projection, |bar| bar.set_message("swapping"));
    }

    fn finished(&self, report: &RebuildReport) {
        self.with_bar(report.projection, |bar| {
            bar.finish_with_message(format!("done in {:.1} s", report.elapsed.as_secs_f64()))
        });
    }
}

/// Plain lines when stderr is not a terminal (logs, CI): one every few seconds per
/// projection.
#[derive(Default)]
struct Lines {
    states: Mutex<HashMap<ProjectionName, LineState>>,
}

struct LineState {
    started: Instant,
    last_line: Instant,
    total: Option<u64>,
    done: u64,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl RebuildProgress for Lines {
    fn started(&self, projection: ProjectionName, total: Option<u64>) {
        let now = Instant::now();
        eprintln!(
            "rebuild {projection}: replaying {} events",
            total.map_or_else(|| "the log's".to_string(), |total| total.to_string())
        );
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(
                projection,
                LineState {
                    started: now,
                    last_line: now,
                    total,
                    done: 0,
                },
            );
    }

    fn advanced(&self, projection: ProjectionName, events: u64, position: Position) {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(state) = states.get_mut(&projection) else {
            return;
        };
        state.done += events;
        if state.last_line.elapsed() < LINE_EVERY {
            return;
        }
        state.last_line = Instant::now();
        let rate = state.done as f64 / state.started.elapsed().as_secs_f64().max(0.001);
        let eta = state
            .total
            .map(|total| total.saturating_sub(state.done) as f64 / rate.max(1.0))
            .map_or_else(String::new, |eta| format!(", ETA {eta:.0} s"));
        let of = state
            .total
            .map_or_else(String::new, |total| format!("/{total}"));
        eprintln!(
            "rebuild {projection}: {}{of} events, {rate:.0}/s{eta}, at {position}",
            state.done
        );
    }

    fn swapping(&self, projection: ProjectionName) {
        eprintln!("rebuild {projection}: caught up; swapping in the rebuilt tables");
    }

    fn finished(&self, report: &RebuildReport) {
        eprintln!(
            "rebuild {}: done, {} events in {:.1} s",
            report.projection,
            report.events,
            report.elapsed.as_secs_f64()
        );
    }
}

/// `alpes bench project`: writes a workload when the log is empty, rebuilds every
/// projection from the whole log at once (catch-up rate), then times the campaign
/// statistics query and a partner's commissions page.
pub async fn bench(arguments: BenchProjectArgs) -> anyhow::Result<()> {
    let (backend, views) = open(&arguments.databases).await?;
    println!("events: {}", backend.url());
    println!("views:  {}", views.url());
    let (existing, _) = events_after(&backend, Position::START).await?;
    if existing == 0 {
        let sizes = WorkloadSizes {
            campanas: arguments.campaigns,
            partners: arguments.partners,
            conversion_percent: arguments.conversion_percent,
            writers: arguments.writers,
            ..WorkloadSizes::with_interactions(arguments.interactions)
        };
        println!("writing a workload: {sizes:?}");
        let report = run_workload(&backend, &sizes).await?;
        println!(
            "  {} interactions, {} conversions, {} commissions in {:.1} s",
            report.interacciones,
            report.conversiones,
            report.comisiones,
            report.elapsed.as_secs_f64()
        );
    }
    let (events, _) = events_after(&backend, Position::START).await?;
    println!("log: {events} events");

    let options = RebuildOptions {
        batch_size: arguments.batch_size.max(1),
        ..RebuildOptions::default()
    };
    let started = Instant::now();
    let progress: Arc<dyn RebuildProgress> = Arc::new(Lines::default());
    let results = rebuild_many(&backend, &views, &ProjectionName::ALL, &options, progress).await;
    let elapsed = started.elapsed().as_secs_f64();
    for result in results {
        let report = result?;
        println!(
            "  {:<11} {:>9} events in {:>6.1} s = {:>8.0} events/s",
            report.projection.as_str(),
            report.events,
            report.elapsed.as_secs_f64(),
            report.events as f64 / report.elapsed.as_secs_f64().max(0.001)
        );
    }
    println!(
        "catch-up, all five projections at once: {events} events in {elapsed:.1} s = {:.0} events/s",
        events as f64 / elapsed.max(0.001)
    );

    let interactions = views
        .resumen_marketing()
        .await?
        .iter()
        .map(|resumen| resumen.vistas + resumen.clicks + resumen.engagements + resumen.conversiones)
        .sum::<i64>();
    println!("views: {interactions} interactions counted in the campaign statistics");
    time_queries(&views, arguments.queries.max(1)).await?;
    time_graphql(&backend, &views, arguments.queries.max(1)).await
}

/// The campaign statistics a dashboard opens with, through GraphQL.
const STATS_QUERY: &str = "query($id: UUID!) { estadisticasCampana(campanaId: $id) {
  vistas clicks conversiones conversionesAtribuidas ingresosAtribuidos { amount currency }
  montoReservado { amount } costo { amount } presupuestoDisponible { amount }
  ratios { ctrBps cpc { amount } tasaConversionBps } } }";

/// A partner's balances and first page of commissions (each with its campaign's name,
/// batched), through GraphQL.
const PARTNER_QUERY: &str = "query($id: UUID!) { partner(id: $id) {
  saldos { moneda reservado { amount } aprobado { amount } pagado { amount } }
  comisiones(first: 50) { edges { cursor node { id estado monto { amount currency }
    fechaConversion campana { nombre } } } pageInfo { hasNextPage endCursor } } } }";

/// Times the same two reads through the GraphQL schema, in process (parsing, validation,
/// resolvers, DataLoader, JSON; no HTTP transport).
async fn time_graphql(
    backend: &EventStoreBackend,
    views: &Views,
    queries: usize,
) -> anyhow::Result<()> {
    let context = ReadContext::new(views.clone(), backend.clone(), GraphqlSettings::default());
    let service = GraphqlService::new(context);
    let campanas: Vec<_> = views
        .campanas(&CampanaFilter::default(), 1_000, None)
        .await?
        .rows
        .into_iter()
        .map(|campana| campana.id)
        .collect();
    let partners: Vec<_> = views
        .comisiones(&ComisionFilter::default(), 1_000, None)
        .await?
        .rows
        .into_iter()
        .map(|comision| comision.partner_id)
        .collect();
    anyhow::ensure!(
        !campanas.is_empty() && !partners.is_empty(),
        "the views hold no campaigns or commissions to query"
    );
    let mut rng = Rng::new(7);
    let mut stats = Vec::with_capacity(queries);
    let mut page = Vec::with_capacity(queries);
    for _ in 0..queries {
        let campana = campanas[rng.below(campanas.len() as u64) as usize];
        let started = Instant::now();
        let response = service
            .execute_json(STATS_QUERY, serde_json::json!({"id": campana}))
            .await;
        stats.push(started.elapsed());
        anyhow::ensure!(response.get("errors").is_none(), "GraphQL: {response}");

        let partner = partners[rng.below(partners.len() as u64) as usize];
        let started = Instant::now();
        let response = service
            .execute_json(PARTNER_QUERY, serde_json::json!({"id": partner}))
            .await;
        page.push(started.elapsed());
        anyhow::ensure!(response.get("errors").is_none(), "GraphQL: {response}");
    }
    println!("GraphQL (in process, no HTTP):");
    for (name, timings) in [
        ("estadisticasCampana(id)", stats),
        ("partner { saldos comisiones(50) }", page),
    ] {
        print_quantiles(name, timings);
    }
    Ok(())
}

fn print_quantiles(name: &str, mut timings: Vec<std::time::Duration>) {
    timings.sort();
    let at = |quantile: f64| {
        let index = ((timings.len() as f64 - 1.0) * quantile).round() as usize;
        timings[index].as_secs_f64() * 1_000.0
    };
    println!(
        "  {name:<34} p50 {:.2} ms  p99 {:.2} ms  ({} calls)",
        at(0.50),
        at(0.99),
        timings.len()
    );
}

async fn time_queries(views: &Views, queries: usize) -> anyhow::Result<()> {
    let campanas: Vec<_> = views
        .campanas(&CampanaFilter::default(), 1_000, None)
        .await?
        .rows
        .into_iter()
        .map(|campana| campana.id)
        .collect();
    let partners: Vec<_> = views
        .comisiones(&ComisionFilter::default(), 1_000, None)
        .await?
        .rows
        .into_iter()
        .map(|comision| comision.partner_id)
        .collect();
    anyhow::ensure!(
        !campanas.is_empty() && !partners.is_empty(),
        "the views hold no campaigns or commissions to query"
    );
    let mut rng = Rng::new(42);
    let mut stats = Vec::with_capacity(queries);
    let mut page = Vec::with_capacity(queries);
    for _ in 0..queries {
        let campana = campanas[rng.below(campanas.len() as u64) as usize];
        let started = Instant::now();
        views.estadisticas_campana(campana).await?;
        stats.push(started.elapsed());

        let partner = partners[rng.below(partners.len() as u64) as usize];
        let filter = ComisionFilter {
            partner_id: Some(partner),
            ..ComisionFilter::default()
        };
        let started = Instant::now();
        views.comisiones(&filter, 50, None).await?;
        page.push(started.elapsed());
    }
    for (name, mut timings) in [
        ("estadisticas_campana(id)", stats),
        ("comisiones(partner, first 50)", page),
    ] {
        timings.sort();
        let at = |quantile: f64| {
            let index = ((timings.len() as f64 - 1.0) * quantile).round() as usize;
            timings[index].as_secs_f64() * 1_000.0
        };
        println!(
            "  {name:<30} p50 {:.2} ms  p99 {:.2} ms  ({} calls)",
            at(0.50),
            at(0.99),
            timings.len()
        );
    }
    Ok(())
}
