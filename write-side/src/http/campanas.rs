//! Marketing: the Campana commands.
//!
//! `POST /campanas` creates a draft; `activar`, `pausar`, `finalizar`, `cancelar` move it
//! through its lifecycle; `PUT reglas-comision` replaces the rule of one conversion type;
//! `presupuesto/ampliar` adds budget. Budget reservations and releases are the saga's.

use std::collections::BTreeMap;

use alpes_domain::campana::{self, CampanaCommand};
use alpes_domain::{ModeloAtribucion, TipoConversion};
use axum::extract::State;
use axum::routing::{post, put};
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, IdPath, RequestMeta};
use super::types::{Accepted, Created, MoneyJson};
use super::AppState;

/// Where campaigns live.
pub const COLLECTION: &str = "/api/v1/campanas";

/// The routes of the marketing service, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/campanas", post(crear))
        .route("/campanas/{id}/activar", post(activar))
        .route("/campanas/{id}/pausar", post(pausar))
        .route("/campanas/{id}/finalizar", post(finalizar))
        .route("/campanas/{id}/cancelar", post(cancelar))
        .route("/campanas/{id}/reglas-comision", put(actualizar_regla))
        .route(
            "/campanas/{id}/presupuesto/ampliar",
            post(ampliar_presupuesto),
        )
}

/// The brand that runs a campaign.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Marca {
    /// The brand's id.
    pub id: Uuid,
    /// The brand's name; not blank.
    pub nombre: String,
}

/// What kind of campaign it is.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub enum TipoCampana {
    Influencer,
    #[default]
    Afiliados,
    Mixta,
    B2b,
    Display,
    Email,
}

impl From<TipoCampana> for campana::TipoCampana {
    fn from(tipo: TipoCampana) -> Self {
        match tipo {
            TipoCampana::Influencer => campana::TipoCampana::Influencer,
            TipoCampana::Afiliados => campana::TipoCampana::Afiliados,
            TipoCampana::Mixta => campana::TipoCampana::Mixta,
            TipoCampana::B2b => campana::TipoCampana::B2b,
            TipoCampana::Display => campana::TipoCampana::Display,
            TipoCampana::Email => campana::TipoCampana::Email,
        }
    }
}

/// Who the campaign is aimed at; empty lists mean anyone.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentoAudiencia {
    /// The youngest age aimed at; not above `edad_max`.
    #[serde(default)]
    pub edad_min: Option<u8>,
    /// The oldest age aimed at.
    #[serde(default)]
    pub edad_max: Option<u8>,
    #[serde(default)]
    pub generos: Vec<String>,
    #[serde(default)]
    pub ubicaciones: Vec<String>,
    #[serde(default)]
    pub intereses: Vec<String>,
}

impl From<SegmentoAudiencia> for campana::SegmentoAudiencia {
    fn from(segmento: SegmentoAudiencia) -> Self {
        campana::SegmentoAudiencia {
            edad_min: segmento.edad_min,
            edad_max: segmento.edad_max,
            generos: segmento.generos,
            ubicaciones: segmento.ubicaciones,
            intereses: segmento.intereses,
        }
    }
}

/// How a commission is computed from a partner's credit of a conversion (exactly one of
/// the three, e.g. `{"Porcentaje": {"bps": 1000}}` for 10%).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub enum CalculoComision {
    /// A share of the credit in basis points (1,000 = 10%), at most 10,000.
    Porcentaje { bps: u32 },
    /// A flat amount per conversion, in the budget currency.
    Fijo { monto: MoneyJson },
    /// A percentage that grows with the partner's conversions in the campaign; needs a
    /// tier from 0.
    Escalonado { tramos: Vec<Tramo> },
}

/// One tier of an `Escalonado` rule.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tramo {
    /// The partner's earlier conversions from which this tier applies.
    pub desde_conversiones: u32,
    /// The share this tier pays, in basis points.
    pub bps: u32,
}

impl From<CalculoComision> for campana::CalculoComision {
    fn from(calculo: CalculoComision) -> Self {
        match calculo {
            CalculoComision::Porcentaje { bps } => campana::CalculoComision::Porcentaje { bps },
            CalculoComision::Fijo { monto } => campana::CalculoComision::Fijo {
                monto: monto.into(),
            },
            CalculoComision::Escalonado { tramos } => campana::CalculoComision::Escalonado {
                tramos: tramos
                    .into_iter()
                    .map(|tramo| campana::Tramo {
                        desde_conversiones: tramo.desde_conversiones,
                        bps: tramo.bps,
                    })
                    .collect(),
            },
        }
    }
}

/// The commission rule of one conversion type.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReglaComision {
    pub calculo: CalculoComision,
    /// The least each commission pays.
    #[serde(default)]
    pub minimo: Option<MoneyJson>,
    /// The most each commission pays.
    #[serde(default)]
    pub maximo: Option<MoneyJson>,
    /// Calculations that replace `calculo` for some partners, by partner id.
    #[serde(default)]
    pub por_partner: BTreeMap<Uuid, CalculoComision>,
}

impl From<ReglaComision> for campana::ReglaComision {
    fn from(regla: ReglaComision) -> Self {
        campana::ReglaComision {
            calculo: regla.calculo.into(),
            minimo: regla.minimo.map(Into::into),
            maximo: regla.maximo.map(Into::into),
            por_partner: regla
                .por_partner
                .into_iter()
                .map(|(partner, calculo)| (partner, calculo.into()))
                .collect(),
        }
    }
}

/// What a campaign pays, per conversion type; a type without a rule is not paid.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReglasComision {
    #[serde(default)]
    pub compra: Option<ReglaComision>,
    #[serde(default)]
    pub lead: Option<ReglaComision>,
    #[serde(default)]
    pub registro: Option<ReglaComision>,
}

impl From<ReglasComision> for campana::ReglasComision {
    fn from(reglas: ReglasComision) -> Self {
        campana::ReglasComision {
            compra: reglas.compra.map(Into::into),
            lead: reglas.lead.map(Into::into),
            registro: reglas.registro.map(Into::into),
        }
    }
}

/// A conversion type a commission rule pays for.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(as = TipoConversion)]
pub enum TipoConversionJson {
    Compra,
    Lead,
    Registro,
}

impl From<TipoConversionJson> for TipoConversion {
    fn from(tipo: TipoConversionJson) -> Self {
        match tipo {
            TipoConversionJson::Compra => TipoConversion::Compra,
            TipoConversionJson::Lead => TipoConversion::Lead,
            TipoConversionJson::Registro => TipoConversion::Registro,
        }
    }
}

/// How a conversion's value is split between the partners of its journey.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(as = ModeloAtribucion)]
pub enum ModeloAtribucionJson {
    UltimoClick,
    PrimerClick,
    Lineal,
    BasadoEnPosicion,
    DecaimientoTemporal,
}

impl From<ModeloAtribucionJson> for ModeloAtribucion {
    fn from(modelo: ModeloAtribucionJson) -> Self {
        match modelo {
            ModeloAtribucionJson::UltimoClick => ModeloAtribucion::UltimoClick,
            ModeloAtribucionJson::PrimerClick => ModeloAtribucion::PrimerClick,
            ModeloAtribucionJson::Lineal => ModeloAtribucion::Lineal,
            ModeloAtribucionJson::BasadoEnPosicion => ModeloAtribucion::BasadoEnPosicion,
            ModeloAtribucionJson::DecaimientoTemporal => ModeloAtribucion::DecaimientoTemporal,
        }
    }
}

/// How the campaign's conversions are attributed; every field has a default.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfiguracionAtribucion {
    /// `UltimoClick` by default.
    #[serde(default)]
    pub modelo: Option<ModeloAtribucionJson>,
    /// Lookback window in days, at least 1; 30 by default.
    #[serde(default)]
    pub ventana_dias: Option<u32>,
    /// Days after a conversion before its commission can be approved; 30 by default.
    #[serde(default)]
    pub dias_retencion: Option<u32>,
    /// Fraud score (1..=100) from which a conversion is fraud; 50 by default.
    #[serde(default)]
    pub umbral_fraude: Option<u32>,
}

impl From<ConfiguracionAtribucion> for campana::ConfiguracionAtribucion {
    fn from(config: ConfiguracionAtribucion) -> Self {
        let defaults = campana::ConfiguracionAtribucion::default();
        campana::ConfiguracionAtribucion {
            modelo: config.modelo.map_or(defaults.modelo, Into::into),
            ventana_dias: config.ventana_dias.unwrap_or(defaults.ventana_dias),
            dias_retencion: config.dias_retencion.unwrap_or(defaults.dias_retencion),
            umbral_fraude: config.umbral_fraude.unwrap_or(defaults.umbral_fraude),
        }
    }
}

/// Create a campaign as a draft.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrearCampana {
    /// The new campaign's id; generated when absent (derived from the Idempotency-Key
    /// when there is one).
    #[serde(default)]
    pub id: Option<Uuid>,
    pub marca: Marca,
    /// Not blank.
    pub nombre: String,
    /// Not blank.
    pub descripcion: String,
    /// `Afiliados` by default.
    #[serde(default)]
    pub tipo: TipoCampana,
    /// The first day it runs.
    pub fecha_inicio: NaiveDate,
    /// The last day it runs; after `fecha_inicio`.
    pub fecha_fin: NaiveDate,
    #[serde(default)]
    pub segmento: SegmentoAudiencia,
    /// Where it runs (e.g. `instagram`).
    #[serde(default)]
    pub canales: Vec<String>,
    /// How many times one visitor may see it; at least 1 when set.
    #[serde(default)]
    pub frecuencia_maxima: Option<u32>,
    /// The total budget commissions are reserved against; positive.
    pub presupuesto: MoneyJson,
    #[serde(default)]
    pub reglas_comision: ReglasComision,
    #[serde(default)]
    pub atribucion: ConfiguracionAtribucion,
}

impl CrearCampana {
    fn into_command(self, id: Uuid) -> CampanaCommand {
        CampanaCommand::CrearCampana {
            id,
            datos: campana::DatosCampana {
                marca: campana::Marca {
                    id: self.marca.id,
                    nombre: self.marca.nombre,
                },
                nombre: self.nombre,
                descripcion: self.descripcion,
                tipo: self.tipo.into(),
                fecha_inicio: self.fecha_inicio,
                fecha_fin: self.fecha_fin,
                segmento: self.segmento.into(),
                canales: self.canales,
                frecuencia_maxima: self.frecuencia_maxima,
                presupuesto: self.presupuesto.into(),
                reglas_comision: self.reglas_comision.into(),
                atribucion: self.atribucion.into(),
            },
        }
    }
}

/// Call a campaign off for good.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelarCampana {
    /// Why; not blank.
    pub motivo: String,
}

/// Replace the commission rule of one conversion type.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActualizarReglaComision {
    pub tipo_conversion: TipoConversionJson,
    pub regla: ReglaComision,
}

/// Add to a campaign's budget.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmpliarPresupuesto {
    /// Positive, in the budget currency.
    pub monto: MoneyJson,
}

/// Creates a campaign (`Borrador`).
#[utoipa::path(
    post,
    path = "/api/v1/campanas",
    operation_id = "CrearCampana",
    tag = "marketing",
    request_body = CrearCampana,
    params(super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 201, description = "Created; `Location` names the campaign", body = Accepted,
            headers(("Location" = String, description = "/api/v1/campanas/{id}"))),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The campaign already exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused with another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Store unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn crear(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(request): ApiJson<CrearCampana>,
) -> Result<Created, ApiError> {
    let id = request.id.unwrap_or_else(|| meta.new_id("campana", 0));
    let executed = state
        .commands
        .campana(id, request.into_command(id), &meta.context)
        .await?;
    Ok(Created::at(COLLECTION, executed))
}

/// Starts or resumes a campaign (from `Borrador` or `Pausada`).
#[utoipa::path(
    post,
    path = "/api/v1/campanas/{id}/activar",
    operation_id = "ActivarCampana",
    tag = "marketing",
    params(("id" = Uuid, Path, description = "The campaign"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Activated", body = Accepted),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invalid transition, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn activar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
) -> Result<Accepted, ApiError> {
    send(&state, id, CampanaCommand::ActivarCampana, &meta).await
}

/// Pauses an active campaign.
#[utoipa::path(
    post,
    path = "/api/v1/campanas/{id}/pausar",
    operation_id = "PausarCampana",
    tag = "marketing",
    params(("id" = Uuid, Path, description = "The campaign"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Paused", body = Accepted),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invalid transition, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pausar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
) -> Result<Accepted, ApiError> {
    send(&state, id, CampanaCommand::PausarCampana, &meta).await
}

/// Ends an active or paused campaign for good.
#[utoipa::path(
    post,
    path = "/api/v1/campanas/{id}/finalizar",
    operation_id = "FinalizarCampana",
    tag = "marketing",
    params(("id" = Uuid, Path, description = "The campaign"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Finished", body = Accepted),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invalid transition, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn finalizar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
) -> Result<Accepted, ApiError> {
    send(&state, id, CampanaCommand::FinalizarCampana, &meta).await
}

/// Calls a campaign off, from any state before `Finalizada`.
#[utoipa::path(
    post,
    path = "/api/v1/campanas/{id}/cancelar",
    operation_id = "CancelarCampana",
    tag = "marketing",
    request_body = CancelarCampana,
    params(("id" = Uuid, Path, description = "The campaign"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Cancelled", body = Accepted),
        (status = 400, description = "Malformed JSON or an invalid field (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invalid transition, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancelar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<CancelarCampana>,
) -> Result<Accepted, ApiError> {
    let command = CampanaCommand::CancelarCampana {
        motivo: request.motivo,
    };
    send(&state, id, command, &meta).await
}

/// Replaces the commission rule of one conversion type, while the campaign is open.
#[utoipa::path(
    put,
    path = "/api/v1/campanas/{id}/reglas-comision",
    operation_id = "ActualizarReglaComision",
    tag = "marketing",
    request_body = ActualizarReglaComision,
    params(("id" = Uuid, Path, description = "The campaign"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Rule replaced", body = Accepted),
        (status = 400, description = "Malformed JSON, an invalid field or an invalid rule", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The campaign is closed, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn actualizar_regla(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<ActualizarReglaComision>,
) -> Result<Accepted, ApiError> {
    let command = CampanaCommand::ActualizarReglaComision {
        tipo_conversion: request.tipo_conversion.into(),
        regla: request.regla.into(),
    };
    send(&state, id, command, &meta).await
}

/// Adds to the budget, while the campaign is open.
#[utoipa::path(
    post,
    path = "/api/v1/campanas/{id}/presupuesto/ampliar",
    operation_id = "AmpliarPresupuesto",
    tag = "marketing",
    request_body = AmpliarPresupuesto,
    params(("id" = Uuid, Path, description = "The campaign"), super::openapi::IdempotencyKeyHeader),
    responses(
        (status = 200, description = "Budget extended", body = Accepted),
        (status = 400, description = "Malformed JSON, an invalid field or a non-positive amount", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The campaign is closed, or a concurrency conflict after retries", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The amount is in another currency than the budget", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ampliar_presupuesto(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    meta: RequestMeta,
    ApiJson(request): ApiJson<AmpliarPresupuesto>,
) -> Result<Accepted, ApiError> {
    let command = CampanaCommand::AmpliarPresupuesto {
        monto: request.monto.into(),
    };
    send(&state, id, command, &meta).await
}

async fn send(
    state: &AppState,
    id: Uuid,
    command: CampanaCommand,
    meta: &RequestMeta,
) -> Result<Accepted, ApiError> {
    Ok(state
        .commands
        .campana(id, command, &meta.context)
        .await?
        .into())
}
