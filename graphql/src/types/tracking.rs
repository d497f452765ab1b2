//! Interactions and daily statistics.

use alpes_domain::TipoInteraccion as DomainTipo;
use alpes_read::tracking::{EstadisticaDiariaRow, InteraccionRow};
use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::marketing::Campana;
use super::{db, or_load_error};
use crate::loaders::CampanaKey;
use crate::money::Money;

/// An interaction's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub(crate) enum TipoInteraccion {
    /// An impression.
    Vista,
    /// A click.
    Click,
    /// A like or a share.
    Engagement,
    /// A lead.
    Lead,
    /// A sign-up.
    Registro,
    /// A purchase.
    Compra,
}

impl From<TipoInteraccion> for DomainTipo {
    fn from(tipo: TipoInteraccion) -> Self {
        match tipo {
            TipoInteraccion::Vista => DomainTipo::Vista,
            TipoInteraccion::Click => DomainTipo::Click,
            TipoInteraccion::Engagement => DomainTipo::Engagement,
            TipoInteraccion::Lead => DomainTipo::Lead,
            TipoInteraccion::Registro => DomainTipo::Registro,
            TipoInteraccion::Compra => DomainTipo::Compra,
        }
    }
}

/// Which interactions to list; every field given must match.
#[derive(Clone, Debug, Default, InputObject)]
pub(crate) struct InteraccionFilter {
    /// Of this campaign.
    pub campana_id: Option<Uuid>,
    /// Driven by this partner.
    pub partner_id: Option<Uuid>,
    /// Of this journey.
    pub journey_id: Option<Uuid>,
    /// Of this type.
    pub tipo: Option<TipoInteraccion>,
    /// Happened at or after this instant.
    pub desde: Option<DateTime<Utc>>,
    /// Happened before this instant.
    pub hasta: Option<DateTime<Utc>>,
    /// Discarded (`true`) or not (`false`).
    pub descartada: Option<bool>,
}

impl From<InteraccionFilter> for alpes_read::tracking::InteraccionFilter {
    fn from(filter: InteraccionFilter) -> Self {
        alpes_read::tracking::InteraccionFilter {
            campana_id: filter.campana_id,
            partner_id: filter.partner_id,
            journey_id: filter.journey_id,
            tipo: filter.tipo.map(Into::into),
            desde: filter.desde,
            hasta: filter.hasta,
            descartada: filter.descartada,
        }
    }
}

/// One interaction, as registered; discarded ones stay, flagged.
pub(crate) struct Interaccion(pub InteraccionRow);

#[Object]
impl Interaccion {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn campana_id(&self) -> Uuid {
        self.0.campana_id
    }
    /// None for organic traffic.
    async fn partner_id(&self) -> Option<Uuid> {
        self.0.partner_id
    }
    async fn journey_id(&self) -> Uuid {
        self.0.journey_id
    }
    /// `Vista`, `Click`, `Engagement`, `Lead`, `Registro` or `Compra`.
    async fn tipo(&self) -> &str {
        &self.0.tipo
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn valor(&self) -> Option<Money> {
        self.0.valor().map(Into::into)
    }
    async fn pedido_id(&self) -> Option<&str> {
        self.0.pedido_id.as_deref()
    }
    async fn dispositivo(&self) -> Option<&str> {
        self.0.dispositivo.as_deref()
    }
    async fn utm_source(&self) -> Option<&str> {
        self.0.utm_source.as_deref()
    }
    async fn descartada(&self) -> bool {
        self.0.descartada
    }
    async fn motivo_descarte(&self) -> Option<&str> {
        self.0.motivo_descarte.as_deref()
    }
    async fn descartada_en(&self) -> Option<DateTime<Utc>> {
        self.0.descartada_en
    }
    async fn registrada_en(&self) -> DateTime<Utc> {
        self.0.registrada_en
    }
    /// The campaign (batched across a list); null while the campaign is not in the views.
    async fn campana(&self, ctx: &Context<'_>) -> Result<Option<Campana>> {
        let loaded = db(ctx)?
            .loader
            .load_one(CampanaKey(self.0.campana_id))
            .await;
        Ok(or_load_error(loaded)?.map(Campana))
    }
}

/// Interactions of one campaign, day (UTC) and type.
pub(crate) struct EstadisticaDiaria(pub EstadisticaDiariaRow);

#[Object]
impl EstadisticaDiaria {
    async fn campana_id(&self) -> Uuid {
        self.0.campana_id
    }
    async fn dia(&self) -> NaiveDate {
        self.0.dia
    }
    async fn tipo(&self) -> &str {
        &self.0.tipo
    }
    /// Registered, discarded ones included.
    async fn registradas(&self) -> i64 {
        self.0.registradas
    }
    async fn descartadas(&self) -> i64 {
        self.0.descartadas
    }
    /// Registered and not discarded.
    async fn validas(&self) -> i64 {
        self.0.validas()
    }
    /// Value of the interactions that count, when any was valued.
    async fn valor(&self) -> Option<Money> {
        self.0.valor_total().map(Into::into)
    }
    /// Valued interactions in another currency, not summed.
    async fn valores_otra_moneda(&self) -> i64 {
        self.0.valores_otra_moneda
    }
}
