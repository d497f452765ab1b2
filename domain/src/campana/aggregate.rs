//! The Campana aggregate: a campaign's lifecycle, its budget and the commissions
//! reserved against it.
//!
//! Lifecycle: `Borrador → Activa ⇄ Pausada → Finalizada`, and `Cancelada` from any state
//! before `Finalizada`. Commissions are reserved only while the campaign is active and may
//! be released (compensation) in any state.

use std::collections::{BTreeMap, HashMap};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::{validar_regla_de, CampanaCommand, CampanaError, CampanaEvent, DatosCampana};
use crate::money::Money;
use crate::rules::commission::{calcular_comision, BPS_MAXIMO};
use crate::tipos::TipoConversion;
use crate::validation::is_blank;

/// Where a campaign is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EstadoCampana {
    /// Created, not yet running.
    Borrador,
    /// Running: commissions are reserved against the budget.
    Activa,
    /// Stopped for a while; it may be activated again.
    Pausada,
    /// Over for good.
    Finalizada,
    /// Called off for good.
    Cancelada,
}

impl EstadoCampana {
    /// Whether the lifecycle allows going from this state to `hacia`.
    pub fn puede_pasar_a(self, hacia: EstadoCampana) -> bool {
        use EstadoCampana::*;
        matches!(
            (self, hacia),
            (Borrador | Pausada, Activa)
                | (Activa, Pausada)
                | (Activa | Pausada, Finalizada)
                | (Borrador | Activa | Pausada, Cancelada)
        )
    }

    /// Finished and cancelled campaigns can no longer be changed.
    pub fn esta_cerrada(self) -> bool {
        matches!(self, EstadoCampana::Finalizada | EstadoCampana::Cancelada)
    }
}

/// What a campaign knows of one commission it was asked to reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstadoReserva {
    /// `monto` is held against the budget for `partner_id`.
    Reservada {
        /// The partner that earns the commission.
        partner_id: Uuid,
        /// The amount held.
        monto: Money,
    },
    /// It was reserved and then released.
    Liberada,
    /// The budget could not cover it; nothing was reserved.
    Insuficiente,
}

/// The Campana aggregate. Every accessor answers `None` until the campaign is created.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Campana {
    existente: Option<CampanaExistente>,
}

/// The state of a created campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CampanaExistente {
    id: Uuid,
    estado: EstadoCampana,
    /// As created, with the budget and commission rules kept up to date.
    datos: DatosCampana,
    /// Total held by reservations, in the budget currency; never above the budget.
    reservado: Money,
    reservas: Reservas,
}

impl Campana {
    /// The campaign's id.
    pub fn id(&self) -> Option<Uuid> {
        self.existente.as_ref().map(|c| c.id)
    }

    /// The lifecycle state.
    pub fn estado(&self) -> Option<EstadoCampana> {
        self.existente.as_ref().map(|c| c.estado)
    }

    /// The campaign's description, with its current budget and commission rules.
    pub fn datos(&self) -> Option<&DatosCampana> {
        self.existente.as_ref().map(|c| &c.datos)
    }

    /// The total budget.
    pub fn presupuesto(&self) -> Option<Money> {
        self.existente.as_ref().map(|c| c.datos.presupuesto)
    }

    /// The total held by reservations.
    pub fn reservado(&self) -> Option<Money> {
        self.existente.as_ref().map(|c| c.reservado)
    }

    /// The budget not held by reservations.
    pub fn disponible(&self) -> Option<Money> {
        self.existente.as_ref().map(CampanaExistente::disponible)
    }

    /// How many of `partner_id`'s conversions, of every conversion type, hold a reservation
    /// in this campaign: the count tiered commission rules look at.
    pub fn conversiones_del_partner(&self, partner_id: Uuid) -> u32 {
        self.existente
            .as_ref()
            .map_or(0, |c| c.reservas.conversiones_de(partner_id))
    }

    /// What the campaign knows of commission `comision_id`, if it was ever asked to reserve it.
    pub fn reserva(&self, comision_id: Uuid) -> Option<EstadoReserva> {
        let campana = self.existente.as_ref()?;
        let reserva = campana.reservas.por_comision.get(&comision_id)?;
        Some(match *reserva {
            Reserva::Reservada(partner, monto) => EstadoReserva::Reservada {
                partner_id: *campana.reservas.partners.get(partner)?,
                monto: Money::new(monto, campana.reservado.currency),
            },
            Reserva::Liberada => EstadoReserva::Liberada,
            Reserva::Insuficiente => EstadoReserva::Insuficiente,
        })
    }

    /// The event `command` produces, `None` when it is a repeat that is already done.
    fn decidir(&self, command: CampanaCommand) -> Result<Option<CampanaEvent>, CampanaError> {
        match (&self.existente, command) {
            (None, CampanaCommand::CrearCampana { id, datos }) => {
                datos.validar()?;
                Ok(Some(CampanaEvent::CampanaCreada { id, datos }))
            }
            (None, _) => Err(CampanaError::NoExiste),
            (Some(campana), command) => campana.decidir(command),
        }
    }
}

impl CampanaExistente {
    fn creada(id: Uuid, datos: DatosCampana) -> Self {
        CampanaExistente {
            id,
            estado: EstadoCampana::Borrador,
            reservado: Money::zero(datos.presupuesto.currency),
            datos,
            reservas: Reservas::default(),
        }
    }

    fn disponible(&self) -> Money {
        // reservado never exceeds presupuesto and both share a currency, so this cannot
        // overflow; the fallback only keeps this free of panics.
        self.datos
            .presupuesto
            .checked_sub(&self.reservado)
            .unwrap_or(Money::zero(self.reservado.currency))
    }

    fn decidir(&self, command: CampanaCommand) -> Result<Option<CampanaEvent>, CampanaError> {
        use CampanaCommand as C;
        use EstadoCampana as E;
        match command {
            C::CrearCampana { .. } => Err(CampanaError::CampanaYaExiste),
            C::ActivarCampana => self.pasar_a(E::Activa, CampanaEvent::CampanaActivada),
            C::PausarCampana => self.pasar_a(E::Pausada, CampanaEvent::CampanaPausada),
            C::FinalizarCampana => self.pasar_a(E::Finalizada, CampanaEvent::CampanaFinalizada),
            C::CancelarCampana { motivo } => self.cancelar(motivo),
            C::ActualizarReglaComision {
                tipo_conversion,
                regla,
            } => {
                self.abierta()?;
                validar_regla_de(tipo_conversion, &regla, self.datos.presupuesto.currency)?;
                Ok(Some(CampanaEvent::ReglaComisionActualizada {
                    tipo_conversion,
                    regla,
                }))
            }
            C::AmpliarPresupuesto { monto } => self.ampliar(monto),
            C::ReservarPresupuesto {
                comision_id,
                conversion_id,
                partner_id,
                tipo_conversion,
                credito,
                participacion_bps,
            } => self.reservar(Solicitud {
                comision_id,
                conversion_id,
                partner_id,
                tipo_conversion,
                credito,
                participacion_bps,
            }),
            C::LiberarPresupuesto { comision_id } => self.liberar(comision_id),
        }
    }

    fn pasar_a(
        &self,
        hacia: EstadoCampana,
        evento: CampanaEvent,
    ) -> Result<Option<CampanaEvent>, CampanaError> {
        self.transicion_permitida(hacia)?;
        Ok(Some(evento))
    }

    fn transicion_permitida(&self, hacia: EstadoCampana) -> Result<(), CampanaError> {
        if !self.estado.puede_pasar_a(hacia) {
            return Err(CampanaError::TransicionInvalida {
                desde: self.estado,
                hacia,
            });
        }
        Ok(())
    }

    fn cancelar(&self, motivo: String) -> Result<Option<CampanaEvent>, CampanaError> {
        self.transicion_permitida(EstadoCampana::Cancelada)?;
        if is_blank(&motivo) {
            return Err(CampanaError::MotivoVacio);
        }
        Ok(Some(CampanaEvent::CampanaCancelada { motivo }))
    }

    /// Rejects changes to a finished or cancelled campaign.
    fn abierta(&self) -> Result<(), CampanaError> {
        if self.estado.esta_cerrada() {
            return Err(CampanaError::CampanaCerrada {
                estado: self.estado,
            });
        }
        Ok(())
    }

    /// Rejects an amount of the command that is not in the budget currency.
    fn en_moneda_del_presupuesto(&self, monto: Money) -> Result<(), CampanaError> {
        let presupuesto = self.datos.presupuesto;
        presupuesto
            .same_currency(&monto)
            .map_err(|e| CampanaError::de_money(e, presupuesto.currency))
    }

    fn ampliar(&self, monto: Money) -> Result<Option<CampanaEvent>, CampanaError> {
        self.abierta()?;
        self.en_moneda_del_presupuesto(monto)?;
        let moneda = self.datos.presupuesto.currency;
        if !monto.is_positive() {
            return Err(CampanaError::AmpliacionNoPositiva { monto });
        }
        let presupuesto = self
            .datos
            .presupuesto
            .checked_add(&monto)
            .map_err(|e| CampanaError::de_money(e, moneda))?;
        Ok(Some(CampanaEvent::PresupuestoAmpliado {
            monto,
            presupuesto,
        }))
    }

    fn reservar(&self, solicitud: Solicitud) -> Result<Option<CampanaEvent>, CampanaError> {
        // The saga redelivers: a commission seen before is already done, whatever the
        // campaign's state is now.
        if self
            .reservas
            .por_comision
            .contains_key(&solicitud.comision_id)
        {
            return Ok(None);
        }
        if self.estado != EstadoCampana::Activa {
            return Err(CampanaError::CampanaNoActiva {
                estado: self.estado,
            });
        }
        let monto = self.comision_de(&solicitud)?;
        let moneda = self.datos.presupuesto.currency;
        let reservado = self
            .reservado
            .checked_add(&monto)
            .map_err(|e| CampanaError::de_money(e, moneda))?;
        if reservado.amount > self.datos.presupuesto.amount {
            return Ok(Some(CampanaEvent::PresupuestoInsuficiente {
                comision_id: solicitud.comision_id,
                conversion_id: solicitud.conversion_id,
                partner_id: solicitud.partner_id,
                monto,
                disponible: self.disponible(),
            }));
        }
        Ok(Some(CampanaEvent::PresupuestoReservado {
            comision_id: solicitud.comision_id,
            conversion_id: solicitud.conversion_id,
            partner_id: solicitud.partner_id,
            tipo_conversion: solicitud.tipo_conversion,
            monto,
            reservado,
        }))
    }

    /// The commission the campaign's rule gives for the requested credit and share.
    fn comision_de(&self, solicitud: &Solicitud) -> Result<Money, CampanaError> {
        let moneda = self.datos.presupuesto.currency;
        let credito = solicitud.credito;
        self.en_moneda_del_presupuesto(credito)?;
        if credito.amount < 0 {
            return Err(CampanaError::CreditoNegativo { credito });
        }
        let participacion_bps = solicitud.participacion_bps;
        if !(1..=BPS_MAXIMO).contains(&participacion_bps) {
            return Err(CampanaError::ParticipacionInvalida { participacion_bps });
        }
        let tipo = solicitud.tipo_conversion;
        let regla = self
            .datos
            .reglas_comision
            .para(tipo)
            .ok_or(CampanaError::SinReglaComision { tipo })?;
        let previas = self.reservas.conversiones_de(solicitud.partner_id);
        calcular_comision(
            regla,
            solicitud.partner_id,
            credito,
            participacion_bps,
            previas,
        )
        .map_err(|e| CampanaError::de_money(e, moneda))
    }

    fn liberar(&self, comision_id: Uuid) -> Result<Option<CampanaEvent>, CampanaError> {
        match self.reservas.por_comision.get(&comision_id) {
            Some(Reserva::Reservada(_, monto)) => {
                let monto = Money::new(*monto, self.reservado.currency);
                let reservado = self
                    .reservado
                    .checked_sub(&monto)
                    .map_err(|e| CampanaError::de_money(e, monto.currency))?;
                Ok(Some(CampanaEvent::PresupuestoLiberado {
                    comision_id,
                    monto,
                    reservado,
                }))
            }
            Some(Reserva::Liberada) => Ok(None),
            Some(Reserva::Insuficiente) | None => {
                Err(CampanaError::ReservaDesconocida { comision_id })
            }
        }
    }

    fn apply(&mut self, event: CampanaEvent) {
        use CampanaEvent as Ev;
        match event {
            // A second creation is never emitted (CampanaYaExiste); nothing to do.
            Ev::CampanaCreada { .. } => {}
            Ev::CampanaActivada => self.estado = EstadoCampana::Activa,
            Ev::CampanaPausada => self.estado = EstadoCampana::Pausada,
            Ev::CampanaFinalizada => self.estado = EstadoCampana::Finalizada,
            Ev::CampanaCancelada { .. } => self.estado = EstadoCampana::Cancelada,
            Ev::ReglaComisionActualizada {
                tipo_conversion,
                regla,
            } => self.datos.reglas_comision.fijar(tipo_conversion, regla),
            Ev::PresupuestoAmpliado { presupuesto, .. } => self.datos.presupuesto = presupuesto,
            Ev::PresupuestoReservado {
                comision_id,
                partner_id,
                monto,
                reservado,
                ..
            } => {
                self.reservas
                    .reservar(comision_id, partner_id, monto.amount);
                self.reservado = reservado;
            }
            Ev::PresupuestoInsuficiente { comision_id, .. } => {
                self.reservas.rechazar(comision_id);
            }
            Ev::PresupuestoLiberado {
                comision_id,
                reservado,
                ..
            } => {
                self.reservas.liberar(comision_id);
                self.reservado = reservado;
            }
        }
    }
}

/// The fields of a `ReservarPresupuesto` command.
struct Solicitud {
    comision_id: Uuid,
    conversion_id: Uuid,
    partner_id: Uuid,
    tipo_conversion: TipoConversion,
    credito: Money,
    participacion_bps: u32,
}

/// Every commission the campaign was asked to reserve, kept compact because a campaign
/// holds up to ~100k of them: partners are interned, amounts are minor units of the
/// budget currency.
///
/// Snapshots store only `partners` and `por_comision`; the lookup index and the
/// per-partner counts are rebuilt when a snapshot is read.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(try_from = "ReservasGuardadas")]
struct Reservas {
    por_comision: BTreeMap<Uuid, Reserva>,
    /// Interned partner ids; a [`Reserva::Reservada`] names its partner by position here.
    partners: Vec<Uuid>,
    /// Per interned partner, how many of its conversions hold a reservation.
    conversiones: Vec<u32>,
    /// Position of each partner in `partners`.
    indice: HashMap<Uuid, usize>,
}

/// One commission the campaign was asked to reserve. Serialized as `{"r":[partner,
/// monto]}`, `"l"` or `"i"` to keep snapshots small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Reserva {
    /// Held: the partner's position in [`Reservas::partners`] and the amount in minor
    /// units of the budget currency.
    #[serde(rename = "r")]
    Reservada(usize, i64),
    /// Reserved, then released.
    #[serde(rename = "l")]
    Liberada,
    /// Not covered by the budget.
    #[serde(rename = "i")]
    Insuficiente,
}

impl Reservas {
    fn conversiones_de(&self, partner_id: Uuid) -> u32 {
        self.indice
            .get(&partner_id)
            .and_then(|&posicion| self.conversiones.get(posicion))
            .copied()
            .unwrap_or(0)
    }

    fn posicion_de(&mut self, partner_id: Uuid) -> usize {
        if let Some(&posicion) = self.indice.get(&partner_id) {
            return posicion;
        }
        let posicion = self.partners.len();
        self.partners.push(partner_id);
        self.conversiones.push(0);
        self.indice.insert(partner_id, posicion);
        posicion
    }

    fn reservar(&mut self, comision_id: Uuid, partner_id: Uuid, monto: i64) {
        let posicion = self.posicion_de(partner_id);
        if let Some(conversiones) = self.conversiones.get_mut(posicion) {
            *conversiones = conversiones.saturating_add(1);
        }
        self.por_comision
            .insert(comision_id, Reserva::Reservada(posicion, monto));
    }

    fn rechazar(&mut self, comision_id: Uuid) {
        self.por_comision.insert(comision_id, Reserva::Insuficiente);
    }

    /// A released conversion no longer counts for the partner's tier: it was reverted.
    fn liberar(&mut self, comision_id: Uuid) {
        let Some(reserva) = self.por_comision.get_mut(&comision_id) else {
            return;
        };
        if let Reserva::Reservada(posicion, _) = *reserva {
            if let Some(conversiones) = self.conversiones.get_mut(posicion) {
                *conversiones = conversiones.saturating_sub(1);
            }
            *reserva = Reserva::Liberada;
        }
    }
}

/// What a snapshot stores of [`Reservas`].
#[derive(Deserialize)]
struct ReservasGuardadas {
    partners: Vec<Uuid>,
    por_comision: BTreeMap<Uuid, Reserva>,
}

/// Serializes [`Reservas`] as [`ReservasGuardadas`] without copying it.
#[derive(Serialize)]
struct ReservasGuardadasRef<'a> {
    partners: &'a [Uuid],
    por_comision: &'a BTreeMap<Uuid, Reserva>,
}

impl Serialize for Reservas {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReservasGuardadasRef {
            partners: &self.partners,
            por_comision: &self.por_comision,
        }
        .serialize(serializer)
    }
}

impl TryFrom<ReservasGuardadas> for Reservas {
    type Error = String;

    fn try_from(guardadas: ReservasGuardadas) -> Result<Self, Self::Error> {
        let mut indice = HashMap::with_capacity(guardadas.partners.len());
        for (posicion, partner_id) in guardadas.partners.iter().enumerate() {
            if indice.insert(*partner_id, posicion).is_some() {
                return Err(format!("partner {partner_id} is stored twice"));
            }
        }
        let mut conversiones = vec![0u32; guardadas.partners.len()];
        for (comision_id, reserva) in &guardadas.por_comision {
            if let Reserva::Reservada(posicion, _) = reserva {
                let cuenta = conversiones.get_mut(*posicion).ok_or_else(|| {
                    format!("reservation {comision_id} names unknown partner #{posicion}")
                })?;
                *cuenta = cuenta.saturating_add(1);
            }
        }
        Ok(Reservas {
            por_comision: guardadas.por_comision,
            partners: guardadas.partners,
            conversiones,
            indice,
        })
    }
}

impl Aggregate for Campana {
    const TYPE: &'static str = "Campana";
    type Command = CampanaCommand;
    type Event = CampanaEvent;
    type Error = CampanaError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if let Some(evento) = self.decidir(command)? {
            sink.write(evento, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match (&mut self.existente, event) {
            (None, CampanaEvent::CampanaCreada { id, datos }) => {
                self.existente = Some(CampanaExistente::creada(id, datos));
            }
            (Some(campana), event) => campana.apply(event),
            // Only CampanaCreada can start a campaign's stream.
            (None, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reservas_de_ejemplo() -> Reservas {
        let mut reservas = Reservas::default();
        let (ana, beto) = (Uuid::from_u128(1), Uuid::from_u128(2));
        reservas.reservar(Uuid::from_u128(10), ana, 500);
        reservas.reservar(Uuid::from_u128(11), beto, 700);
        reservas.reservar(Uuid::from_u128(12), ana, 900);
        reservas.rechazar(Uuid::from_u128(13));
        reservas.liberar(Uuid::from_u128(11));
        reservas
    }

    #[test]
    fn a_snapshot_of_the_reservations_reads_back_equal() {
        let reservas = reservas_de_ejemplo();
        let json = serde_json::to_string(&reservas).unwrap();
        let leidas: Reservas = serde_json::from_str(&json).unwrap();
        assert_eq!(leidas, reservas);
        assert_eq!(leidas.conversiones_de(Uuid::from_u128(1)), 2);
        assert_eq!(leidas.conversiones_de(Uuid::from_u128(2)), 0);
    }

    #[test]
    fn a_reservation_is_stored_in_a_few_bytes_besides_its_id() {
        let json = serde_json::to_string(&reservas_de_ejemplo()).unwrap();
        assert!(json.contains(r#""00000000-0000-0000-0000-00000000000a":{"r":[0,500]}"#));
        assert!(json.contains(r#""00000000-0000-0000-0000-00000000000b":"l""#));
        assert!(json.contains(r#""00000000-0000-0000-0000-00000000000d":"i""#));
    }

    #[test]
    fn a_snapshot_naming_an_unknown_partner_is_rejected() {
        let json = r#"{"partners":[],"por_comision":{"00000000-0000-0000-0000-00000000000a":{"r":[0,500]}}}"#;
        assert!(serde_json::from_str::<Reservas>(json).is_err());
    }
}
