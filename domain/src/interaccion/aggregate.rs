//! The Interaccion aggregate: one interaction a visitor had with a campaign, registered
//! once and possibly discarded later by the fraud compensation.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{IP_HASH_MAX_HEX_DIGITS, IP_HASH_MIN_HEX_DIGITS};
use super::{DatosInteraccion, InteraccionCommand, InteraccionError, InteraccionEvent};
use crate::money::Money;
use crate::tipos::TipoInteraccion;
use crate::validation::is_blank;

/// Lifecycle state of an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoInteraccion {
    /// Nothing registered yet.
    #[default]
    Nueva,
    /// Registered and counted.
    Registrada,
    /// Discarded (fraud compensation); kept for the audit trail, no longer counted.
    Descartada,
}

/// The Interaccion aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interaccion {
    estado: EstadoInteraccion,
    id: Option<Uuid>,
    datos: Option<DatosInteraccion>,
    motivo_descarte: Option<String>,
}

impl Interaccion {
    /// Lifecycle state.
    pub fn estado(&self) -> EstadoInteraccion {
        self.estado
    }

    /// The interaction's id, once registered.
    pub fn id(&self) -> Option<Uuid> {
        self.id
    }

    /// Everything registered about the interaction.
    pub fn datos(&self) -> Option<&DatosInteraccion> {
        self.datos.as_ref()
    }

    /// What the visitor did.
    pub fn tipo(&self) -> Option<TipoInteraccion> {
        self.datos.as_ref().map(|datos| datos.tipo)
    }

    /// The campaign the interaction belongs to.
    pub fn campana_id(&self) -> Option<Uuid> {
        self.datos.as_ref().map(|datos| datos.campana_id)
    }

    /// The partner that drove the interaction; None before registration and for organic
    /// traffic.
    pub fn partner_id(&self) -> Option<Uuid> {
        self.datos.as_ref().and_then(|datos| datos.partner_id)
    }

    /// The visitor's journey.
    pub fn journey_id(&self) -> Option<Uuid> {
        self.datos.as_ref().map(|datos| datos.journey_id)
    }

    /// When the interaction happened.
    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.datos.as_ref().map(|datos| datos.occurred_at)
    }

    /// The value of a conversion.
    pub fn valor(&self) -> Option<Money> {
        self.datos.as_ref().and_then(|datos| datos.valor)
    }

    /// The order id of a Compra.
    pub fn pedido_id(&self) -> Option<&str> {
        self.datos
            .as_ref()
            .and_then(|datos| datos.pedido_id.as_deref())
    }

    /// Why the interaction was discarded, once it was.
    pub fn motivo_descarte(&self) -> Option<&str> {
        self.motivo_descarte.as_deref()
    }

    async fn registrar(
        &mut self,
        id: Uuid,
        datos: DatosInteraccion,
        sink: &EventSink<Self>,
    ) -> Result<(), InteraccionError> {
        // The id is the caller's idempotency key: a repeat is already done, whatever it says.
        if self.estado != EstadoInteraccion::Nueva {
            return Ok(());
        }
        validar_datos(&datos)?;
        sink.write(InteraccionEvent::InteraccionRegistrada { id, datos }, self)
            .await;
        Ok(())
    }

    async fn descartar(
        &mut self,
        motivo: String,
        sink: &EventSink<Self>,
    ) -> Result<(), InteraccionError> {
        if is_blank(&motivo) {
            return Err(InteraccionError::MotivoVacio);
        }
        match self.estado {
            EstadoInteraccion::Nueva => Err(InteraccionError::NoExiste),
            // The compensation is redelivered at least once: a second discard is done.
            EstadoInteraccion::Descartada => Ok(()),
            EstadoInteraccion::Registrada => {
                sink.write(InteraccionEvent::InteraccionDescartada { motivo }, self)
                    .await;
                Ok(())
            }
        }
    }
}

impl Aggregate for Interaccion {
    const TYPE: &'static str = "Interaccion";
    type Command = InteraccionCommand;
    type Event = InteraccionEvent;
    type Error = InteraccionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            InteraccionCommand::RegistrarInteraccion { id, datos } => {
                self.registrar(id, datos, sink).await
            }
            InteraccionCommand::DescartarInteraccion { motivo } => {
                self.descartar(motivo, sink).await
            }
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            InteraccionEvent::InteraccionRegistrada { id, datos } => {
                self.estado = EstadoInteraccion::Registrada;
                self.id = Some(id);
                self.datos = Some(datos);
            }
            InteraccionEvent::InteraccionDescartada { motivo } => {
                self.estado = EstadoInteraccion::Descartada;
                self.motivo_descarte = Some(motivo);
            }
        }
    }
}

/// Every rule a registration must satisfy, first broken rule reported.
fn validar_datos(datos: &DatosInteraccion) -> Result<(), InteraccionError> {
    validar_valor(datos.tipo, datos.valor)?;
    validar_pedido(datos.tipo, datos.pedido_id.as_deref())?;
    validar_textos_no_vacios(datos)?;
    validar_ip_hash(datos.contexto.usuario.ip_hash.as_deref())
}

/// A Compra carries a positive value; any value carried is not negative.
fn validar_valor(tipo: TipoInteraccion, valor: Option<Money>) -> Result<(), InteraccionError> {
    match (tipo, valor) {
        (_, Some(valor)) if valor.amount < 0 => Err(InteraccionError::ValorNegativo { valor }),
        (TipoInteraccion::Compra, None) => Err(InteraccionError::CompraSinValor),
        (TipoInteraccion::Compra, Some(valor)) if !valor.is_positive() => {
            Err(InteraccionError::ValorCompraNoPositivo { valor })
        }
        _ => Ok(()),
    }
}

/// A Compra carries its order id; an interaction that is not a conversion carries none.
fn validar_pedido(tipo: TipoInteraccion, pedido_id: Option<&str>) -> Result<(), InteraccionError> {
    let con_pedido = pedido_id.is_some_and(|pedido| !is_blank(pedido));
    if tipo == TipoInteraccion::Compra && !con_pedido {
        return Err(InteraccionError::CompraSinPedido);
    }
    if !tipo.is_conversion() && pedido_id.is_some() {
        return Err(InteraccionError::PedidoEnNoConversion { tipo });
    }
    Ok(())
}

/// Text fields are optional, but one that is present must not be blank.
fn validar_textos_no_vacios(datos: &DatosInteraccion) -> Result<(), InteraccionError> {
    let contexto = &datos.contexto;
    let textos: [(&'static str, &Option<String>); 14] = [
        ("pedido_id", &datos.pedido_id),
        ("usuario.usuario_id", &contexto.usuario.usuario_id),
        ("usuario.anonimo_id", &contexto.usuario.anonimo_id),
        ("usuario.ip_hash", &contexto.usuario.ip_hash),
        ("usuario.user_agent", &contexto.usuario.user_agent),
        ("utm.source", &contexto.utm.source),
        ("utm.medium", &contexto.utm.medium),
        ("utm.campaign", &contexto.utm.campaign),
        ("utm.content", &contexto.utm.content),
        ("utm.term", &contexto.utm.term),
        ("pagina_url", &contexto.pagina_url),
        ("referente_url", &contexto.referente_url),
        ("elemento_objetivo", &contexto.elemento_objetivo),
        ("dispositivo", &contexto.dispositivo),
    ];
    let vacio = textos
        .into_iter()
        .find(|(_, texto)| texto.as_deref().is_some_and(is_blank));
    match vacio {
        Some((campo, _)) => Err(InteraccionError::CampoVacio { campo }),
        None => Ok(()),
    }
}

/// The IP is personal data: it must arrive as a hex digest, never in clear.
fn validar_ip_hash(ip_hash: Option<&str>) -> Result<(), InteraccionError> {
    let Some(ip_hash) = ip_hash else {
        return Ok(());
    };
    if parece_direccion_ip(ip_hash) {
        return Err(InteraccionError::IpSinHashear);
    }
    if es_digest_hexadecimal(ip_hash) {
        Ok(())
    } else {
        Err(InteraccionError::IpHashInvalido)
    }
}

fn es_digest_hexadecimal(valor: &str) -> bool {
    (IP_HASH_MIN_HEX_DIGITS..=IP_HASH_MAX_HEX_DIGITS).contains(&valor.len())
        && valor.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// True for anything an IP address is written as: what the standard library parses
/// (with or without a port), and the shapes it refuses but people write anyway
/// (IPv4 with leading zeros, IPv6 with a zone or in brackets).
fn parece_direccion_ip(valor: &str) -> bool {
    let valor = valor.trim();
    valor.parse::<IpAddr>().is_ok()
        || valor.parse::<SocketAddr>().is_ok()
        || parece_ipv4(valor)
        || parece_ipv6(valor)
}

fn parece_ipv4(valor: &str) -> bool {
    let host = valor.split(':').next().unwrap_or(valor);
    let grupos: Vec<&str> = host.split('.').collect();
    grupos.len() == 4
        && grupos.iter().all(|grupo| {
            (1..=3).contains(&grupo.len()) && grupo.bytes().all(|b| b.is_ascii_digit())
        })
}

fn parece_ipv6(valor: &str) -> bool {
    let sin_corchete = valor.strip_prefix('[').unwrap_or(valor);
    let host = sin_corchete
        .split([']', '%'])
        .next()
        .unwrap_or(sin_corchete);
    host.matches(':').count() >= 2
        && host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}
