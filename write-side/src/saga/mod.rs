//! The saga (choreography, see ARCHITECTURE.md "The saga"): one consumer of the global log
//! per reaction, each with its own name, checkpoint and lease, run by
//! [`alpes_event_store::ConsumerRunner`].
//!
//! | consumer (= actor) | service | reacts to → sends |
//! |---|---|---|
//! | `saga.AtribuirConversion` | atribucion | InteraccionRegistrada{Compra, Lead, Registro} → AtribuirConversion |
//! | `saga.ReservarPresupuesto` | marketing | ConversionAtribuida → ReservarPresupuesto per credit (a rejection → RevertirAtribucion) |
//! | `saga.ReservarComision` | comisiones | PresupuestoReservado → ReservarComision |
//! | `saga.RevertirAtribucion.presupuesto` | atribucion | PresupuestoInsuficiente → RevertirAtribucion{PresupuestoInsuficiente} |
//! | `saga.RevertirComision` | comisiones | AtribucionRevertida{PresupuestoInsuficiente}, FraudeDetectado after attribution → RevertirComision per commission |
//! | `saga.LiberarPresupuesto` | marketing | ComisionRevertida → LiberarPresupuesto |
//! | `saga.RevertirAtribucion.fraude` | atribucion | last PresupuestoLiberado of a fraud → RevertirAtribucion{Fraude} |
//! | `saga.DescartarInteraccion` | tracking | AtribucionRevertida{Fraude}, FraudeDetectado by the rules → DescartarInteraccion per interaction of the journey |
//! | `saga.AprobarComision` (scheduled) | comisiones | hold period over → AprobarComision |
//!
//! So a fraud found after attribution is compensated in this order in the log:
//! ComisionRevertida(s), PresupuestoLiberado(s), AtribucionRevertida, InteraccionDescartada(s).
//! (Fraud reported while the conversion's reservations are still being made may see a late
//! reservation reverted and released after the attribution: nothing stays reserved.)
//!
//! Each service learns what it needs from the log into its own tables (migrations
//! `20250202*_saga_*.sql`); services never read each other's views. The commands carry ids
//! derived from their cause (Atribucion of the conversion, Comision of conversion and
//! partner), and metadata: correlation id = the journey, causation id = the causing event
//! (`{stream}#{sequence}`), actor = the consumer's name.

mod aprobacion;
mod atribucion;
mod comisiones;
mod database;
mod marketing;
mod reactor;
mod tracking;

use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::{Consumer, ConsumerRunner, EventStoreBackend, RunnerOptions, StoreError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use aprobacion::{ApprovalRound, ApprovalSchedule, Clock, SystemClock};
pub use database::SagaDatabase;

use crate::{CommandServices, Service};
use reactor::SagaConsumer;

/// The consumers' names: the keys of their checkpoints and leases, and the actor of the
/// commands they send.
pub mod names {
    /// InteraccionRegistrada of a conversion → AtribuirConversion.
    pub const ATRIBUIR_CONVERSION: &str = "saga.AtribuirConversion";
    /// PresupuestoInsuficiente → RevertirAtribucion{PresupuestoInsuficiente}.
    pub const REVERTIR_ATRIBUCION_POR_PRESUPUESTO: &str = "saga.RevertirAtribucion.presupuesto";
    /// Fraud, once every reservation is released → RevertirAtribucion{Fraude}.
    pub const REVERTIR_ATRIBUCION_POR_FRAUDE: &str = "saga.RevertirAtribucion.fraude";
    /// ConversionAtribuida → ReservarPresupuesto.
    pub const RESERVAR_PRESUPUESTO: &str = "saga.ReservarPresupuesto";
    /// ComisionRevertida → LiberarPresupuesto.
    pub const LIBERAR_PRESUPUESTO: &str = "saga.LiberarPresupuesto";
    /// PresupuestoReservado → ReservarComision.
    pub const RESERVAR_COMISION: &str = "saga.ReservarComision";
    /// Reverted or fraudulent attribution → RevertirComision.
    pub const REVERTIR_COMISION: &str = "saga.RevertirComision";
    /// The approval schedule (a lease, no checkpoint).
    pub const APROBAR_COMISION: &str = "saga.AprobarComision";
    /// Fraudulent journey → DescartarInteraccion.
    pub const DESCARTAR_INTERACCION: &str = "saga.DescartarInteraccion";
}

/// How the saga runs.
#[derive(Clone)]
pub struct SagaConfig {
    /// How each consumer reads the log and retries.
    pub runner: RunnerOptions,
    /// Time between two rounds of the approval schedule.
    pub approval_interval: Duration,
    /// The approval schedule's clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for SagaConfig {
    fn default() -> Self {
        SagaConfig {
            runner: RunnerOptions::default(),
            approval_interval: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why the saga could not start or a scheduled round failed.
#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    /// EventStoreDB keeps no SQL tables: the saga needs the consumers' SQL database.
    #[error(
        "the saga keeps its tables in SQL: with EventStoreDB, give the consumers' database \
         (StoreOptions::consumer_database, e.g. --views postgres://…)"
    )]
    NoConsumerDatabase,
    /// The saga's database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A command failed in the event store or kept conflicting (not a rejection).
    #[error("saga command on {aggregate} failed: {reason}")]
    Command {
        /// The aggregate the command was sent to (`{Aggregate}-{id}`).
        aggregate: String,
        /// What failed.
        reason: String,
    },
}

/// The log consumers of the reactions that belong to `services` (see the module's table),
/// over `database`. [`start`] runs them; tests may call their `handle` directly.
pub fn consumers(
    commands: &CommandServices,
    database: &SagaDatabase,
    services: &[Service],
) -> Vec<Arc<dyn Consumer>> {
    let mut consumers: Vec<Arc<dyn Consumer>> = Vec::new();
    let commands = || commands.clone();
    let mut add = |consumer: Arc<dyn Consumer>| consumers.push(consumer);
    for service in services {
        match service {
            Service::Atribucion => {
                add(consumer(
                    atribucion::AtribuirConversion {
                        commands: commands(),
                    },
                    database,
                ));
                add(consumer(
                    atribucion::RevertirPorPresupuesto {
                        commands: commands(),
                    },
                    database,
                ));
                add(consumer(
                    atribucion::RevertirPorFraude {
                        commands: commands(),
                    },
                    database,
                ));
            }
            Service::Marketing => {
                add(consumer(
                    marketing::ReservarPresupuesto {
                        commands: commands(),
                    },
                    database,
                ));
                add(consumer(
                    marketing::LiberarPresupuesto {
                        commands: commands(),
                    },
                    database,
                ));
            }
            Service::Comisiones => {
                add(consumer(
                    comisiones::ReservarComision {
                        commands: commands(),
                    },
                    database,
                ));
                add(consumer(
                    comisiones::RevertirComision {
                        commands: commands(),
                    },
                    database,
                ));
            }
            Service::Tracking => {
                add(consumer(
                    tracking::DescartarInteraccion {
                        commands: commands(),
                    },
                    database,
                ));
            }
        }
    }
    consumers
}

fn consumer<R: reactor::Reactor>(reactor: R, database: &SagaDatabase) -> Arc<dyn Consumer> {
    Arc::new(SagaConsumer::new(reactor, database.clone()))
}

/// The names of the consumers [`consumers`] and [`start`] run for `services` (the approval
/// schedule, which has no checkpoint, is not one).
pub fn consumer_names(services: &[Service]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for service in services {
        names.extend_from_slice(match service {
            Service::Atribucion => &[
                names::ATRIBUIR_CONVERSION,
                names::REVERTIR_ATRIBUCION_POR_PRESUPUESTO,
                names::REVERTIR_ATRIBUCION_POR_FRAUDE,
            ][..],
            Service::Marketing => &[names::RESERVAR_PRESUPUESTO, names::LIBERAR_PRESUPUESTO][..],
            Service::Comisiones => &[names::RESERVAR_COMISION, names::REVERTIR_COMISION][..],
            Service::Tracking => &[names::DESCARTAR_INTERACCION][..],
        });
    }
    names
}

/// Starts the saga's reactions that belong to `services` — one runner per consumer, plus the
/// approval schedule with Comisiones — until `shutdown` is cancelled. Their tables live in
/// the event store's database (SQLite, PostgreSQL) or, with EventStoreDB, in the
/// consumers' database of `backend`'s options.
pub async fn start(
    backend: &EventStoreBackend,
    commands: CommandServices,
    services: &[Service],
    config: SagaConfig,
    shutdown: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, SagaError> {
    let database = SagaDatabase::of_backend(backend).await?;
    let mut handles: Vec<JoinHandle<()>> = consumers(&commands, &database, services)
        .into_iter()
        .map(|consumer| {
            ConsumerRunner::new(consumer, backend.log(), backend.leases())
                .with_options(config.runner.clone())
                .spawn(shutdown.clone())
        })
        .collect();
    if services.contains(&Service::Comisiones) {
        let schedule = ApprovalSchedule::new(commands, database, config.clock.clone());
        handles.push(schedule.spawn(backend.leases(), config.approval_interval, shutdown));
    }
    tracing::info!(
        services = ?services,
        consumers = ?consumer_names(services),
        "saga started"
    );
    Ok(handles)
}
