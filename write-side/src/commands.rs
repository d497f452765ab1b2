//! Executing commands on the four aggregates: load, decide, append, with metadata on every
//! event and a bounded retry when another writer appended first. The REST API and the saga
//! reactors both send commands through here.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpes_domain::atribucion::{Atribucion, AtribucionCommand};
use alpes_domain::campana::{Campana, CampanaCommand};
use alpes_domain::comision::{Comision, ComisionCommand};
use alpes_domain::interaccion::{Interaccion, InteraccionCommand};
use alpes_domain::rules::fraud::ConfiguracionFraude;
use alpes_event_store::{
    AggregateStore, CommandOutcome, EventRepository, EventStoreBackend, MetricHandles, Position,
};
use cqrs_es::{Aggregate, AggregateError};
use metrics::{Counter, Histogram};
use tracing::Instrument;
use uuid::Uuid;

use crate::command_queue::CommandQueue;

/// How many times a command is tried when it keeps losing the race to another writer
/// (a hot campaign takes every reservation of its conversions): enough to ride out bursts,
/// few enough that a client hears 409 quickly under a real stampede.
pub const MAX_ATTEMPTS: usize = 8;

/// Commands that arrive at ingest rates (thousands a second): their successes are logged
/// at debug, not info — formatting one line each cost a quarter of the ingest rate — and
/// still counted in `alpes_commands_total`; their refusals and failures are logged as any.
const INGEST_COMMANDS: &[&str] = &["RegistrarInteraccion"];

/// Who sent a command and why; recorded in the metadata of every event it produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandContext {
    /// The journey (or other business flow) the command belongs to.
    pub correlation_id: Option<String>,
    /// The event that caused the command (saga reactions).
    pub causation_id: Option<String>,
    /// The API caller or the reactor's name.
    pub actor: String,
    /// The HTTP request that carried the command, if any.
    pub request_id: Option<String>,
}

impl CommandContext {
    /// The context of a command sent by `actor`.
    pub fn by(actor: impl Into<String>) -> Self {
        CommandContext {
            actor: actor.into(),
            ..Default::default()
        }
    }

    pub(crate) fn metadata(&self) -> HashMap<String, String> {
        // Sized for every entry at once: growing a map rehashes it.
        let mut metadata = HashMap::with_capacity(4);
        metadata.insert("actor".to_string(), self.actor.clone());
        let optional = [
            ("correlation_id", &self.correlation_id),
            ("causation_id", &self.causation_id),
            ("request_id", &self.request_id),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                metadata.insert(key.to_string(), value.clone());
            }
        }
        metadata
    }
}

/// A command that was carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub aggregate_id: Uuid,
    /// The aggregate's version after the command (unchanged when it was a no-op).
    pub version: usize,
    /// How many events the command appended (0 for a no-op, e.g. a redelivery).
    pub appended: usize,
    /// The names of the appended events, in order.
    pub event_types: Vec<String>,
    /// Where the last appended event is in the global log (`None` for a no-op): readers
    /// that have reached it see the command's effects.
    pub position: Option<Position>,
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused it: a business rule, an invalid transition, bad input, or an
    /// aggregate that does not exist.
    #[error("{0}")]
    Rejected(E),
    /// Other writers kept appending first, [`MAX_ATTEMPTS`] times.
    #[error("concurrency conflict on {aggregate}: retried {attempts} times")]
    Conflict { aggregate: String, attempts: usize },
    /// The store failed (not the client's fault).
    #[error("event store failure on {aggregate}: {reason}")]
    Store { aggregate: String, reason: String },
}

/// The command side of the four aggregates over one event store.
#[derive(Clone)]
pub struct CommandServices {
    campanas: AggregateStore<Campana, EventRepository>,
    /// Concurrent commands to one campaign run as one group (see `command_queue`).
    campana_queue: CommandQueue<Campana>,
    interacciones: AggregateStore<Interaccion, EventRepository>,
    atribuciones: AggregateStore<Atribucion, EventRepository>,
    comisiones: AggregateStore<Comision, EventRepository>,
    /// Shared: the saga's reactors and command queues clone the services, and the bot
    /// list is a vector of strings.
    fraude: Arc<ConfiguracionFraude>,
}

impl CommandServices {
    /// Command services over `backend`, with the fraud rules' thresholds from configuration.
    /// Only campaigns are snapshotted: every reservation of a campaign's conversions goes
    /// through it, while an interaction, an attribution or a commission holds a few events
    /// all its life.
    pub fn new(backend: &EventStoreBackend, fraude: ConfiguracionFraude) -> Self {
        let campanas = backend.aggregate_store();
        CommandServices {
            campana_queue: CommandQueue::new(campanas.clone(), ()),
            campanas,
            interacciones: backend.aggregate_store_without_snapshots(),
            atribuciones: backend.aggregate_store_without_snapshots(),
            comisiones: backend.aggregate_store_without_snapshots(),
            fraude: Arc::new(fraude),
        }
    }

    /// Sends a command to the Campana `id`, in one group with the other commands that reach
    /// it meanwhile.
    pub async fn campana(
        &self,
        id: Uuid,
        command: CampanaCommand,
        context: &CommandContext,
    ) -> Result<Executed, CommandError<<Campana as Aggregate>::Error>> {
        let name = variant_name(&command);
        let queued = self.campana_queue.execute(id, command, context.metadata());
        logged::<Campana>(id, name, context, queued).await
    }

    /// Sends a command to the Interaccion `id`.
    pub async fn interaccion(
        &self,
        id: Uuid,
        command: InteraccionCommand,
        context: &CommandContext,
    ) -> Result<Executed, CommandError<<Interaccion as Aggregate>::Error>> {
        execute(&self.interacciones, id, command, &(), context).await
    }

    /// Registers interactions (`RegistrarInteraccion` commands, each with its context) in
    /// one go, the ingest path: each is decided as if its id were new, without loading it,
    /// and all their events are appended together. One whose id turns out to be taken, or
    /// that is refused as new, is run again the usual way, on the interaction as stored
    /// (a repeat of a registered id is a no-op, whatever it says). One answer per command,
    /// in order.
    pub async fn registrar_interacciones(
        &self,
        commands: Vec<(Uuid, InteraccionCommand, CommandContext)>,
    ) -> Vec<Result<Executed, CommandError<<Interaccion as Aggregate>::Error>>> {
        let started = Instant::now();
        let as_new = commands
            .iter()
            .map(|(id, command, context)| (id.to_string(), command.clone(), context.metadata()))
            .collect();
        let outcomes = self.interacciones.execute_each_as_new(as_new, &()).await;
        let elapsed = started.elapsed();
        let mut results = Vec::with_capacity(commands.len());
        let mut again = Vec::new();
        for (index, ((id, command, context), outcome)) in
            commands.into_iter().zip(outcomes).enumerate()
        {
            let result = match outcome {
                Err(AggregateError::AggregateConflict | AggregateError::UserError(_)) => {
                    again.push((index, id, command, context));
                    continue;
                }
                Ok(outcome) => Ok(executed(id, outcome)),
                Err(other) => Err(store_failure::<Interaccion>(id, other.to_string())),
            };
            record_ingested(id, &context, &result, elapsed);
            results.push((index, result));
        }
        let retried = futures::future::join_all(again.into_iter().map(
            |(index, id, command, context)| async move {
                (index, self.interaccion(id, command, &context).await)
            },
        ))
        .await;
        results.extend(retried);
        results.sort_unstable_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// Sends a command to the Atribucion `id`.
    pub async fn atribucion(
        &self,
        id: Uuid,
        command: AtribucionCommand,
        context: &CommandContext,
    ) -> Result<Executed, CommandError<<Atribucion as Aggregate>::Error>> {
        execute(&self.atribuciones, id, command, &self.fraude, context).await
    }

    /// Sends a command to the Comision `id`.
    pub async fn comision(
        &self,
        id: Uuid,
        command: ComisionCommand,
        context: &CommandContext,
    ) -> Result<Executed, CommandError<<Comision as Aggregate>::Error>> {
        execute(&self.comisiones, id, command, &(), context).await
    }

    /// The current state of the Campana `id` (a default aggregate when it does not exist).
    pub async fn load_campana(
        &self,
        id: Uuid,
    ) -> Result<Campana, CommandError<<Campana as Aggregate>::Error>> {
        load(&self.campanas, id).await
    }

    /// The current state of the Comision `id`.
    pub async fn load_comision(
        &self,
        id: Uuid,
    ) -> Result<Comision, CommandError<<Comision as Aggregate>::Error>> {
        load(&self.comisiones, id).await
    }

    /// The current state of the Atribucion `id`.
    pub async fn load_atribucion(
        &self,
        id: Uuid,
    ) -> Result<Atribucion, CommandError<<Atribucion as Aggregate>::Error>> {
        load(&self.atribuciones, id).await
    }

    /// The current state of the Interaccion `id`.
    pub async fn load_interaccion(
        &self,
        id: Uuid,
    ) -> Result<Interaccion, CommandError<<Interaccion as Aggregate>::Error>> {
        load(&self.interacciones, id).await
    }
}

/// Runs `command` on the aggregate `id` of `store`; see [`logged`].
async fn execute<A>(
    store: &AggregateStore<A, EventRepository>,
    id: Uuid,
    command: A::Command,
    services: &A::Services,
    context: &CommandContext,
) -> Result<Executed, CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone + fmt::Debug,
{
    let name = variant_name(&command);
    let run = execute_with_retries(store, id, command, services, context);
    logged::<A>(id, name, context, run).await
}

/// Runs the command `run` in a `command` span (aggregate type and id, command name, request
/// id), and records its outcome and duration there once it is done.
async fn logged<A: Aggregate>(
    id: Uuid,
    name: String,
    context: &CommandContext,
    run: impl std::future::Future<Output = Result<Executed, CommandError<A::Error>>>,
) -> Result<Executed, CommandError<A::Error>> {
    let span = tracing::info_span!(
        "command",
        aggregate = A::TYPE,
        aggregate_id = %id,
        command = %name,
        actor = %context.actor,
        request_id = context.request_id.as_deref(),
        outcome = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = run.instrument(span.clone()).await;
    let outcome = outcome_of(&result);
    let elapsed = started.elapsed();
    span.record("outcome", outcome);
    span.record("duration_ms", elapsed.as_secs_f64() * 1_000.0);
    let ingest = INGEST_COMMANDS.contains(&name.as_str());
    count_command(A::TYPE, name, outcome, elapsed);
    span.in_scope(|| match &result {
        Ok(executed) if ingest => {
            tracing::debug!(events = ?executed.event_types, "command executed");
        }
        Ok(executed) => tracing::info!(events = ?executed.event_types, "command executed"),
        Err(CommandError::Rejected(error)) => tracing::info!(%error, "command rejected"),
        Err(error) => tracing::warn!(%error, "command failed"),
    });
    result
}

/// Counts, times and logs a registration of [`CommandServices::registrar_interacciones`]
/// as [`logged`] does a command, but without a span of its own: at ingest rates, a span per
/// command cost more than the command's decision.
fn record_ingested<E: std::error::Error>(
    id: Uuid,
    context: &CommandContext,
    result: &Result<Executed, CommandError<E>>,
    elapsed: Duration,
) {
    const COMMAND: &str = "RegistrarInteraccion";
    let outcome = outcome_of(result);
    count_command(Interaccion::TYPE, COMMAND.to_string(), outcome, elapsed);
    let request_id = context.request_id.as_deref();
    match result {
        Ok(executed) => tracing::debug!(
            aggregate = Interaccion::TYPE, aggregate_id = %id, command = COMMAND,
            actor = %context.actor, request_id, outcome, events = ?executed.event_types,
            "command executed"
        ),
        Err(error) => tracing::warn!(
            aggregate = Interaccion::TYPE, aggregate_id = %id, command = COMMAND,
            actor = %context.actor, request_id, outcome, %error, "command failed"
        ),
    }
}

/// The `alpes_commands_total` and `alpes_command_duration_seconds` metrics of one command.
fn count_command(
    aggregate: &'static str,
    command: String,
    outcome: &'static str,
    elapsed: Duration,
) {
    type Labels = (&'static str, String, &'static str);
    static COMMANDS: MetricHandles<Labels, (Counter, Histogram)> = MetricHandles::new();
    let (counter, histogram) = COMMANDS.get((aggregate, command, outcome), |labels| {
        let (aggregate, command, outcome) = labels.clone();
        (
            metrics::counter!("alpes_commands_total", "aggregate" => aggregate, "command" => command.clone(), "outcome" => outcome),
            metrics::histogram!("alpes_command_duration_seconds", "aggregate" => aggregate, "command" => command),
        )
    });
    counter.increment(1);
    histogram.record(elapsed.as_secs_f64());
}

/// The outcome of a command as logged and counted: `executed`, `rejected`, `conflict` or
/// `store_error`.
fn outcome_of<E: std::error::Error>(result: &Result<Executed, CommandError<E>>) -> &'static str {
    match result {
        Ok(_) => "executed",
        Err(CommandError::Rejected(_)) => "rejected",
        Err(CommandError::Conflict { .. }) => "conflict",
        Err(CommandError::Store { .. }) => "store_error",
    }
}

/// The name of a command enum's variant (`CrearCampana`), from its `Debug` output: the
/// writer stops formatting at the first character after the name, so a large command is
/// not formatted whole.
fn variant_name(command: &impl fmt::Debug) -> String {
    struct VariantName(String);
    impl fmt::Write for VariantName {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            let end = text
                .find(|character: char| !(character.is_alphanumeric() || character == '_'))
                .unwrap_or(text.len());
            self.0.push_str(&text[..end]);
            if end < text.len() {
                Err(fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut name = VariantName(String::new());
    // The error is the writer stopping on purpose.
    let _ = fmt::write(&mut name, format_args!("{command:?}"));
    name.0
}

async fn execute_with_retries<A>(
    store: &AggregateStore<A, EventRepository>,
    id: Uuid,
    command: A::Command,
    services: &A::Services,
    context: &CommandContext,
) -> Result<Executed, CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
{
    let aggregate_id = id.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = store
            .execute(&aggregate_id, command.clone(), services, context.metadata())
            .await;
        match outcome {
            Ok(outcome) => return Ok(executed(id, outcome)),
            Err(AggregateError::UserError(error)) => return Err(CommandError::Rejected(error)),
            Err(AggregateError::AggregateConflict) if attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(AggregateError::AggregateConflict) => {
                return Err(CommandError::Conflict {
                    aggregate: format!("{}-{id}", A::TYPE),
                    attempts: attempt,
                })
            }
            Err(other) => return Err(store_failure::<A>(id, other.to_string())),
        }
    }
}

/// What the command that produced `outcome` on the aggregate `id` did.
pub(crate) fn executed<A: Aggregate>(id: Uuid, outcome: CommandOutcome<A>) -> Executed {
    let event_types = outcome
        .events
        .iter()
        .map(|envelope| cqrs_es::DomainEvent::event_type(&envelope.payload))
        .collect::<Vec<_>>();
    Executed {
        aggregate_id: id,
        version: outcome.version,
        appended: event_types.len(),
        event_types,
        position: outcome.position,
    }
}

/// A failure of the store while running a command on the aggregate `id`.
pub(crate) fn store_failure<A: Aggregate>(id: Uuid, reason: String) -> CommandError<A::Error> {
    CommandError::Store {
        aggregate: format!("{}-{id}", A::TYPE),
        reason,
    }
}

async fn load<A: Aggregate>(
    store: &AggregateStore<A, EventRepository>,
    id: Uuid,
) -> Result<A, CommandError<A::Error>> {
    use cqrs_es::EventStore;
    store
        .load_aggregate(&id.to_string())
        .await
        .map(|context| context.aggregate)
        .map_err(|error| store_failure::<A>(id, error.to_string()))
}

/// A short, growing, jittered pause so racing writers do not collide again in lockstep.
pub(crate) fn backoff(attempt: usize) -> Duration {
    let base = 2u64.saturating_pow(attempt.min(6) as u32);
    let jitter = u64::from(Uuid::new_v4().as_bytes()[0] % 8);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use alpes_domain::campana::CampanaCommand;

    use super::variant_name;

    #[test]
    fn a_command_is_named_by_its_variant() {
        assert_eq!(
            variant_name(&CampanaCommand::ActivarCampana),
            "ActivarCampana"
        );
        let cancel = CampanaCommand::CancelarCampana {
            motivo: "a long reason".to_string(),
        };
        assert_eq!(variant_name(&cancel), "CancelarCampana");
    }
}
