//! How the domain's enums are written in view columns: their names as the events spell them.

use alpes_domain::atribucion::{MotivoNoAtribucion, MotivoReversion, OrigenFraude};
use alpes_domain::campana::{EstadoCampana, TipoCampana};
use alpes_domain::{ModeloAtribucion, TipoConversion, TipoInteraccion};
use alpes_event_store::Position;

/// `Vista`, `Click`, …
pub(crate) fn tipo_interaccion(tipo: TipoInteraccion) -> &'static str {
    match tipo {
        TipoInteraccion::Vista => "Vista",
        TipoInteraccion::Click => "Click",
        TipoInteraccion::Engagement => "Engagement",
        TipoInteraccion::Lead => "Lead",
        TipoInteraccion::Registro => "Registro",
        TipoInteraccion::Compra => "Compra",
    }
}

/// `Compra`, `Lead`, `Registro`.
pub(crate) fn tipo_conversion(tipo: TipoConversion) -> &'static str {
    match tipo {
        TipoConversion::Compra => "Compra",
        TipoConversion::Lead => "Lead",
        TipoConversion::Registro => "Registro",
    }
}

/// `Influencer`, `Afiliados`, …
pub(crate) fn tipo_campana(tipo: TipoCampana) -> &'static str {
    match tipo {
        TipoCampana::Influencer => "Influencer",
        TipoCampana::Afiliados => "Afiliados",
        TipoCampana::Mixta => "Mixta",
        TipoCampana::B2b => "B2b",
        TipoCampana::Display => "Display",
        TipoCampana::Email => "Email",
    }
}

/// `Borrador`, `Activa`, `Pausada`, `Finalizada`, `Cancelada`.
pub(crate) fn estado_campana(estado: EstadoCampana) -> &'static str {
    match estado {
        EstadoCampana::Borrador => "Borrador",
        EstadoCampana::Activa => "Activa",
        EstadoCampana::Pausada => "Pausada",
        EstadoCampana::Finalizada => "Finalizada",
        EstadoCampana::Cancelada => "Cancelada",
    }
}

/// `UltimoClick`, `PrimerClick`, …
pub(crate) fn modelo(modelo: ModeloAtribucion) -> &'static str {
    match modelo {
        ModeloAtribucion::UltimoClick => "UltimoClick",
        ModeloAtribucion::PrimerClick => "PrimerClick",
        ModeloAtribucion::Lineal => "Lineal",
        ModeloAtribucion::BasadoEnPosicion => "BasadoEnPosicion",
        ModeloAtribucion::DecaimientoTemporal => "DecaimientoTemporal",
    }
}

/// `SinTouchpointEnVentana`, `CampanaNoActiva`.
pub(crate) fn motivo_no_atribucion(motivo: &MotivoNoAtribucion) -> &'static str {
    match motivo {
        MotivoNoAtribucion::SinTouchpointEnVentana => "SinTouchpointEnVentana",
        MotivoNoAtribucion::CampanaNoActiva => "CampanaNoActiva",
    }
}

/// `PresupuestoInsuficiente`, `Fraude`.
pub(crate) fn motivo_reversion(motivo: MotivoReversion) -> &'static str {
    match motivo {
        MotivoReversion::PresupuestoInsuficiente => "PresupuestoInsuficiente",
        MotivoReversion::Fraude => "Fraude",
    }
}

/// `Reglas` or `Reportado`.
pub(crate) fn origen_fraude(origen: &OrigenFraude) -> &'static str {
    match origen {
        OrigenFraude::Reglas => "Reglas",
        OrigenFraude::Reportado { .. } => "Reportado",
    }
}

/// A log position as the two integer columns rows are paged by (`seq_high`, `seq_low`).
pub(crate) fn seq(position: Position) -> (i64, i64) {
    (
        i64::try_from(position.high).unwrap_or(i64::MAX),
        i64::try_from(position.low).unwrap_or(i64::MAX),
    )
}
