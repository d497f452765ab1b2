//! The Comision aggregate: what one partner earns for one conversion, from its
//! reservation against the campaign budget to its payment, or its reversal.

use chrono::{DateTime, Days, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ComisionCommand, ComisionError, ComisionEvent, DatosComision};
use crate::ids;
use crate::money::Money;
use crate::validation::is_blank;

/// Lifecycle state of a commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoComision {
    /// Nothing reserved yet.
    #[default]
    Nueva,
    /// Reserved against the campaign budget, waiting for the hold period to pass.
    Reservada,
    /// Approved for payment.
    Aprobada,
    /// Paid to the partner.
    Pagada,
    /// Reverted (fraud, refund); the budget is released, a paid one is clawed back.
    Revertida,
}

/// The Comision aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Comision {
    estado: EstadoComision,
    id: Option<Uuid>,
    datos: Option<DatosComision>,
    aprobada_en: Option<DateTime<Utc>>,
    lote_aprobacion: Option<Uuid>,
    pagada_en: Option<DateTime<Utc>>,
    lote_pago: Option<Uuid>,
    referencia_pago: Option<String>,
    motivo_reversion: Option<String>,
    clawback: bool,
}

impl Comision {
    /// Lifecycle state.
    pub fn estado(&self) -> EstadoComision {
        self.estado
    }

    /// The commission's id, once reserved.
    pub fn id(&self) -> Option<Uuid> {
        self.id
    }

    /// The facts the commission was reserved with.
    pub fn datos(&self) -> Option<&DatosComision> {
        self.datos.as_ref()
    }

    /// The amount the partner earns.
    pub fn monto(&self) -> Option<Money> {
        self.datos.as_ref().map(|datos| datos.monto)
    }

    /// The campaign whose budget pays the commission.
    pub fn campana_id(&self) -> Option<Uuid> {
        self.datos.as_ref().map(|datos| datos.campana_id)
    }

    /// The conversion (interaction) the commission is for.
    pub fn conversion_id(&self) -> Option<Uuid> {
        self.datos.as_ref().map(|datos| datos.conversion_id)
    }

    /// The partner that earns the commission.
    pub fn partner_id(&self) -> Option<Uuid> {
        self.datos.as_ref().map(|datos| datos.partner_id)
    }

    /// The first instant the commission can be approved: the conversion date plus the
    /// hold period. None before reservation.
    pub fn disponible_desde(&self) -> Option<DateTime<Utc>> {
        self.datos
            .as_ref()
            .and_then(|datos| fin_retencion(datos.fecha_conversion, datos.dias_retencion))
    }

    /// When the commission was approved.
    pub fn aprobada_en(&self) -> Option<DateTime<Utc>> {
        self.aprobada_en
    }

    /// The approval batch, when approved in one.
    pub fn lote_aprobacion(&self) -> Option<Uuid> {
        self.lote_aprobacion
    }

    /// When the commission was paid.
    pub fn pagada_en(&self) -> Option<DateTime<Utc>> {
        self.pagada_en
    }

    /// The payment batch, when paid in one.
    pub fn lote_pago(&self) -> Option<Uuid> {
        self.lote_pago
    }

    /// The payment's reference.
    pub fn referencia_pago(&self) -> Option<&str> {
        self.referencia_pago.as_deref()
    }

    /// Why the commission was reverted.
    pub fn motivo_reversion(&self) -> Option<&str> {
        self.motivo_reversion.as_deref()
    }

    /// True when the commission was reverted after being paid, so the money must be
    /// recovered from the partner.
    pub fn clawback(&self) -> bool {
        self.clawback
    }

    async fn reservar(
        &mut self,
        id: Uuid,
        datos: DatosComision,
        sink: &EventSink<Self>,
    ) -> Result<(), ComisionError> {
        // The saga redelivers reservations; the derived id makes a repeat land here.
        if self.estado != EstadoComision::Nueva {
            return Ok(());
        }
        validar_reserva(id, &datos)?;
        sink.write(ComisionEvent::ComisionReservada { id, datos }, self)
            .await;
        Ok(())
    }

    async fn aprobar(
        &mut self,
        ahora: DateTime<Utc>,
        lote_id: Option<Uuid>,
        sink: &EventSink<Self>,
    ) -> Result<(), ComisionError> {
        match self.estado {
            EstadoComision::Nueva => Err(ComisionError::NoExiste),
            EstadoComision::Aprobada => Ok(()),
            EstadoComision::Pagada | EstadoComision::Revertida => {
                Err(self.transicion_invalida(EstadoComision::Aprobada))
            }
            EstadoComision::Reservada => {
                let disponible_desde = self.fin_retencion()?;
                if ahora < disponible_desde {
                    return Err(ComisionError::PeriodoRetencionVigente { disponible_desde });
                }
                let aprobada = ComisionEvent::ComisionAprobada {
                    aprobada_en: ahora,
                    lote_id,
                };
                sink.write(aprobada, self).await;
                Ok(())
            }
        }
    }

    async fn pagar(
        &mut self,
        referencia_pago: String,
        lote_id: Option<Uuid>,
        ahora: DateTime<Utc>,
        sink: &EventSink<Self>,
    ) -> Result<(), ComisionError> {
        if is_blank(&referencia_pago) {
            return Err(ComisionError::ReferenciaPagoVacia);
        }
        match self.estado {
            EstadoComision::Nueva => Err(ComisionError::NoExiste),
            EstadoComision::Pagada => Ok(()),
            EstadoComision::Reservada | EstadoComision::Revertida => {
                Err(self.transicion_invalida(EstadoComision::Pagada))
            }
            EstadoComision::Aprobada => {
                let pagada = ComisionEvent::ComisionPagada {
                    referencia_pago,
                    lote_id,
                    pagada_en: ahora,
                };
                sink.write(pagada, self).await;
                Ok(())
            }
        }
    }

    async fn revertir(
        &mut self,
        motivo: String,
        sink: &EventSink<Self>,
    ) -> Result<(), ComisionError> {
        if is_blank(&motivo) {
            return Err(ComisionError::MotivoVacio);
        }
        let clawback = match self.estado {
            EstadoComision::Nueva => return Err(ComisionError::NoExiste),
            // The fraud compensation is redelivered at least once.
            EstadoComision::Revertida => return Ok(()),
            EstadoComision::Reservada | EstadoComision::Aprobada => false,
            EstadoComision::Pagada => true,
        };
        let datos = self.datos.as_ref().ok_or(ComisionError::NoExiste)?;
        // The saga releases the budget from this event alone, so it carries what it needs.
        let revertida = ComisionEvent::ComisionRevertida {
            campana_id: datos.campana_id,
            conversion_id: datos.conversion_id,
            partner_id: datos.partner_id,
            motivo,
            monto: datos.monto,
            clawback,
        };
        sink.write(revertida, self).await;
        Ok(())
    }

    fn transicion_invalida(&self, hacia: EstadoComision) -> ComisionError {
        ComisionError::TransicionInvalida {
            desde: self.estado,
            hacia,
        }
    }

    fn fin_retencion(&self) -> Result<DateTime<Utc>, ComisionError> {
        let datos = self.datos.as_ref().ok_or(ComisionError::NoExiste)?;
        fin_retencion(datos.fecha_conversion, datos.dias_retencion).ok_or(
            ComisionError::RetencionFueraDeRango {
                dias_retencion: datos.dias_retencion,
            },
        )
    }
}

impl Aggregate for Comision {
    const TYPE: &'static str = "Comision";
    type Command = ComisionCommand;
    type Event = ComisionEvent;
    type Error = ComisionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            ComisionCommand::ReservarComision { id, datos } => self.reservar(id, datos, sink).await,
            ComisionCommand::AprobarComision { ahora, lote_id } => {
                self.aprobar(ahora, lote_id, sink).await
            }
            ComisionCommand::PagarComision {
                referencia_pago,
                lote_id,
                ahora,
            } => self.pagar(referencia_pago, lote_id, ahora, sink).await,
            ComisionCommand::RevertirComision { motivo } => self.revertir(motivo, sink).await,
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ComisionEvent::ComisionReservada { id, datos } => {
                self.estado = EstadoComision::Reservada;
                self.id = Some(id);
                self.datos = Some(datos);
            }
            ComisionEvent::ComisionAprobada {
                aprobada_en,
                lote_id,
            } => {
                self.estado = EstadoComision::Aprobada;
                self.aprobada_en = Some(aprobada_en);
                self.lote_aprobacion = lote_id;
            }
            ComisionEvent::ComisionPagada {
                referencia_pago,
                lote_id,
                pagada_en,
            } => {
                self.estado = EstadoComision::Pagada;
                self.referencia_pago = Some(referencia_pago);
                self.lote_pago = lote_id;
                self.pagada_en = Some(pagada_en);
            }
            ComisionEvent::ComisionRevertida {
                motivo, clawback, ..
            } => {
                self.estado = EstadoComision::Revertida;
                self.motivo_reversion = Some(motivo);
                self.clawback = clawback;
            }
        }
    }
}

/// Every rule a reservation must satisfy, first broken rule reported.
fn validar_reserva(id: Uuid, datos: &DatosComision) -> Result<(), ComisionError> {
    validar_ids_no_nulos(datos)?;
    let esperado = ids::comision_id(&datos.conversion_id, &datos.partner_id);
    if id != esperado {
        return Err(ComisionError::IdNoDerivado { esperado });
    }
    if datos.monto.amount < 0 {
        return Err(ComisionError::MontoNegativo { monto: datos.monto });
    }
    if fin_retencion(datos.fecha_conversion, datos.dias_retencion).is_none() {
        return Err(ComisionError::RetencionFueraDeRango {
            dias_retencion: datos.dias_retencion,
        });
    }
    Ok(())
}

fn validar_ids_no_nulos(datos: &DatosComision) -> Result<(), ComisionError> {
    let referencias = [
        ("conversion_id", datos.conversion_id),
        ("atribucion_id", datos.atribucion_id),
        ("campana_id", datos.campana_id),
        ("partner_id", datos.partner_id),
        ("journey_id", datos.journey_id),
    ];
    match referencias.into_iter().find(|(_, id)| id.is_nil()) {
        Some((campo, _)) => Err(ComisionError::IdNulo { campo }),
        None => Ok(()),
    }
}

/// The end of the hold period, or None when it falls outside the representable dates.
fn fin_retencion(fecha_conversion: DateTime<Utc>, dias_retencion: u32) -> Option<DateTime<Utc>> {
    fecha_conversion.checked_add_days(Days::new(u64::from(dias_retencion)))
}
