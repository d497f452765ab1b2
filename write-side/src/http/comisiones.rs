//! Comisiones: approving, paying and reverting commissions, one at a time or in batches
//! (`POST /comisiones/lotes`, see [`super::lotes`]). Reserving a commission is the saga's.
//! The clock of approvals and payments is the server's.

use alpes_domain::comision::ComisionCommand;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, IdPath, RequestMeta};
use super::lotes;
use super::types::Accepted;
use super::AppState;

/// The routes of the comisiones service, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/comisiones/lotes", post(lotes::ejecutar_lote))
        .route("/comisiones/{id}/aprobar", post(aprobar))
        .route("/comisiones/{id}/pagar", post(pagar))
        .route("/comisiones/{id}/revertir", post(revertir))
}

/// Record that an approved commission was paid.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PagarComision {
    /// The payment's reference (transfer, payout line); not blank.
    pub referencia_pago: String,
}

/// Revert a commission (fraud, refund): the budget is released, a paid one clawed back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertirComision {
    /// Why; not blank.
    pub motivo: String,
}

/// Approves a reserved commission whose hold period has passed (a repeat is a no-op).
#[utoipa::path(
    post,
    path = "/api/v1/comisiones/{id}/aprobar",
    operation_id = "AprobarComision",
    tag = "comisiones",
    params(("id" = Uuid, Path, description = "The commission"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Approved", body = Accepted),
        (status = 404, description = "No such commission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Paid or reverted already, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The hold period has not passed (PeriodoRetencionVigente)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn aprobar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
) -> Result<Accepted, ApiError> {
    let command = ComisionCommand::AprobarComision {
        ahora: Utc::now(),
        lote_id: None,
    };
    send(&state, id, command, &meta).await
}

/// Records the payment of an approved commission (a repeat is a no-op).
#[utoipa::path(
    post,
    path = "/api/v1/comisiones/{id}/pagar",
    operation_id = "PagarComision",
    tag = "comisiones",
    request_body = PagarComision,
    params(("id" = Uuid, Path, description = "The commission"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Paid", body = Accepted),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such commission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved, reverted, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pagar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<PagarComision>,
) -> Result<Accepted, ApiError> {
    let command = ComisionCommand::PagarComision {
        referencia_pago: request.referencia_pago,
        lote_id: None,
        ahora: Utc::now(),
    };
    send(&state, id, command, &meta).await
}

/// Reverts a commission in any state (a repeat is a no-op).
#[utoipa::path(
    post,
    path = "/api/v1/comisiones/{id}/revertir",
    operation_id = "RevertirComision",
    tag = "comisiones",
    request_body = RevertirComision,
    params(("id" = Uuid, Path, description = "The commission"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Reverted", body = Accepted),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such commission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revertir(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<RevertirComision>,
) -> Result<Accepted, ApiError> {
    let command = ComisionCommand::RevertirComision {
        motivo: request.motivo,
    };
    send(&state, id, command, &meta).await
}

async fn send(
    state: &AppState,
    id: Uuid,
    command: ComisionCommand,
    meta: &RequestMeta,
) -> Result<Accepted, ApiError> {
    Ok(state
        .commands
        .comision(id, command, &meta.context)
        .await?
        .into())
}
