//! The OpenAPI 3.1 document of the command API, generated from the handlers' types and
//! served at `/api/v1/openapi.json`. A test keeps `docs/openapi.json` equal to it
//! (`ALPES_REGENERATE_OPENAPI=1 cargo test -p alpes-write --test http_openapi` rewrites it).

use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::{atribuciones, campanas, comisiones, interacciones, lotes};

/// The `Idempotency-Key` header every command accepts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// 1 to 255 visible ASCII characters (a UUID is a good choice). A retry with the same
    /// key and the same request gets the first answer back and changes nothing; the same
    /// key with another request is 422 `IdempotencyKeyReused`; while the first request is
    /// still running, 409 `IdempotencyKeyInProgress` with `Retry-After`. Keys are kept at
    /// least 24 hours. Answers to store failures and concurrency conflicts are not kept.
    #[param(rename = "Idempotency-Key")]
    #[serde(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Alpes command API",
        version = "1",
        description = "The write side of Alpes: one route per command, grouped by service \
            (marketing, tracking, atribucion, comisiones). Routes of services a process does \
            not run answer 404. Errors are application/problem+json with the rule's `code`: \
            400 malformed JSON or an invalid field (named in `field`), 404 unknown aggregate, \
            409 invalid transition or concurrency conflict (after bounded server-side \
            retries), 422 business rule, 503 store unavailable."
    ),
    paths(
        super::health,
        super::ready,
        campanas::crear,
        campanas::activar,
        campanas::pausar,
        campanas::finalizar,
        campanas::cancelar,
        campanas::actualizar_regla,
        campanas::ampliar_presupuesto,
        interacciones::registrar,
        interacciones::descartar,
        atribuciones::marcar_fraude,
        comisiones::aprobar,
        comisiones::pagar,
        comisiones::revertir,
        lotes::ejecutar_lote,
    ),
    tags(
        (name = "marketing", description = "Campaigns, budgets and commission rules"),
        (name = "tracking", description = "Clicks, views, leads and purchases"),
        (name = "atribucion", description = "Which partners get credit for a conversion"),
        (name = "comisiones", description = "Commissions from approval to payment"),
        (name = "operations", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/v1/openapi.json`.
pub async fn serve_document() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
