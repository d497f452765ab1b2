//! Attributions and their partner credits.

use alpes_read::atribucion::{AtribucionView, CreditoRow};
use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::marketing::Campana;
use super::{db, or_load_error};
use crate::loaders::CampanaKey;
use crate::money::Money;

/// An attribution's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub(crate) enum EstadoAtribucion {
    /// Credited to partners.
    Atribuida,
    /// Nobody got credit.
    NoAtribuida,
    /// Rejected by the fraud rules before attribution.
    RechazadaPorFraude,
    /// Held for a fraud review.
    EnRevisionPorFraude,
    /// Credits taken back (budget or fraud).
    Revertida,
}

impl EstadoAtribucion {
    fn stored(self) -> &'static str {
        match self {
            EstadoAtribucion::Atribuida => "Atribuida",
            EstadoAtribucion::NoAtribuida => "NoAtribuida",
            EstadoAtribucion::RechazadaPorFraude => "RechazadaPorFraude",
            EstadoAtribucion::EnRevisionPorFraude => "EnRevisionPorFraude",
            EstadoAtribucion::Revertida => "Revertida",
        }
    }
}

/// Which attributions to list; every field given must match.
#[derive(Clone, Debug, Default, InputObject)]
pub(crate) struct AtribucionFilter {
    /// Of this campaign.
    pub campana_id: Option<Uuid>,
    /// Crediting this partner.
    pub partner_id: Option<Uuid>,
    /// Of this journey.
    pub journey_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoAtribucion>,
}

impl From<AtribucionFilter> for alpes_read::atribucion::AtribucionFilter {
    fn from(filter: AtribucionFilter) -> Self {
        alpes_read::atribucion::AtribucionFilter {
            campana_id: filter.campana_id,
            partner_id: filter.partner_id,
            journey_id: filter.journey_id,
            estado: filter.estado.map(|estado| estado.stored().to_string()),
        }
    }
}

/// One partner's credit of an attributed conversion.
pub(crate) struct Credito(pub CreditoRow);

#[Object]
impl Credito {
    async fn partner_id(&self) -> Uuid {
        self.0.partner_id
    }
    /// The touchpoint that earned it.
    async fn touchpoint_id(&self) -> Uuid {
        self.0.touchpoint_id
    }
    /// The partner's part of the conversion value.
    async fn monto(&self) -> Money {
        self.0.monto().into()
    }
}

/// The attribution of one conversion.
pub(crate) struct Atribucion(pub AtribucionView);

#[Object]
impl Atribucion {
    async fn id(&self) -> Uuid {
        self.0.atribucion.id
    }
    async fn conversion_id(&self) -> Uuid {
        self.0.atribucion.conversion_id
    }
    async fn campana_id(&self) -> Uuid {
        self.0.atribucion.campana_id
    }
    async fn journey_id(&self) -> Uuid {
        self.0.atribucion.journey_id
    }
    /// `Compra`, `Lead` or `Registro`.
    async fn tipo_conversion(&self) -> &str {
        &self.0.atribucion.tipo_conversion
    }
    async fn valor(&self) -> Money {
        self.0.atribucion.valor().into()
    }
    async fn pedido_id(&self) -> Option<&str> {
        self.0.atribucion.pedido_id.as_deref()
    }
    async fn conversion_en(&self) -> DateTime<Utc> {
        self.0.atribucion.conversion_en
    }
    /// `Atribuida`, `NoAtribuida`, `RechazadaPorFraude`, `EnRevisionPorFraude` or `Revertida`.
    async fn estado(&self) -> &str {
        &self.0.atribucion.estado
    }
    async fn modelo(&self) -> Option<&str> {
        self.0.atribucion.modelo.as_deref()
    }
    async fn motivo_no_atribucion(&self) -> Option<&str> {
        self.0.atribucion.motivo_no_atribucion.as_deref()
    }
    /// `Reglas` or `Reportado`.
    async fn fraude_origen(&self) -> Option<&str> {
        self.0.atribucion.fraude_origen.as_deref()
    }
    async fn fraude_reportado_por(&self) -> Option<&str> {
        self.0.atribucion.fraude_reportado_por.as_deref()
    }
    async fn fraude_motivo(&self) -> Option<&str> {
        self.0.atribucion.fraude_motivo.as_deref()
    }
    async fn fraude_puntuacion(&self) -> Option<i64> {
        self.0.atribucion.fraude_puntuacion
    }
    /// `PresupuestoInsuficiente` or `Fraude`.
    async fn motivo_reversion(&self) -> Option<&str> {
        self.0.atribucion.motivo_reversion.as_deref()
    }
    async fn decidida_en(&self) -> DateTime<Utc> {
        self.0.atribucion.decidida_en
    }
    async fn actualizada_en(&self) -> DateTime<Utc> {
        self.0.atribucion.actualizada_en
    }
    /// The partners credited.
    async fn creditos(&self) -> Vec<Credito> {
        self.0.creditos.iter().cloned().map(Credito).collect()
    }
    /// The campaign (batched across a list).
    async fn campana(&self, ctx: &Context<'_>) -> Result<Option<Campana>> {
        let id = self.0.atribucion.campana_id;
        let loaded = db(ctx)?.loader.load_one(CampanaKey(id)).await;
        Ok(or_load_error(loaded)?.map(Campana))
    }
}
