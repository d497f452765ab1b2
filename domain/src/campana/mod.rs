//! Campana (marketing): a brand's campaign, its budget and its commission rules.

mod aggregate;
mod commands;
mod error;
mod events;

pub use aggregate::{Campana, EstadoCampana, EstadoReserva};
pub use commands::CampanaCommand;
pub use error::CampanaError;
pub use events::CampanaEvent;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::{Currency, Money};
use crate::rules::commission::validar_regla;
use crate::tipos::{ModeloAtribucion, TipoConversion};
use crate::validation::{check_attribution_settings, is_blank, AttributionSettingsError};

/// The brand that runs a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marca {
    /// The brand's id.
    pub id: Uuid,
    /// The brand's name; not blank.
    pub nombre: String,
}

/// What kind of campaign this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TipoCampana {
    /// Run through influencers' content.
    Influencer,
    /// Run through affiliate sites and links (the default).
    #[default]
    Afiliados,
    /// Influencers and affiliates together.
    Mixta,
    /// Aimed at businesses.
    B2b,
    /// Display advertising.
    Display,
    /// Email marketing.
    Email,
}

/// Who the campaign is aimed at. Every field is optional; empty lists mean "anyone".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SegmentoAudiencia {
    /// The youngest age aimed at; not above `edad_max`.
    pub edad_min: Option<u8>,
    /// The oldest age aimed at.
    pub edad_max: Option<u8>,
    /// Genders aimed at.
    pub generos: Vec<String>,
    /// Places aimed at.
    pub ubicaciones: Vec<String>,
    /// Interests aimed at.
    pub intereses: Vec<String>,
}

/// How a commission amount is computed from a partner's credit of a conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalculoComision {
    /// A share of the partner's credit, in basis points (1,000 = 10%), rounded half to even.
    Porcentaje {
        /// The share, at most 10,000 (100%).
        bps: u32,
    },
    /// A flat amount per conversion. When several partners are credited with the
    /// conversion, each earns its share (`participacion_bps`) of it, so the conversion pays
    /// the amount once in total.
    Fijo {
        /// The amount, in the budget currency.
        monto: Money,
    },
    /// A percentage that grows with the partner's conversions in this campaign: the tier
    /// with the highest `desde_conversiones` not above the partner's count applies. The count
    /// is of every conversion of the partner that holds a reservation in the campaign,
    /// whatever its type (Compra, Lead, Registro); released reservations do not count. A
    /// valid rule has a tier from 0, so the first conversion pays too.
    Escalonado {
        /// The tiers, in any order, starting at distinct counts.
        tramos: Vec<Tramo>,
    },
}

/// One tier of an [`CalculoComision::Escalonado`] rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tramo {
    /// The partner's number of earlier conversions in the campaign (of any conversion type)
    /// from which this tier applies.
    pub desde_conversiones: u32,
    /// The share of the partner's credit this tier pays, in basis points.
    pub bps: u32,
}

/// The commission rule of one conversion type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReglaComision {
    /// How the amount is computed.
    pub calculo: CalculoComision,
    /// The least each commission pays, whatever the partner's credit or share.
    pub minimo: Option<Money>,
    /// The most each commission pays.
    pub maximo: Option<Money>,
    /// Per-partner calculations that replace `calculo` for that partner (min/max still apply).
    #[serde(default)]
    pub por_partner: BTreeMap<Uuid, CalculoComision>,
}

/// The commission rules of a campaign, one per conversion type it pays for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReglasComision {
    /// The rule of purchases, if the campaign pays for them.
    pub compra: Option<ReglaComision>,
    /// The rule of leads (a flat amount), if the campaign pays for them.
    pub lead: Option<ReglaComision>,
    /// The rule of sign-ups (a flat amount), if the campaign pays for them.
    pub registro: Option<ReglaComision>,
}

impl ReglasComision {
    /// The rule that pays for conversions of type `tipo`, if the campaign pays for them.
    pub fn para(&self, tipo: TipoConversion) -> Option<&ReglaComision> {
        match tipo {
            TipoConversion::Compra => self.compra.as_ref(),
            TipoConversion::Lead => self.lead.as_ref(),
            TipoConversion::Registro => self.registro.as_ref(),
        }
    }

    /// Replaces the rule of conversion type `tipo`.
    pub fn fijar(&mut self, tipo: TipoConversion, regla: ReglaComision) {
        let lugar = match tipo {
            TipoConversion::Compra => &mut self.compra,
            TipoConversion::Lead => &mut self.lead,
            TipoConversion::Registro => &mut self.registro,
        };
        *lugar = Some(regla);
    }

    /// Checks every rule with [`validar_regla`] against the budget currency `moneda`.
    pub fn validar(&self, moneda: Currency) -> Result<(), CampanaError> {
        [
            TipoConversion::Compra,
            TipoConversion::Lead,
            TipoConversion::Registro,
        ]
        .into_iter()
        .filter_map(|tipo| self.para(tipo).map(|regla| (tipo, regla)))
        .try_for_each(|(tipo, regla)| validar_regla_de(tipo, regla, moneda))
    }
}

/// [`validar_regla`] as a campaign error naming the conversion type.
pub(crate) fn validar_regla_de(
    tipo: TipoConversion,
    regla: &ReglaComision,
    moneda: Currency,
) -> Result<(), CampanaError> {
    validar_regla(tipo, regla, moneda)
        .map_err(|motivo| CampanaError::ReglaComisionInvalida { tipo, motivo })
}

/// How conversions are attributed to partners in this campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguracionAtribucion {
    /// How a conversion's value is split between the partners of its journey.
    pub modelo: ModeloAtribucion,
    /// Lookback window before a conversion, in days.
    pub ventana_dias: u32,
    /// Days after the conversion before its commission can be approved.
    pub dias_retencion: u32,
    /// Total fraud score (1..=100) from which a conversion is fraud; 50 by default.
    pub umbral_fraude: u32,
}

impl Default for ConfiguracionAtribucion {
    fn default() -> Self {
        ConfiguracionAtribucion {
            modelo: ModeloAtribucion::UltimoClick,
            ventana_dias: 30,
            dias_retencion: 30,
            umbral_fraude: 50,
        }
    }
}

/// Everything that describes a campaign when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatosCampana {
    /// The brand that runs it.
    pub marca: Marca,
    /// The campaign's name; not blank.
    pub nombre: String,
    /// What it is about; not blank.
    pub descripcion: String,
    /// What kind of campaign it is.
    pub tipo: TipoCampana,
    /// The first day it runs.
    pub fecha_inicio: NaiveDate,
    /// The last day it runs; after `fecha_inicio`.
    pub fecha_fin: NaiveDate,
    /// Who it is aimed at.
    pub segmento: SegmentoAudiencia,
    /// Where it runs (e.g. `instagram`, `blog`).
    pub canales: Vec<String>,
    /// How many times one visitor may see it at most; at least 1 when set.
    pub frecuencia_maxima: Option<u32>,
    /// The total budget that commissions are reserved against; positive.
    pub presupuesto: Money,
    /// What it pays per conversion type.
    pub reglas_comision: ReglasComision,
    /// How its conversions are attributed and checked for fraud.
    pub atribucion: ConfiguracionAtribucion,
}

impl DatosCampana {
    /// Checks what a campaign must be to be created: brand, name and description are not
    /// blank; it starts before it ends; the audience's minimum age is not above its maximum;
    /// a frequency cap is at least 1; the budget is positive; the commission rules are valid
    /// in the budget currency; the lookback window is at least a day; the fraud threshold is
    /// within 1..=100.
    pub fn validar(&self) -> Result<(), CampanaError> {
        if is_blank(&self.marca.nombre) {
            return Err(CampanaError::MarcaSinNombre);
        }
        if is_blank(&self.nombre) {
            return Err(CampanaError::NombreVacio);
        }
        if is_blank(&self.descripcion) {
            return Err(CampanaError::DescripcionVacia);
        }
        if self.fecha_inicio >= self.fecha_fin {
            return Err(CampanaError::FechasInvertidas {
                fecha_inicio: self.fecha_inicio,
                fecha_fin: self.fecha_fin,
            });
        }
        self.segmento.validar()?;
        if self.frecuencia_maxima == Some(0) {
            return Err(CampanaError::FrecuenciaMaximaCero);
        }
        if !self.presupuesto.is_positive() {
            return Err(CampanaError::PresupuestoNoPositivo {
                presupuesto: self.presupuesto,
            });
        }
        self.reglas_comision.validar(self.presupuesto.currency)?;
        self.atribucion.validar()
    }
}

impl SegmentoAudiencia {
    /// Checks that the minimum age, when both are set, is not above the maximum age.
    pub fn validar(&self) -> Result<(), CampanaError> {
        match (self.edad_min, self.edad_max) {
            (Some(edad_min), Some(edad_max)) if edad_min > edad_max => {
                Err(CampanaError::EdadesInvertidas { edad_min, edad_max })
            }
            _ => Ok(()),
        }
    }
}

impl ConfiguracionAtribucion {
    /// Checks that the lookback window is at least a day and the fraud threshold is
    /// within 1..=100.
    pub fn validar(&self) -> Result<(), CampanaError> {
        check_attribution_settings(self.ventana_dias, self.umbral_fraude).map_err(|error| {
            match error {
                AttributionSettingsError::Window { ventana_dias } => {
                    CampanaError::VentanaAtribucionInvalida { ventana_dias }
                }
                AttributionSettingsError::FraudThreshold { umbral_fraude } => {
                    CampanaError::UmbralFraudeInvalido { umbral_fraude }
                }
            }
        })
    }
}
