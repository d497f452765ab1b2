//! Tracking: the Interaccion commands. Ingest is the hot path: `POST /interacciones` takes
//! one interaction (201) or a JSON array of up to [`MAX_BATCH`] (200 with one result per
//! item, in order; items are registered together but independently, so one bad item does
//! not stop the others).
//!
//! A raw `contexto.usuario.ip` is hashed here (SHA-256, hex, of its canonical form) into
//! `ip_hash`; the raw address is never stored nor echoed.

use std::net::IpAddr;

use alpes_domain::interaccion::{self, InteraccionCommand, InteraccionError};
use alpes_domain::TipoInteraccion;
use alpes_event_store::Position;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, NotReplayable, Problem};
use super::extract::{
    from_json_item, parse_json, parse_json_items, ApiJson, IdPath, JsonBytes, RequestMeta,
};
use super::idempotency::hex;
use super::types::{latest_token, with_consistency, Accepted, Created, MoneyJson};
use super::AppState;
use crate::commands::{CommandContext, CommandError, Executed};

/// Where interactions live.
pub const COLLECTION: &str = "/api/v1/interacciones";
/// The most interactions one request may carry.
pub const MAX_BATCH: usize = 1_000;
/// The routes of the tracking service, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/interacciones", post(registrar))
        .route("/interacciones/{id}/descartar", post(descartar))
}

/// What the visitor did; `Lead`, `Registro` and `Compra` are conversions.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(as = TipoInteraccion)]
pub enum TipoInteraccionJson {
    Vista,
    Click,
    Engagement,
    Lead,
    Registro,
    Compra,
}

impl From<TipoInteraccionJson> for TipoInteraccion {
    fn from(tipo: TipoInteraccionJson) -> Self {
        match tipo {
            TipoInteraccionJson::Vista => TipoInteraccion::Vista,
            TipoInteraccionJson::Click => TipoInteraccion::Click,
            TipoInteraccionJson::Engagement => TipoInteraccion::Engagement,
            TipoInteraccionJson::Lead => TipoInteraccion::Lead,
            TipoInteraccionJson::Registro => TipoInteraccion::Registro,
            TipoInteraccionJson::Compra => TipoInteraccion::Compra,
        }
    }
}

/// Who the visitor is. Give the IP either raw (`ip`, hashed by the server) or already
/// hashed (`ip_hash`), not both.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentidadUsuario {
    #[serde(default)]
    pub usuario_id: Option<String>,
    #[serde(default)]
    pub anonimo_id: Option<String>,
    /// The visitor's IP address; stored only as its SHA-256 in `ip_hash`.
    #[serde(default)]
    pub ip: Option<String>,
    /// The visitor's IP as a hex digest (32 to 128 hex digits).
    #[serde(default)]
    pub ip_hash: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// The visit's UTM parameters.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParametrosUtm {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub medium: Option<String>,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub term: Option<String>,
}

/// Where and how the interaction happened.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextoInteraccion {
    #[serde(default)]
    pub usuario: IdentidadUsuario,
    #[serde(default)]
    pub utm: ParametrosUtm,
    #[serde(default)]
    pub pagina_url: Option<String>,
    #[serde(default)]
    pub referente_url: Option<String>,
    #[serde(default)]
    pub elemento_objetivo: Option<String>,
    #[serde(default)]
    pub dispositivo: Option<String>,
}

/// Register one interaction.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrarInteraccion {
    /// The interaction's id, the client's own idempotency key: registering an id again is
    /// a no-op. Generated when absent (derived from the Idempotency-Key and the item's
    /// position when there is one).
    #[serde(default)]
    pub id: Option<Uuid>,
    pub tipo: TipoInteraccionJson,
    pub campana_id: Uuid,
    /// Absent for organic traffic.
    #[serde(default)]
    pub partner_id: Option<Uuid>,
    /// The visitor's journey that ties touchpoints to a conversion.
    pub journey_id: Uuid,
    /// When it happened; the server's clock when absent.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Required (positive) for a `Compra`.
    #[serde(default)]
    pub valor: Option<MoneyJson>,
    /// Required for a `Compra`; only conversions carry one.
    #[serde(default)]
    pub pedido_id: Option<String>,
    #[serde(default)]
    pub contexto: ContextoInteraccion,
}

impl RegistrarInteraccion {
    fn into_command(self, id: Uuid) -> Result<InteraccionCommand, ApiError> {
        let ContextoInteraccion {
            usuario,
            utm,
            pagina_url,
            referente_url,
            elemento_objetivo,
            dispositivo,
        } = self.contexto;
        let ip_hash = match (usuario.ip, usuario.ip_hash) {
            (Some(_), Some(_)) => {
                return Err(ApiError::field(
                    "contexto.usuario.ip",
                    "give the IP either raw (ip) or hashed (ip_hash), not both",
                ))
            }
            (Some(ip), None) => Some(hash_ip(&ip)?),
            (None, ip_hash) => ip_hash,
        };
        Ok(InteraccionCommand::RegistrarInteraccion {
            id,
            datos: interaccion::DatosInteraccion {
                tipo: self.tipo.into(),
                campana_id: self.campana_id,
                partner_id: self.partner_id,
                journey_id: self.journey_id,
                occurred_at: self.occurred_at.unwrap_or_else(Utc::now),
                valor: self.valor.map(Into::into),
                pedido_id: self.pedido_id,
                contexto: interaccion::ContextoInteraccion {
                    usuario: interaccion::IdentidadUsuario {
                        usuario_id: usuario.usuario_id,
                        anonimo_id: usuario.anonimo_id,
                        ip_hash,
                        user_agent: usuario.user_agent,
                    },
                    utm: interaccion::ParametrosUtm {
                        source: utm.source,
                        medium: utm.medium,
                        campaign: utm.campaign,
                        content: utm.content,
                        term: utm.term,
                    },
                    pagina_url,
                    referente_url,
                    elemento_objetivo,
                    dispositivo,
                },
            },
        })
    }
}

/// SHA-256 (hex) of the address in its canonical text form, so that every spelling of one
/// address (`::ffff:1.2.3.4`, `1.2.3.4`) hashes alike. The address itself is never echoed.
fn hash_ip(ip: &str) -> Result<String, ApiError> {
    let address: IpAddr = ip
        .trim()
        .parse()
        .map_err(|_| ApiError::field("contexto.usuario.ip", "not an IPv4 or IPv6 address"))?;
    let canonical = address.to_canonical().to_string();
    Ok(hex(&Sha256::digest(canonical.as_bytes())))
}

/// One interaction, or a batch of up to 1,000 (for the document only: the handler reads
/// the body itself to answer per item).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum IngestaInteracciones {
    Una(Box<RegistrarInteraccion>),
    Lote(Vec<RegistrarInteraccion>),
}

/// The outcome of one item of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResultadoInteraccion {
    /// The item's position in the request, from 0.
    pub index: usize,
    /// The interaction's id (absent when the item was unreadable and named none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The status the item would have had on its own: 201, or the error's.
    pub status: u16,
    /// The interaction's version, when registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<usize>,
    /// The log position of the item's event (`HIGH:LOW`), when it appended one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
    /// Why the item was not registered; `field` is relative to the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// The answer to a batch: one result per item, in request order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResultadoLoteInteracciones {
    /// Items registered (including repeats of ids already registered).
    pub registered: usize,
    /// Items not registered.
    pub failed: usize,
    /// The latest log position of the batch's events (`HIGH:LOW`), also in the
    /// `X-Consistency-Token` header: a GraphQL query sent with it reads the whole batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
    pub results: Vec<ResultadoInteraccion>,
}

/// Discard a registered interaction.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescartarInteraccion {
    /// Why; not blank.
    pub motivo: String,
}

/// Registers one interaction (201) or a batch of up to 1,000 (200, per-item results).
#[utoipa::path(
    post,
    path = "/api/v1/interacciones",
    operation_id = "RegistrarInteraccion",
    tag = "tracking",
    request_body = IngestaInteracciones,
    params(super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 201, description = "One interaction registered; `Location` names it", body = Accepted,
            headers(("Location" = String, description = "/api/v1/interacciones/{id}"))),
        (status = 200, description = "A batch: one result per item, in order", body = ResultadoLoteInteracciones),
        (status = 400, description = "Malformed JSON, an invalid field (named), an empty or oversized batch", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Store unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn registrar(
    State(state): State<AppState>,
    meta: RequestMeta,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first == Some(&b'[') {
        let items = parse_json_items(&body)?;
        return registrar_lote(&state, &meta, items).await;
    }
    let request: RegistrarInteraccion = parse_json(&body)?;
    let id = request.id.unwrap_or_else(|| meta.new_id("interaccion", 0));
    let command = command_of(&meta, id, request)?;
    let registered = registrar_todas(&state, vec![command]).await.pop();
    let executed = registered.unwrap_or_else(|| Err(missing_answer()))?;
    Ok(Created::at(COLLECTION, executed).into_response())
}

/// An item's command: its id, the command and its context.
type Registration = (Uuid, InteraccionCommand, CommandContext);

fn command_of(
    meta: &RequestMeta,
    id: Uuid,
    request: RegistrarInteraccion,
) -> Result<Registration, ApiError> {
    let context = meta.correlated(request.journey_id);
    let command = request.into_command(id)?;
    Ok((id, command, context))
}

/// Registers every command in one go (see `CommandServices::registrar_interacciones`): one
/// answer per command, in order.
async fn registrar_todas(
    state: &AppState,
    commands: Vec<Registration>,
) -> Vec<Result<Executed, ApiError>> {
    state
        .commands
        .registrar_interacciones(commands)
        .await
        .into_iter()
        .map(|result| result.map_err(rejection))
        .collect()
}

fn missing_answer() -> ApiError {
    ApiError::StoreUnavailable {
        context: "the command services answered no registration".to_string(),
    }
}

/// Names the field of the domain's empty-text rule in this API's terms.
fn rejection(error: CommandError<InteraccionError>) -> ApiError {
    let field = match &error {
        CommandError::Rejected(InteraccionError::CampoVacio { campo }) => Some(match *campo {
            "pedido_id" => "pedido_id".to_string(),
            campo => format!("contexto.{campo}"),
        }),
        CommandError::Rejected(
            InteraccionError::IpHashInvalido | InteraccionError::IpSinHashear,
        ) => Some("contexto.usuario.ip_hash".to_string()),
        CommandError::Rejected(
            InteraccionError::CompraSinValor
            | InteraccionError::ValorCompraNoPositivo { .. }
            | InteraccionError::ValorNegativo { .. },
        ) => Some("valor".to_string()),
        CommandError::Rejected(
            InteraccionError::CompraSinPedido | InteraccionError::PedidoEnNoConversion { .. },
        ) => Some("pedido_id".to_string()),
        _ => None,
    };
    let error = ApiError::from(error);
    match field {
        Some(field) => error.at_field(field),
        None => error,
    }
}

async fn registrar_lote(
    state: &AppState,
    meta: &RequestMeta,
    items: Vec<&RawValue>,
) -> Result<Response, ApiError> {
    if items.is_empty() {
        return Err(ApiError::field("body", "the batch is empty"));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::BatchTooLarge {
            max: MAX_BATCH,
            got: items.len(),
        });
    }
    let mut outcomes: Vec<Option<ItemOutcome>> = Vec::with_capacity(items.len());
    let mut commands = Vec::with_capacity(items.len());
    let mut registered = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match item_command(meta, index, item) {
            Ok(command) => {
                registered.push((index, command.0));
                commands.push(command);
                outcomes.push(None);
            }
            Err(failed) => outcomes.push(Some(*failed)),
        }
    }
    let results = registrar_todas(state, commands).await;
    for ((index, id), result) in registered.into_iter().zip(results) {
        outcomes[index] = Some(item_outcome(index, id, result));
    }
    let outcomes: Vec<ItemOutcome> = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| {
            outcome.unwrap_or_else(|| item_failed(index, None, &missing_answer()))
        })
        .collect();
    Ok(lote_response(outcomes))
}

/// The answer to a batch: every item's result, and the latest log position of them all.
fn lote_response(outcomes: Vec<ItemOutcome>) -> Response {
    let transient = outcomes.iter().any(|outcome| outcome.transient);
    let consistency = latest_token(outcomes.iter().map(|outcome| outcome.position));
    let results: Vec<ResultadoInteraccion> =
        outcomes.into_iter().map(|outcome| outcome.result).collect();
    let failed = results
        .iter()
        .filter(|result| result.error.is_some())
        .count();
    let answer = ResultadoLoteInteracciones {
        registered: results.len() - failed,
        failed,
        consistency: consistency.clone(),
        results,
    };
    let mut response = with_consistency(Json(answer).into_response(), consistency);
    if transient {
        // Items that failed for the store's sake may succeed on a retry with the same key.
        response.extensions_mut().insert(NotReplayable);
    }
    response
}

/// One item's result, whether its failure was transient, and its event's log position.
struct ItemOutcome {
    result: ResultadoInteraccion,
    transient: bool,
    position: Option<Position>,
}

/// The command of the batch's item `index`, or why it has none.
fn item_command(
    meta: &RequestMeta,
    index: usize,
    item: &RawValue,
) -> Result<Registration, Box<ItemOutcome>> {
    let request = match from_json_item::<RegistrarInteraccion>(item) {
        Ok(request) => request,
        Err(error) => return Err(Box::new(item_failed(index, named_id(item), &error))),
    };
    let id = request
        .id
        .unwrap_or_else(|| meta.new_id("interaccion", index));
    command_of(meta, id, request).map_err(|error| Box::new(item_failed(index, Some(id), &error)))
}

/// The id an unreadable item names, if it names a readable one.
fn named_id(item: &RawValue) -> Option<Uuid> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(default)]
        id: Option<serde_json::Value>,
    }
    let named: Named = serde_json::from_str(item.get()).ok()?;
    named
        .id
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
}

fn item_outcome(index: usize, id: Uuid, result: Result<Executed, ApiError>) -> ItemOutcome {
    match result {
        Ok(executed) => ItemOutcome {
            result: ResultadoInteraccion {
                index,
                id: Some(executed.aggregate_id),
                status: 201,
                version: Some(executed.version),
                consistency: executed.position.map(|position| position.to_string()),
                error: None,
            },
            transient: false,
            position: executed.position,
        },
        Err(error) => item_failed(index, Some(id), &error),
    }
}

fn item_failed(index: usize, id: Option<Uuid>, error: &ApiError) -> ItemOutcome {
    let problem = error.problem();
    let result = ResultadoInteraccion {
        index,
        id,
        status: problem.status,
        version: None,
        consistency: None,
        error: Some(problem),
    };
    ItemOutcome {
        result,
        transient: error.is_transient(),
        position: None,
    }
}

/// Discards a registered interaction (a repeat is a no-op).
#[utoipa::path(
    post,
    path = "/api/v1/interacciones/{id}/descartar",
    operation_id = "DescartarInteraccion",
    tag = "tracking",
    request_body = DescartarInteraccion,
    params(("id" = Uuid, Path, description = "The interaction"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Discarded", body = Accepted),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interaction", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn descartar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<DescartarInteraccion>,
) -> Result<Accepted, ApiError> {
    let command = InteraccionCommand::DescartarInteraccion {
        motivo: request.motivo,
    };
    Ok(state
        .commands
        .interaccion(id, command, &meta.context)
        .await?
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_address_hashes_alike_and_never_echoes_it() {
        let v4 = hash_ip("203.0.113.7").unwrap();
        assert_eq!(v4.len(), 64);
        assert_eq!(v4, hash_ip(" ::ffff:203.0.113.7 ").unwrap());
        assert_ne!(v4, hash_ip("203.0.113.8").unwrap());
        let error = hash_ip("203.0.113.x").unwrap_err();
        assert!(!error.to_string().contains("203.0"), "{error}");
        assert_eq!(
            error.problem().field.as_deref(),
            Some("contexto.usuario.ip")
        );
    }
}
