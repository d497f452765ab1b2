//! Campana (marketing): a brand's campaign, its budget and its commission rules.

mod aggregate;
mod commands;
mod error;
mod events;

pub use aggregate::{Campana, EstadoCampana};
pub use commands::CampanaCommand;
pub use error::CampanaError;
pub use events::CampanaEvent;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;
use crate::tipos::{ModeloAtribucion, TipoConversion};

/// The brand that runs a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marca {
    pub id: Uuid,
    pub nombre: String,
}

/// What kind of campaign this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TipoCampana {
    Influencer,
    #[default]
    Afiliados,
    Mixta,
    B2b,
    Display,
    Email,
}

/// Who the campaign is aimed at. Every field is optional; empty lists mean "anyone".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SegmentoAudiencia {
    pub edad_min: Option<u8>,
    pub edad_max: Option<u8>,
    pub generos: Vec<String>,
    pub ubicaciones: Vec<String>,
    pub intereses: Vec<String>,
}

/// How a commission amount is computed from a partner's credit of a conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalculoComision {
    /// A share of the credited value, in basis points (1,000 = 10%), rounded half to even.
    Porcentaje { bps: u32 },
    /// A flat amount per conversion.
    Fijo { monto: Money },
    /// A percentage that grows with the partner's conversions in this campaign: the tier
    /// with the highest `desde_conversiones` not above the partner's count applies.
    Escalonado { tramos: Vec<Tramo> },
}

/// One tier of an [`CalculoComision::Escalonado`] rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tramo {
    /// The partner's number of earlier conversions in the campaign from which this tier applies.
    pub desde_conversiones: u32,
    pub bps: u32,
}

/// The commission rule of one conversion type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReglaComision {
    pub calculo: CalculoComision,
    pub minimo: Option<Money>,
    pub maximo: Option<Money>,
    /// Per-partner calculations that replace `calculo` for that partner (min/max still apply).
    #[serde(default)]
    pub por_partner: BTreeMap<Uuid, CalculoComision>,
}

/// The commission rules of a campaign, one per conversion type it pays for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReglasComision {
    pub compra: Option<ReglaComision>,
    pub lead: Option<ReglaComision>,
    pub registro: Option<ReglaComision>,
}

impl ReglasComision {
    pub fn para(&self, tipo: TipoConversion) -> Option<&ReglaComision> {
        match tipo {
            TipoConversion::Compra => self.compra.as_ref(),
            TipoConversion::Lead => self.lead.as_ref(),
            TipoConversion::Registro => self.registro.as_ref(),
        }
    }
}

/// How conversions are attributed to partners in this campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguracionAtribucion {
    pub modelo: ModeloAtribucion,
    /// Lookback window before a conversion, in days.
    pub ventana_dias: u32,
    /// Days after the conversion before its commission can be approved.
    pub dias_retencion: u32,
    /// Total fraud score (0..=100) from which a conversion is fraud; 50 by default.
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
    pub marca: Marca,
    pub nombre: String,
    pub descripcion: String,
    pub tipo: TipoCampana,
    pub fecha_inicio: NaiveDate,
    pub fecha_fin: NaiveDate,
    pub segmento: SegmentoAudiencia,
    pub canales: Vec<String>,
    pub frecuencia_maxima: Option<u32>,
    pub presupuesto: Money,
    pub reglas_comision: ReglasComision,
    pub atribucion: ConfiguracionAtribucion,
}
