//! The comisiones service's scheduled reaction: approve the commissions whose hold period
//! has passed, unless they were reverted first.

use std::sync::Arc;
use std::time::Duration;

use alpes_domain::comision::{Comision, ComisionCommand};
use alpes_domain::RuleViolation;
use alpes_event_store::{LeaseProvider, StoreError};
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::comisiones::RESERVADA;
use super::database::{parse_uuid, Rejection, SagaDatabase, SqlValue};
use super::names;
use super::reactor::stream;
use super::SagaError;
use crate::{CommandContext, CommandError, CommandServices};

/// Most commissions approved in one round; the rest wait for the next.
const MAX_PER_ROUND: i64 = 1_000;

/// The time as the approval schedule sees it (tests pass one they control).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What one round of approvals did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApprovalRound {
    /// Commissions due (reserved, hold period over, as the ledger knows them).
    pub due: usize,
    /// AprobarComision carried out (an already approved commission counts: no event).
    pub approved: usize,
    /// AprobarComision rejected (still on hold, reverted meanwhile, …): recorded, skipped.
    pub rejected: usize,
}

/// Sends AprobarComision to every reserved commission whose hold period has passed by the
/// clock, as the ledger that `saga.RevertirComision` keeps knows them. A commission
/// reverted meanwhile is refused by its aggregate (TransicionInvalida), which is recorded
/// and skipped, as is one still on hold (PeriodoRetencionVigente).
pub struct ApprovalSchedule {
    commands: CommandServices,
    database: SagaDatabase,
    clock: Arc<dyn Clock>,
}

#[derive(sqlx::FromRow)]
struct VencidaRow {
    comision_id: String,
    journey_id: String,
    reservada_por: String,
}

impl ApprovalSchedule {
    /// The schedule over `database`, sending commands through `commands`.
    pub fn new(commands: CommandServices, database: SagaDatabase, clock: Arc<dyn Clock>) -> Self {
        ApprovalSchedule {
            commands,
            database,
            clock,
        }
    }

    /// One round: approves up to 1,000 due commissions, oldest hold first.
    pub async fn approve_due(&self) -> Result<ApprovalRound, SagaError> {
        let ahora = self.clock.now();
        let vencidas = self.vencidas(ahora).await?;
        let mut round = ApprovalRound {
            due: vencidas.len(),
            ..ApprovalRound::default()
        };
        for vencida in vencidas {
            let comision_id = parse_uuid("saga_comisiones.comision_id", &vencida.comision_id)?;
            let context = CommandContext {
                correlation_id: Some(vencida.journey_id.clone()),
                causation_id: Some(vencida.reservada_por.clone()),
                actor: names::APROBAR_COMISION.to_string(),
                request_id: None,
            };
            let command = ComisionCommand::AprobarComision {
                ahora,
                lote_id: None,
            };
            match self.commands.comision(comision_id, command, &context).await {
                Ok(_) => round.approved += 1,
                Err(CommandError::Rejected(error)) => {
                    round.rejected += 1;
                    self.rechazada(&vencida, comision_id, &error).await?;
                }
                Err(error) => {
                    return Err(SagaError::Command {
                        aggregate: stream::<Comision>(comision_id),
                        reason: error.to_string(),
                    })
                }
            }
        }
        Ok(round)
    }

    async fn vencidas(&self, ahora: DateTime<Utc>) -> Result<Vec<VencidaRow>, StoreError> {
        const SQL: &str = "SELECT comision_id, journey_id, reservada_por FROM saga_comisiones \
             WHERE estado = $1 AND disponible_desde_ms <= $2 \
             ORDER BY disponible_desde_ms, comision_id LIMIT $3";
        let values = [
            SqlValue::Text(RESERVADA.to_string()),
            SqlValue::Integer(ahora.timestamp_millis()),
            SqlValue::Integer(MAX_PER_ROUND),
        ];
        let rows = self
            .database
            .fetch_all(
                names::APROBAR_COMISION,
                "reading the due commissions",
                SQL,
                &values,
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(VencidaRow {
                    comision_id: row.text(0)?.to_string(),
                    journey_id: row.text(1)?.to_string(),
                    reservada_por: row.text(2)?.to_string(),
                })
            })
            .collect()
    }

    async fn rechazada(
        &self,
        vencida: &VencidaRow,
        comision_id: uuid::Uuid,
        error: &impl RuleViolation,
    ) -> Result<(), StoreError> {
        let aggregate = stream::<Comision>(comision_id);
        let reason = error.to_string();
        tracing::info!(
            consumer = names::APROBAR_COMISION,
            aggregate,
            code = error.code(),
            reason,
            "approval rejected; skipped"
        );
        self.database
            .record_rejection(&Rejection {
                consumer: names::APROBAR_COMISION,
                causa: &vencida.reservada_por,
                aggregate: &aggregate,
                command: "AprobarComision",
                code: error.code(),
                reason: &reason,
            })
            .await
    }

    /// Runs a round every `interval` while this process holds the schedule's lease, until
    /// `shutdown`. A failed round is logged and tried again at the next tick.
    pub fn spawn(
        self,
        leases: Arc<dyn LeaseProvider>,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move { self.run(leases, interval, shutdown).await })
    }

    async fn run(
        self,
        leases: Arc<dyn LeaseProvider>,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let name = names::APROBAR_COMISION;
        let pause = interval.max(Duration::from_millis(10));
        loop {
            let acquired = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                acquired = leases.acquire(name) => acquired,
            };
            let mut lease = match acquired {
                Ok(lease) => lease,
                Err(error) => {
                    tracing::warn!(consumer = name, %error, "cannot take the schedule's lease; retrying");
                    if sleep_or_shutdown(pause, &shutdown).await {
                        continue;
                    }
                    break;
                }
            };
            let mut ticks = tokio::time::interval(pause);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                if !lease.is_held().await {
                    tracing::warn!(consumer = name, "schedule lease lost");
                    break;
                }
                match self.approve_due().await {
                    Ok(round) if round.due > 0 => {
                        tracing::info!(consumer = name, ?round, "approval round")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(consumer = name, %error, "approval round failed"),
                }
            }
        }
    }
}

/// False when shutdown came first.
async fn sleep_or_shutdown(pause: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(pause) => true,
    }
}
