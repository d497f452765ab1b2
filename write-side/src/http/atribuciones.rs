//! Atribucion: fraud reported by a person or an outside system after attribution, which
//! starts the compensation (the saga reverts the commission, the attribution and the
//! journey's interactions). Attributing conversions and reverting attributions are the
//! saga's commands and are not exposed.
//!
//! `{id}` is either the Atribucion's id or the id of the conversion's interaction (the
//! purchase, lead or sign-up the client registered): the Atribucion of a conversion is
//! `ids::atribucion_id(interaction)`, so a client that only knows its purchase can report
//! it. The Atribucion's own id is tried first; the two id spaces never overlap (v5 ids
//! derived under the Alpes namespace versus the client's ids).

use alpes_domain::atribucion::{AtribucionCommand, AtribucionError, OrigenFraude};
use alpes_domain::ids;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, IdPath, RequestMeta};
use super::types::Accepted;
use super::AppState;
use crate::commands::CommandError;

/// The routes of the atribucion service, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/atribuciones/{id}/fraude", post(marcar_fraude))
}

/// Report a conversion as fraud.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarcarFraude {
    /// Why it is fraud; not blank.
    pub motivo: String,
    /// Who reports it (a person or a system); not blank.
    pub reportado_por: String,
}

/// Reports fraud on an attributed conversion (a repeat is a no-op).
#[utoipa::path(
    post,
    path = "/api/v1/atribuciones/{id}/fraude",
    operation_id = "MarcarFraude",
    tag = "atribucion",
    request_body = MarcarFraude,
    params(
        ("id" = Uuid, Path, description = "The Atribucion, or the conversion's interaction (purchase) it was derived from"),
        super::openapi::IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "Marked as fraud; `id` is the Atribucion's", body = Accepted),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No attribution for this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not attributed (nothing to compensate), or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn marcar_fraude(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<MarcarFraude>,
) -> Result<Accepted, ApiError> {
    let command = AtribucionCommand::MarcarFraude {
        motivo: request.motivo,
        origen: OrigenFraude::Reportado {
            reportado_por: request.reportado_por,
        },
    };
    let (target, journey) = resolve(&state, id).await.map_err(with_field)?;
    // The report joins the journey's saga log, as every event of the saga does.
    let context = match journey {
        Some(journey) => meta.correlated(journey),
        None => meta.context.clone(),
    };
    state
        .commands
        .atribucion(target, command, &context)
        .await
        .map(Accepted::from)
        .map_err(with_field)
}

/// The attribution `id` names (its own id, or the id of its purchase) and its journey;
/// `id` itself and no journey when neither exists (the command then answers 404).
async fn resolve(
    state: &AppState,
    id: Uuid,
) -> Result<(Uuid, Option<Uuid>), CommandError<AtribucionError>> {
    for candidate in [id, ids::atribucion_id(&id)] {
        let atribucion = state.commands.load_atribucion(candidate).await?;
        if let Some(conversion) = atribucion.conversion {
            return Ok((candidate, Some(conversion.journey_id)));
        }
    }
    Ok((id, None))
}

/// Names the request field of the domain's input rules.
fn with_field(error: CommandError<AtribucionError>) -> ApiError {
    let field = match &error {
        CommandError::Rejected(AtribucionError::TextoVacio { campo }) => Some(match *campo {
            "origen.reportado_por" => "reportado_por",
            other => other,
        }),
        _ => None,
    };
    let error = ApiError::from(error);
    match field {
        Some(field) => error.at_field(field),
        None => error,
    }
}
