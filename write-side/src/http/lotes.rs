//! `POST /comisiones/lotes`: approve or pay many commissions under one batch id.
//!
//! How the commissions are found, without reading another service's views:
//! - by `comision_ids` given in the request: each Comision aggregate is asked directly;
//! - or by filters (`campana_id`, `partner_id`): the comisiones service keeps its own small
//!   table, `comisiones_conocidas` ([`KnownCommissions`]), fed from the global log by its
//!   own consumer ([`LOTES_CONSUMER`]) that writes rows and checkpoint in one transaction.
//!   Eligible means `Reservada` with the hold period over (approve) or `Aprobada` (pay),
//!   oldest first, at most `limite`.
//!
//! The aggregate stays the authority either way: each commission gets its own command, and
//! what it refuses (hold period not over, reverted meanwhile, already done) is answered in
//! `skipped` with the rule's code, while the others are `done`.

use std::str::FromStr;

use alpes_domain::comision::{Comision, ComisionCommand, ComisionEvent};
use alpes_event_store::postgres::PostgresCheckpoints;
use alpes_event_store::sqlite::{
    checkpoint_statement, load_checkpoint, SqlParam, SqlStatement, SqliteEventStore,
};
use alpes_event_store::{CheckpointStore, Consumer, ConsumerError, Position, RecordedEvent};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Days, SecondsFormat, Utc};
use cqrs_es::Aggregate;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};
use utoipa::ToSchema;
use uuid::Uuid;

use super::database::{SqlDatabase, SqliteTables};
use super::error::{ApiError, NotReplayable, Problem};
use super::extract::{ApiJson, RequestMeta};
use super::types::{latest_token, with_consistency};
use super::AppState;
use crate::commands::{CommandError, Executed};

/// The name (checkpoint and lease) of the consumer that feeds `comisiones_conocidas`.
pub const LOTES_CONSUMER: &str = "comisiones-lotes";
/// The most commissions one batch may touch.
pub const MAX_LOTE: u32 = 1_000;
/// How many commissions a batch found by filters touches when `limite` is absent.
pub const DEFAULT_LIMITE: u32 = 100;
/// How many commissions of a batch get their command at once.
const CONCURRENCY: usize = 16;

/// What a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum AccionLote {
    /// Approve reserved commissions whose hold period is over.
    Aprobar,
    /// Pay approved commissions, all under one payout reference.
    Pagar,
}

/// Approve or pay commissions under one batch id.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoteComisiones {
    pub accion: AccionLote,
    /// The batch id recorded on every approval or payment; generated when absent (derived
    /// from the Idempotency-Key when there is one).
    #[serde(default)]
    pub lote_id: Option<Uuid>,
    /// The payout reference of every payment; required to pay.
    #[serde(default)]
    pub referencia_pago: Option<String>,
    /// Only this campaign's commissions (filters; not with `comision_ids`).
    #[serde(default)]
    pub campana_id: Option<Uuid>,
    /// Only this partner's commissions (filters; not with `comision_ids`).
    #[serde(default)]
    pub partner_id: Option<Uuid>,
    /// Exactly these commissions (at most 1,000), asked directly instead of searched.
    #[serde(default)]
    pub comision_ids: Option<Vec<Uuid>>,
    /// With filters: the most commissions to touch, 1..=1,000; 100 by default.
    #[serde(default)]
    pub limite: Option<u32>,
}

/// A commission the batch approved or paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComisionHecha {
    pub id: Uuid,
    /// The commission's version after the command.
    pub version: usize,
}

/// A commission the batch left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComisionOmitida {
    pub id: Uuid,
    /// The rule's code (`PeriodoRetencionVigente`, `TransicionInvalida`, `NoExiste`, …),
    /// or `YaAprobada` / `YaPagada` when it already was.
    pub code: String,
    /// Why, in words.
    pub reason: String,
}

/// What a batch did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResultadoLote {
    pub lote_id: Uuid,
    pub accion: AccionLote,
    pub done: Vec<ComisionHecha>,
    pub skipped: Vec<ComisionOmitida>,
    /// The latest log position of the batch's events (`HIGH:LOW`), also in the
    /// `X-Consistency-Token` header; absent when the batch appended nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
}

/// Approves or pays up to `limite` eligible commissions (or the ones named) under one
/// batch id; answers what was done and what was skipped and why.
#[utoipa::path(
    post,
    path = "/api/v1/comisiones/lotes",
    operation_id = "EjecutarLoteComisiones",
    tag = "comisiones",
    request_body = LoteComisiones,
    params(super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "The batch ran; see done and skipped", body = ResultadoLote),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Store unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ejecutar_lote(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<LoteComisiones>,
) -> Result<Response, ApiError> {
    let plan = Plan::from_request(&request)?;
    let candidates = match &request.comision_ids {
        // A commission named twice gets one command.
        Some(ids) => {
            let mut seen = std::collections::HashSet::new();
            ids.iter().copied().filter(|id| seen.insert(*id)).collect()
        }
        None => {
            let known = state
                .known_commissions
                .as_ref()
                .ok_or_else(|| ApiError::store("the comisiones service is not running"))?;
            let filter = Filter {
                campana_id: request.campana_id,
                partner_id: request.partner_id,
            };
            known
                .eligible(request.accion, &filter, Utc::now(), plan.limite)
                .await
                .map_err(|error| {
                    ApiError::store(format!("finding eligible commissions: {error}"))
                })?
        }
    };
    let lote_id = request.lote_id.unwrap_or_else(|| meta.new_id("lote", 0));
    let ahora = Utc::now();
    let outcomes: Vec<(Uuid, Result<Executed, CommandError<_>>)> = stream::iter(candidates)
        .map(|id| {
            let command = plan.command(lote_id, ahora);
            let state = &state;
            let meta = &meta;
            async move {
                let outcome = state.commands.comision(id, command, &meta.context).await;
                (id, outcome)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut answer = ResultadoLote {
        lote_id,
        accion: request.accion,
        done: Vec::new(),
        skipped: Vec::new(),
        consistency: latest_token(
            outcomes
                .iter()
                .map(|(_, outcome)| outcome.as_ref().ok().and_then(|done| done.position)),
        ),
    };
    let mut transient = false;
    for (id, outcome) in outcomes {
        match outcome {
            Ok(executed) if executed.appended > 0 => answer.done.push(ComisionHecha {
                id,
                version: executed.version,
            }),
            Ok(_) => answer.skipped.push(already_done(id, request.accion)),
            Err(error) => {
                let error = ApiError::from(error);
                transient |= error.is_transient();
                answer.skipped.push(ComisionOmitida {
                    id,
                    code: error.code().to_string(),
                    reason: error.problem().detail,
                });
            }
        }
    }
    let consistency = answer.consistency.clone();
    let mut response = with_consistency(Json(answer).into_response(), consistency);
    if transient {
        response.extensions_mut().insert(NotReplayable);
    }
    Ok(response)
}

fn already_done(id: Uuid, accion: AccionLote) -> ComisionOmitida {
    let (code, reason) = match accion {
        AccionLote::Aprobar => ("YaAprobada", "the commission was already approved"),
        AccionLote::Pagar => ("YaPagada", "the commission was already paid"),
    };
    ComisionOmitida {
        id,
        code: code.to_string(),
        reason: reason.to_string(),
    }
}

/// A validated batch request.
struct Plan {
    accion: AccionLote,
    referencia_pago: String,
    limite: u32,
}

impl Plan {
    fn from_request(request: &LoteComisiones) -> Result<Plan, ApiError> {
        let limite = request.limite.unwrap_or(DEFAULT_LIMITE);
        if !(1..=MAX_LOTE).contains(&limite) {
            return Err(ApiError::field(
                "limite",
                format!("must be within 1..={MAX_LOTE}"),
            ));
        }
        if let Some(ids) = &request.comision_ids {
            if request.campana_id.is_some() || request.partner_id.is_some() {
                return Err(ApiError::field(
                    "comision_ids",
                    "give comision_ids or filters (campana_id, partner_id), not both",
                ));
            }
            if ids.is_empty() || ids.len() > MAX_LOTE as usize {
                return Err(ApiError::field(
                    "comision_ids",
                    format!("must name 1 to {MAX_LOTE} commissions"),
                ));
            }
        }
        let referencia_pago = request.referencia_pago.clone().unwrap_or_default();
        match request.accion {
            AccionLote::Pagar if referencia_pago.trim().is_empty() => Err(ApiError::field(
                "referencia_pago",
                "a payment batch needs its payout reference",
            )),
            AccionLote::Aprobar if request.referencia_pago.is_some() => Err(ApiError::field(
                "referencia_pago",
                "only a payment batch has a payout reference",
            )),
            accion => Ok(Plan {
                accion,
                referencia_pago,
                limite,
            }),
        }
    }

    fn command(&self, lote_id: Uuid, ahora: DateTime<Utc>) -> ComisionCommand {
        match self.accion {
            AccionLote::Aprobar => ComisionCommand::AprobarComision {
                ahora,
                lote_id: Some(lote_id),
            },
            AccionLote::Pagar => ComisionCommand::PagarComision {
                referencia_pago: self.referencia_pago.clone(),
                lote_id: Some(lote_id),
                ahora,
            },
        }
    }
}

/// Which commissions a batch found by filters may touch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub campana_id: Option<Uuid>,
    pub partner_id: Option<Uuid>,
}

/// The `comisiones_conocidas` table: every commission the log has shown, its campaign,
/// partner, state and the end of its hold period. Also the [`Consumer`] that keeps it.
#[derive(Clone, Debug)]
pub struct KnownCommissions {
    database: SqlDatabase,
}

/// What one Comision event changes in the table.
enum Change {
    Known {
        id: Uuid,
        campana_id: Uuid,
        partner_id: Uuid,
        disponible_desde: Option<DateTime<Utc>>,
    },
    Moved {
        id: Uuid,
        estado: &'static str,
    },
}

impl KnownCommissions {
    /// The table in `database`.
    pub fn new(database: SqlDatabase) -> Self {
        KnownCommissions { database }
    }

    /// Up to `limit` commissions eligible for `accion` at `now`, oldest first.
    pub async fn eligible(
        &self,
        accion: AccionLote,
        filter: &Filter,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        let estado = match accion {
            AccionLote::Aprobar => "Reservada",
            AccionLote::Pagar => "Aprobada",
        };
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT comision_id FROM comisiones_conocidas WHERE estado = ",
                );
                query.push_bind(estado);
                if let Some(campana) = filter.campana_id {
                    query
                        .push(" AND campana_id = ")
                        .push_bind(campana.to_string());
                }
                if let Some(partner) = filter.partner_id {
                    query
                        .push(" AND partner_id = ")
                        .push_bind(partner.to_string());
                }
                if accion == AccionLote::Aprobar {
                    query
                        .push(" AND disponible_desde <= ")
                        .push_bind(sqlite_time(now));
                }
                query
                    .push(" ORDER BY disponible_desde, comision_id LIMIT ")
                    .push_bind(i64::from(limit));
                let rows = query.build().fetch_all(pool).await?;
                rows.iter()
                    .map(|row| {
                        let id: String = row.try_get("comision_id")?;
                        Uuid::from_str(&id).map_err(|error| sqlx::Error::Decode(Box::new(error)))
                    })
                    .collect()
            }
            SqlDatabase::Postgres(pool) => {
                let mut query = QueryBuilder::<Postgres>::new(
                    "SELECT comision_id FROM comisiones_conocidas WHERE estado = ",
                );
                query.push_bind(estado);
                if let Some(campana) = filter.campana_id {
                    query.push(" AND campana_id = ").push_bind(campana);
                }
                if let Some(partner) = filter.partner_id {
                    query.push(" AND partner_id = ").push_bind(partner);
                }
                if accion == AccionLote::Aprobar {
                    query.push(" AND disponible_desde <= ").push_bind(now);
                }
                query
                    .push(" ORDER BY disponible_desde, comision_id LIMIT ")
                    .push_bind(i64::from(limit));
                let rows = query.build().fetch_all(pool).await?;
                rows.iter().map(|row| row.try_get("comision_id")).collect()
            }
        }
    }

    /// How many commissions the table knows (for tests and diagnostics).
    pub async fn count(&self) -> Result<i64, sqlx::Error> {
        const COUNT: &str = "SELECT COUNT(*) FROM comisiones_conocidas";
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                sqlx::query_scalar(COUNT).fetch_one(pool).await
            }
            SqlDatabase::Postgres(pool) => sqlx::query_scalar(COUNT).fetch_one(pool).await,
        }
    }

    async fn apply_sqlite(
        store: &SqliteEventStore,
        changes: &[Change],
        last: Position,
    ) -> Result<(), ConsumerError> {
        let mut statements: Vec<SqlStatement> = changes
            .iter()
            .map(|change| match change {
                Change::Known {
                    id,
                    campana_id,
                    partner_id,
                    disponible_desde,
                } => SqlStatement::new(
                    "INSERT INTO comisiones_conocidas \
                     (comision_id, campana_id, partner_id, estado, disponible_desde) \
                     VALUES (?1, ?2, ?3, 'Reservada', ?4) ON CONFLICT (comision_id) DO NOTHING",
                    vec![
                        SqlParam::Text(id.to_string()),
                        SqlParam::Text(campana_id.to_string()),
                        SqlParam::Text(partner_id.to_string()),
                        SqlParam::from(disponible_desde.map(sqlite_time)),
                    ],
                ),
                Change::Moved { id, estado } => SqlStatement::new(
                    "UPDATE comisiones_conocidas SET estado = ?1 WHERE comision_id = ?2",
                    vec![SqlParam::from(*estado), SqlParam::Text(id.to_string())],
                ),
            })
            .collect();
        statements.push(checkpoint_statement(LOTES_CONSUMER, last)?);
        store
            .write(
                "recording the commissions the comisiones service knows",
                statements,
            )
            .await?;
        Ok(())
    }

    async fn apply_postgres(
        pool: &sqlx::PgPool,
        changes: &[Change],
        last: Position,
    ) -> Result<(), ConsumerError> {
        let mut transaction = pool.begin().await.map_err(db_error)?;
        for change in changes {
            match change {
                Change::Known {
                    id,
                    campana_id,
                    partner_id,
                    disponible_desde,
                } => {
                    sqlx::query(
                        "INSERT INTO comisiones_conocidas \
                         (comision_id, campana_id, partner_id, estado, disponible_desde) \
                         VALUES ($1, $2, $3, 'Reservada', $4) ON CONFLICT (comision_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(campana_id)
                    .bind(partner_id)
                    .bind(disponible_desde)
                    .execute(&mut *transaction)
                    .await
                    .map_err(db_error)?;
                }
                Change::Moved { id, estado } => {
                    sqlx::query(
                        "UPDATE comisiones_conocidas SET estado = $1 WHERE comision_id = $2",
                    )
                    .bind(*estado)
                    .bind(id)
                    .execute(&mut *transaction)
                    .await
                    .map_err(db_error)?;
                }
            }
        }
        PostgresCheckpoints::save_in(&mut transaction, LOTES_CONSUMER, last).await?;
        transaction.commit().await.map_err(db_error)
    }
}

#[async_trait::async_trait]
impl Consumer for KnownCommissions {
    fn name(&self) -> &str {
        LOTES_CONSUMER
    }

    async fn checkpoint(&self) -> Result<Position, ConsumerError> {
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { pool, .. }) => {
                let mut connection = pool.acquire().await.map_err(db_error)?;
                Ok(load_checkpoint(&mut connection, LOTES_CONSUMER).await?)
            }
            SqlDatabase::Postgres(pool) => Ok(PostgresCheckpoints::new(pool.clone())
                .load(LOTES_CONSUMER)
                .await?),
        }
    }

    fn wants(&self, aggregate_type: &str, _event_type: &str) -> bool {
        aggregate_type == Comision::TYPE
    }

    async fn skip_to(&self, position: Position) -> Result<(), ConsumerError> {
        self.apply(&[], position).await
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        let Some(last) = batch.last().map(|event| event.position) else {
            return Ok(());
        };
        let changes = batch
            .iter()
            .filter(|event| event.event.aggregate_type == Comision::TYPE)
            .map(change_of)
            .collect::<Result<Vec<_>, _>>()?;
        self.apply(&changes, last).await
    }
}

impl KnownCommissions {
    /// Applies `changes` and saves the checkpoint `last`, together.
    async fn apply(&self, changes: &[Change], last: Position) -> Result<(), ConsumerError> {
        match &self.database {
            SqlDatabase::Sqlite(SqliteTables { store, .. }) => {
                Self::apply_sqlite(store, changes, last).await
            }
            SqlDatabase::Postgres(pool) => Self::apply_postgres(pool, changes, last).await,
        }
    }
}

fn change_of(event: &RecordedEvent) -> Result<Change, ConsumerError> {
    let envelope = event.decode::<Comision>()?;
    let id = Uuid::from_str(&envelope.aggregate_id).map_err(ConsumerError::new)?;
    Ok(match envelope.payload {
        ComisionEvent::ComisionReservada { datos, .. } => Change::Known {
            id,
            campana_id: datos.campana_id,
            partner_id: datos.partner_id,
            disponible_desde: datos
                .fecha_conversion
                .checked_add_days(Days::new(u64::from(datos.dias_retencion))),
        },
        ComisionEvent::ComisionAprobada { .. } => Change::Moved {
            id,
            estado: "Aprobada",
        },
        ComisionEvent::ComisionPagada { .. } => Change::Moved {
            id,
            estado: "Pagada",
        },
        ComisionEvent::ComisionRevertida { .. } => Change::Moved {
            id,
            estado: "Revertida",
        },
    })
}

/// UTC with microseconds and a `Z`: fixed width, so text order is time order.
fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn db_error(error: sqlx::Error) -> ConsumerError {
    ConsumerError::new(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(accion: AccionLote) -> LoteComisiones {
        LoteComisiones {
            accion,
            lote_id: None,
            referencia_pago: None,
            campana_id: None,
            partner_id: None,
            comision_ids: None,
            limite: None,
        }
    }

    #[test]
    fn a_payment_batch_needs_its_reference() {
        let error = Plan::from_request(&request(AccionLote::Pagar))
            .err()
            .unwrap();
        assert_eq!(error.problem().field.as_deref(), Some("referencia_pago"));
        let mut pagar = request(AccionLote::Pagar);
        pagar.referencia_pago = Some("SEPA-1".to_string());
        assert!(Plan::from_request(&pagar).is_ok());
    }

    #[test]
    fn ids_and_filters_do_not_mix_and_limits_are_bounded() {
        let mut both = request(AccionLote::Aprobar);
        both.comision_ids = Some(vec![Uuid::new_v4()]);
        both.campana_id = Some(Uuid::new_v4());
        assert!(Plan::from_request(&both).is_err());
        let mut too_many = request(AccionLote::Aprobar);
        too_many.limite = Some(MAX_LOTE + 1);
        assert!(Plan::from_request(&too_many).is_err());
        assert_eq!(
            Plan::from_request(&request(AccionLote::Aprobar))
                .ok()
                .unwrap()
                .limite,
            DEFAULT_LIMITE
        );
    }

    #[test]
    fn sqlite_times_sort_as_text_in_time_order() {
        let early = DateTime::parse_from_rfc3339("2026-03-02T09:59:59.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let late = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(sqlite_time(early) < sqlite_time(late));
        assert_eq!(sqlite_time(late), "2026-03-02T10:00:00.000000Z");
    }
}
