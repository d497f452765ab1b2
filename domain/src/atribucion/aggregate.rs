//! The Atribucion aggregate: one per conversion, it decides who gets credit for it and
//! records fraud and reversals.
//!
//! ```text
//! Pendiente ─► Atribuida ─► EnRevisionPorFraude ─► Revertida(Fraude)
//!    │            └──────────────────────────────► Revertida(PresupuestoInsuficiente)
//!    ├───────► NoAtribuida
//!    └───────► RechazadaPorFraude
//! ```

use std::fmt;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    AtribucionCommand, AtribucionError, AtribucionEvent, Conversion, CreditoPartner,
    EvidenciaJourney, MotivoNoAtribucion, MotivoReversion, OrigenFraude, ParametrosAtribucion,
    Touchpoint,
};
use crate::rules::attribution::atribuir;
use crate::rules::fraud::{evaluar, ConfiguracionFraude};
use crate::tipos::{ModeloAtribucion, TipoConversion};
use crate::validation::{check_attribution_settings, is_blank, AttributionSettingsError};

/// Lifecycle state of an attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoAtribucion {
    /// No conversion has been attributed yet (a new aggregate).
    #[default]
    Pendiente,
    /// Partners got credit (`ConversionAtribuida`).
    Atribuida,
    /// Nobody got credit (`ConversionNoAtribuida`); final.
    NoAtribuida,
    /// The fraud rules reached the threshold before attribution; final.
    RechazadaPorFraude,
    /// Fraud was found after attribution; the compensation is running.
    EnRevisionPorFraude,
    /// The credits were taken back; final.
    Revertida {
        /// Why.
        motivo: MotivoReversion,
    },
}

impl fmt::Display for EstadoAtribucion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EstadoAtribucion::Pendiente => f.write_str("Pendiente"),
            EstadoAtribucion::Atribuida => f.write_str("Atribuida"),
            EstadoAtribucion::NoAtribuida => f.write_str("NoAtribuida"),
            EstadoAtribucion::RechazadaPorFraude => f.write_str("RechazadaPorFraude"),
            EstadoAtribucion::EnRevisionPorFraude => f.write_str("EnRevisionPorFraude"),
            EstadoAtribucion::Revertida { motivo } => write!(f, "Revertida({motivo:?})"),
        }
    }
}

/// The Atribucion aggregate; its id is [`crate::ids::atribucion_id`] of the conversion.
/// Its services are the fraud rules' configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Atribucion {
    /// Where the attribution is in its lifecycle.
    pub estado: EstadoAtribucion,
    /// The conversion, once decided.
    pub conversion: Option<Conversion>,
    /// The model that split the credit, when attributed.
    pub modelo: Option<ModeloAtribucion>,
    /// The partners' credits, when attributed.
    pub creditos: Vec<CreditoPartner>,
    /// The journey's interactions the decision looked at (the conversion's own included).
    #[serde(default)]
    pub interacciones: Vec<Uuid>,
}

impl Aggregate for Atribucion {
    const TYPE: &'static str = "Atribucion";
    type Command = AtribucionCommand;
    type Event = AtribucionEvent;
    type Error = AtribucionError;
    type Services = ConfiguracionFraude;

    async fn handle(
        &mut self,
        command: Self::Command,
        config: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let eventos = match command {
            AtribucionCommand::AtribuirConversion {
                conversion,
                journey,
                parametros,
                evidencia,
            } => self.atribuir_conversion(conversion, &journey, &parametros, &evidencia, config)?,
            AtribucionCommand::MarcarFraude { motivo, origen } => {
                self.marcar_fraude(motivo, origen)?
            }
            AtribucionCommand::RevertirAtribucion { motivo } => self.revertir_atribucion(motivo)?,
        };
        for evento in eventos {
            sink.write(evento, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AtribucionEvent::ConversionAtribuida {
                conversion,
                modelo,
                creditos,
                interacciones,
            } => {
                self.estado = EstadoAtribucion::Atribuida;
                self.conversion = Some(conversion);
                self.modelo = Some(modelo);
                self.creditos = creditos;
                self.interacciones = interacciones;
            }
            AtribucionEvent::ConversionNoAtribuida { conversion, .. } => {
                self.estado = EstadoAtribucion::NoAtribuida;
                self.conversion = Some(conversion);
            }
            AtribucionEvent::FraudeDetectado {
                conversion,
                interacciones,
                ..
            } => {
                self.estado = match self.estado {
                    EstadoAtribucion::Pendiente => EstadoAtribucion::RechazadaPorFraude,
                    _ => EstadoAtribucion::EnRevisionPorFraude,
                };
                self.conversion = Some(conversion);
                self.interacciones = interacciones;
            }
            AtribucionEvent::AtribucionRevertida { motivo, .. } => {
                self.estado = EstadoAtribucion::Revertida { motivo };
            }
        }
    }
}

impl Atribucion {
    /// Fraud rules first, then the campaign's model. A decided attribution ignores the
    /// command (the saga redelivers).
    fn atribuir_conversion(
        &self,
        conversion: Conversion,
        journey: &[Touchpoint],
        parametros: &ParametrosAtribucion,
        evidencia: &EvidenciaJourney,
        config: &ConfiguracionFraude,
    ) -> Result<Vec<AtribucionEvent>, AtribucionError> {
        validar_conversion(&conversion)?;
        validar_parametros(parametros)?;
        if let Some(decidida) = &self.conversion {
            return if decidida.interaccion_id == conversion.interaccion_id {
                Ok(Vec::new())
            } else {
                Err(AtribucionError::ConversionDistinta {
                    esperada: decidida.interaccion_id,
                    recibida: conversion.interaccion_id,
                })
            };
        }
        if !parametros.campana_activa {
            return Ok(vec![AtribucionEvent::ConversionNoAtribuida {
                conversion,
                motivo: MotivoNoAtribucion::CampanaNoActiva,
            }]);
        }
        let hallazgo = evaluar(
            &conversion,
            journey,
            evidencia,
            config,
            parametros.umbral_fraude,
        );
        if hallazgo.es_fraude() {
            let reglas: Vec<&str> = hallazgo.reglas.iter().map(|r| r.regla.as_str()).collect();
            let motivo = format!(
                "puntuación {} ≥ umbral {}: {}",
                hallazgo.puntuacion_total,
                hallazgo.umbral,
                reglas.join(", ")
            );
            return Ok(vec![AtribucionEvent::FraudeDetectado {
                interacciones: interacciones_del_journey(&conversion, journey),
                conversion,
                origen: OrigenFraude::Reglas,
                motivo,
                hallazgo: Some(hallazgo),
            }]);
        }
        let creditos = atribuir(
            &conversion,
            journey,
            parametros.modelo,
            parametros.ventana_dias,
        )
        .map_err(|causa| AtribucionError::CreditoIncalculable {
            campo: "journey",
            causa,
        })?;
        if creditos.is_empty() {
            return Ok(vec![AtribucionEvent::ConversionNoAtribuida {
                conversion,
                motivo: MotivoNoAtribucion::SinTouchpointEnVentana,
            }]);
        }
        Ok(vec![AtribucionEvent::ConversionAtribuida {
            interacciones: interacciones_del_journey(&conversion, journey),
            conversion,
            modelo: parametros.modelo,
            creditos,
        }])
    }

    /// Fraud found after attribution puts the attribution under review. Marking what is
    /// already known as fraud (under review, reverted for fraud, or rejected by the rules
    /// before attribution) is already done.
    fn marcar_fraude(
        &self,
        motivo: String,
        origen: OrigenFraude,
    ) -> Result<Vec<AtribucionEvent>, AtribucionError> {
        no_vacio(&motivo, "motivo")?;
        if let OrigenFraude::Reportado { reportado_por } = &origen {
            no_vacio(reportado_por, "origen.reportado_por")?;
        }
        let conversion = self.conversion_decidida()?;
        match self.estado {
            EstadoAtribucion::Atribuida => Ok(vec![AtribucionEvent::FraudeDetectado {
                conversion: conversion.clone(),
                origen,
                motivo,
                hallazgo: None,
                interacciones: self.interacciones.clone(),
            }]),
            EstadoAtribucion::EnRevisionPorFraude
            | EstadoAtribucion::RechazadaPorFraude
            | EstadoAtribucion::Revertida {
                motivo: MotivoReversion::Fraude,
            } => Ok(Vec::new()),
            // Revertida for budget: the budget never covered a commission, so there is no
            // commission to claw back and a fraud review has nothing to compensate.
            // NoAtribuida: nobody got credit.
            desde => Err(AtribucionError::TransicionInvalida {
                desde,
                hacia: EstadoAtribucion::EnRevisionPorFraude,
            }),
        }
    }

    /// Takes the credits back: for a budget that could not cover the commission straight
    /// from `Atribuida`, for fraud only after `MarcarFraude`.
    fn revertir_atribucion(
        &self,
        motivo: MotivoReversion,
    ) -> Result<Vec<AtribucionEvent>, AtribucionError> {
        let conversion = self.conversion_decidida()?;
        match (self.estado, motivo) {
            (EstadoAtribucion::Atribuida, MotivoReversion::PresupuestoInsuficiente)
            | (EstadoAtribucion::EnRevisionPorFraude, MotivoReversion::Fraude) => {
                Ok(vec![AtribucionEvent::AtribucionRevertida {
                    conversion: conversion.clone(),
                    motivo,
                    interacciones: self.interacciones.clone(),
                }])
            }
            (EstadoAtribucion::Revertida { .. }, _) => Ok(Vec::new()),
            (desde, motivo) => Err(AtribucionError::TransicionInvalida {
                desde,
                hacia: EstadoAtribucion::Revertida { motivo },
            }),
        }
    }

    fn conversion_decidida(&self) -> Result<&Conversion, AtribucionError> {
        self.conversion.as_ref().ok_or(AtribucionError::NoExiste)
    }
}

/// The journey's interactions in the order given, then the conversion's own if the journey
/// did not hold it, each once.
fn interacciones_del_journey(conversion: &Conversion, journey: &[Touchpoint]) -> Vec<Uuid> {
    let mut interacciones: Vec<Uuid> = Vec::with_capacity(journey.len() + 1);
    let ids = journey
        .iter()
        .map(|touchpoint| touchpoint.interaccion_id)
        .chain([conversion.interaccion_id]);
    for id in ids {
        if !interacciones.contains(&id) {
            interacciones.push(id);
        }
    }
    interacciones
}

fn validar_conversion(conversion: &Conversion) -> Result<(), AtribucionError> {
    let valor = conversion.valor;
    let valido = match conversion.tipo {
        TipoConversion::Compra => valor.is_positive(),
        TipoConversion::Lead | TipoConversion::Registro => valor.amount >= 0,
    };
    if valido {
        Ok(())
    } else {
        Err(AtribucionError::ValorDeConversionInvalido {
            campo: "conversion.valor",
            tipo: conversion.tipo,
            valor,
        })
    }
}

fn validar_parametros(parametros: &ParametrosAtribucion) -> Result<(), AtribucionError> {
    check_attribution_settings(parametros.ventana_dias, parametros.umbral_fraude).map_err(|error| {
        match error {
            AttributionSettingsError::Window { ventana_dias } => AtribucionError::VentanaInvalida {
                campo: "parametros.ventana_dias",
                ventana_dias,
            },
            AttributionSettingsError::FraudThreshold { umbral_fraude } => {
                AtribucionError::UmbralFraudeInvalido {
                    campo: "parametros.umbral_fraude",
                    umbral: umbral_fraude,
                }
            }
        }
    })
}

fn no_vacio(texto: &str, campo: &'static str) -> Result<(), AtribucionError> {
    if is_blank(texto) {
        Err(AtribucionError::TextoVacio { campo })
    } else {
        Ok(())
    }
}
