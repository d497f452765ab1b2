//! Why an Interaccion command was rejected: one variant per rule.

use crate::error::{ErrorKind, RuleViolation};
use crate::money::Money;
use crate::tipos::TipoInteraccion;

/// The shortest accepted `ip_hash`: 32 hex digits, a 128-bit digest such as MD5.
pub(crate) const IP_HASH_MIN_HEX_DIGITS: usize = 32;
/// The longest accepted `ip_hash`: 128 hex digits, a 512-bit digest such as SHA-512.
pub(crate) const IP_HASH_MAX_HEX_DIGITS: usize = 128;

/// Why an Interaccion command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteraccionError {
    /// The interaction was never registered.
    #[error("la interacción no existe")]
    NoExiste,
    /// A Compra must carry the purchase value.
    #[error("una compra requiere un valor")]
    CompraSinValor,
    /// A Compra must be worth something.
    #[error("el valor de una compra debe ser positivo (recibido {valor})")]
    ValorCompraNoPositivo {
        /// The value received.
        valor: Money,
    },
    /// No interaction is worth less than nothing.
    #[error("el valor no puede ser negativo (recibido {valor})")]
    ValorNegativo {
        /// The value received.
        valor: Money,
    },
    /// A Compra must carry the order id, so it can be reconciled with the shop.
    #[error("una compra requiere un pedido_id no vacío")]
    CompraSinPedido,
    /// Only conversions have an order.
    #[error("una interacción de tipo {tipo:?} no es una conversión y no puede llevar pedido_id")]
    PedidoEnNoConversion {
        /// The type of the interaction.
        tipo: TipoInteraccion,
    },
    /// A text field that is present must say something.
    #[error("el campo {campo} está vacío")]
    CampoVacio {
        /// The field's name, as in the command's payload.
        campo: &'static str,
    },
    /// The IP arrived in clear; it must be hashed before it reaches the domain.
    /// The message never repeats the address.
    #[error("ip_hash contiene una dirección IP sin hashear")]
    IpSinHashear,
    /// `ip_hash` must be a hexadecimal digest (MD5 to SHA-512 sized).
    #[error(
        "ip_hash no es un digest hexadecimal (entre {min} y {max} dígitos hexadecimales)",
        min = IP_HASH_MIN_HEX_DIGITS,
        max = IP_HASH_MAX_HEX_DIGITS
    )]
    IpHashInvalido,
    /// A discard must say why.
    #[error("el motivo del descarte está vacío")]
    MotivoVacio,
}

impl RuleViolation for InteraccionError {
    fn code(&self) -> &'static str {
        match self {
            InteraccionError::NoExiste => "NoExiste",
            InteraccionError::CompraSinValor => "CompraSinValor",
            InteraccionError::ValorCompraNoPositivo { .. } => "ValorCompraNoPositivo",
            InteraccionError::ValorNegativo { .. } => "ValorNegativo",
            InteraccionError::CompraSinPedido => "CompraSinPedido",
            InteraccionError::PedidoEnNoConversion { .. } => "PedidoEnNoConversion",
            InteraccionError::CampoVacio { .. } => "CampoVacio",
            InteraccionError::IpSinHashear => "IpSinHashear",
            InteraccionError::IpHashInvalido => "IpHashInvalido",
            InteraccionError::MotivoVacio => "MotivoVacio",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            InteraccionError::NoExiste => ErrorKind::NotFound,
            InteraccionError::CompraSinValor
            | InteraccionError::ValorCompraNoPositivo { .. }
            | InteraccionError::ValorNegativo { .. }
            | InteraccionError::CompraSinPedido
            | InteraccionError::PedidoEnNoConversion { .. }
            | InteraccionError::CampoVacio { .. }
            | InteraccionError::IpSinHashear
            | InteraccionError::IpHashInvalido
            | InteraccionError::MotivoVacio => ErrorKind::InvalidInput,
        }
    }
}
