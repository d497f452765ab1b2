//! The Comision aggregate's rules, one test per rule, as given/when/then.

use alpes_domain::comision::{
    Comision, ComisionCommand, ComisionError, ComisionEvent, DatosComision, EstadoComision,
};
use alpes_domain::ids::comision_id;
use alpes_domain::{Currency, ErrorKind, Money, RuleViolation};
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use uuid::Uuid;

type ComisionTest = TestFramework<Comision>;

const DIAS_RETENCION: u32 = 30;

fn conversion_id() -> Uuid {
    Uuid::from_u128(0xC0)
}

fn partner_id() -> Uuid {
    Uuid::from_u128(0xBA)
}

fn campana_id() -> Uuid {
    Uuid::from_u128(0xCA)
}

fn id() -> Uuid {
    comision_id(&conversion_id(), &partner_id())
}

fn lote() -> Option<Uuid> {
    Some(Uuid::from_u128(0x107E))
}

fn fecha_conversion() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

/// The conversion date plus the hold period.
fn fin_retencion() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 31, 12, 0, 0).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn datos() -> DatosComision {
    DatosComision {
        conversion_id: conversion_id(),
        atribucion_id: Uuid::from_u128(0xA7),
        campana_id: campana_id(),
        partner_id: partner_id(),
        journey_id: Uuid::from_u128(0x70),
        monto: eur(1_299),
        fecha_conversion: fecha_conversion(),
        dias_retencion: DIAS_RETENCION,
    }
}

fn reservar(datos: DatosComision) -> ComisionCommand {
    ComisionCommand::ReservarComision { id: id(), datos }
}

fn reservada() -> ComisionEvent {
    ComisionEvent::ComisionReservada {
        id: id(),
        datos: datos(),
    }
}

fn aprobar(ahora: DateTime<Utc>) -> ComisionCommand {
    ComisionCommand::AprobarComision {
        ahora,
        lote_id: lote(),
    }
}

fn aprobada() -> ComisionEvent {
    ComisionEvent::ComisionAprobada {
        aprobada_en: fin_retencion(),
        lote_id: lote(),
    }
}

fn pago_en() -> DateTime<Utc> {
    fin_retencion() + Duration::days(5)
}

fn pagar(referencia_pago: &str) -> ComisionCommand {
    ComisionCommand::PagarComision {
        referencia_pago: referencia_pago.to_string(),
        lote_id: lote(),
        ahora: pago_en(),
    }
}

fn pagada() -> ComisionEvent {
    ComisionEvent::ComisionPagada {
        referencia_pago: "TRF-001".to_string(),
        lote_id: lote(),
        pagada_en: pago_en(),
    }
}

fn revertir(motivo: &str) -> ComisionCommand {
    ComisionCommand::RevertirComision {
        motivo: motivo.to_string(),
    }
}

fn revertida(clawback: bool) -> ComisionEvent {
    ComisionEvent::ComisionRevertida {
        campana_id: campana_id(),
        conversion_id: conversion_id(),
        partner_id: partner_id(),
        motivo: "fraude".to_string(),
        monto: eur(1_299),
        clawback,
    }
}

fn assert_reservar_rejected(command: ComisionCommand, esperado: ComisionError) {
    ComisionTest::with(())
        .given_no_previous_events()
        .when(command)
        .then_expect_error(esperado);
}

// ReservarComision

#[test]
fn a_valid_comision_is_reserved() {
    ComisionTest::with(())
        .given_no_previous_events()
        .when(reservar(datos()))
        .then_expect_events(vec![reservada()]);
}

#[test]
fn a_comision_of_zero_monto_is_reserved() {
    let datos = DatosComision {
        monto: eur(0),
        ..datos()
    };
    ComisionTest::with(())
        .given_no_previous_events()
        .when(reservar(datos.clone()))
        .then_expect_events(vec![ComisionEvent::ComisionReservada { id: id(), datos }]);
}

#[test]
fn reservar_comision_again_is_already_done() {
    let historias = [
        vec![reservada()],
        vec![reservada(), aprobada()],
        vec![reservada(), aprobada(), pagada()],
        vec![reservada(), revertida(false)],
    ];
    for historia in historias {
        let otro_monto = DatosComision {
            monto: eur(1),
            ..datos()
        };
        ComisionTest::with(())
            .given(historia)
            .when(reservar(otro_monto))
            .then_expect_events(vec![]);
    }
}

#[test]
fn monto_must_not_be_negative() {
    let datos = DatosComision {
        monto: eur(-1),
        ..datos()
    };
    assert_reservar_rejected(
        reservar(datos),
        ComisionError::MontoNegativo { monto: eur(-1) },
    );
}

#[test]
fn the_id_is_derived_from_the_conversion_and_the_partner() {
    let command = ComisionCommand::ReservarComision {
        id: Uuid::from_u128(0xBAD),
        datos: datos(),
    };
    assert_reservar_rejected(command, ComisionError::IdNoDerivado { esperado: id() });
    // Swapping conversion and partner is a different commission.
    let command = ComisionCommand::ReservarComision {
        id: comision_id(&partner_id(), &conversion_id()),
        datos: datos(),
    };
    assert_reservar_rejected(command, ComisionError::IdNoDerivado { esperado: id() });
}

#[test]
fn no_reference_is_the_nil_uuid() {
    type Setter = fn(&mut DatosComision);
    let campos: [(&str, Setter); 5] = [
        ("conversion_id", |d| d.conversion_id = Uuid::nil()),
        ("atribucion_id", |d| d.atribucion_id = Uuid::nil()),
        ("campana_id", |d| d.campana_id = Uuid::nil()),
        ("partner_id", |d| d.partner_id = Uuid::nil()),
        ("journey_id", |d| d.journey_id = Uuid::nil()),
    ];
    for (campo, anular) in campos {
        let mut datos = datos();
        anular(&mut datos);
        let command = ComisionCommand::ReservarComision {
            id: comision_id(&datos.conversion_id, &datos.partner_id),
            datos,
        };
        assert_reservar_rejected(command, ComisionError::IdNulo { campo });
    }
}

#[test]
fn the_hold_period_must_fit_in_the_calendar() {
    let datos = DatosComision {
        dias_retencion: u32::MAX,
        ..datos()
    };
    assert_reservar_rejected(
        reservar(datos),
        ComisionError::RetencionFueraDeRango {
            dias_retencion: u32::MAX,
        },
    );
}

// AprobarComision

#[test]
fn aprobar_comision_once_the_hold_period_is_over() {
    ComisionTest::with(())
        .given(vec![reservada()])
        .when(aprobar(fin_retencion()))
        .then_expect_events(vec![aprobada()]);
}

#[test]
fn comision_aprobada_records_the_callers_clock() {
    let ahora = fin_retencion() + Duration::days(3);
    ComisionTest::with(())
        .given(vec![reservada()])
        .when(ComisionCommand::AprobarComision {
            ahora,
            lote_id: None,
        })
        .then_expect_events(vec![ComisionEvent::ComisionAprobada {
            aprobada_en: ahora,
            lote_id: None,
        }]);
}

#[test]
fn aprobar_comision_during_the_hold_period_is_rejected() {
    for ahora in [fecha_conversion(), fin_retencion() - Duration::seconds(1)] {
        ComisionTest::with(())
            .given(vec![reservada()])
            .when(aprobar(ahora))
            .then_expect_error(ComisionError::PeriodoRetencionVigente {
                disponible_desde: fin_retencion(),
            });
    }
}

#[test]
fn without_a_hold_period_it_is_approved_from_the_conversion_on() {
    let datos = DatosComision {
        dias_retencion: 0,
        ..datos()
    };
    ComisionTest::with(())
        .given(vec![ComisionEvent::ComisionReservada { id: id(), datos }])
        .when(aprobar(fecha_conversion()))
        .then_expect_events(vec![ComisionEvent::ComisionAprobada {
            aprobada_en: fecha_conversion(),
            lote_id: lote(),
        }]);
}

#[test]
fn aprobar_comision_again_is_already_done() {
    ComisionTest::with(())
        .given(vec![reservada(), aprobada()])
        .when(aprobar(pago_en()))
        .then_expect_events(vec![]);
}

#[test]
fn a_pagada_or_revertida_comision_cannot_be_approved() {
    let casos = [
        (
            vec![reservada(), aprobada(), pagada()],
            EstadoComision::Pagada,
        ),
        (
            vec![reservada(), revertida(false)],
            EstadoComision::Revertida,
        ),
    ];
    for (historia, desde) in casos {
        ComisionTest::with(())
            .given(historia)
            .when(aprobar(pago_en()))
            .then_expect_error(ComisionError::TransicionInvalida {
                desde,
                hacia: EstadoComision::Aprobada,
            });
    }
}

#[test]
fn aprobar_comision_that_does_not_exist_is_no_existe() {
    ComisionTest::with(())
        .given_no_previous_events()
        .when(aprobar(fin_retencion()))
        .then_expect_error(ComisionError::NoExiste);
}

// PagarComision

#[test]
fn pagar_comision_pays_an_aprobada_one() {
    ComisionTest::with(())
        .given(vec![reservada(), aprobada()])
        .when(pagar("TRF-001"))
        .then_expect_events(vec![pagada()]);
}

#[test]
fn pagar_comision_again_is_already_done() {
    ComisionTest::with(())
        .given(vec![reservada(), aprobada(), pagada()])
        .when(pagar("TRF-002"))
        .then_expect_events(vec![]);
}

#[test]
fn only_an_aprobada_comision_can_be_paid() {
    let casos = [
        (vec![reservada()], EstadoComision::Reservada),
        (
            vec![reservada(), revertida(false)],
            EstadoComision::Revertida,
        ),
        (
            vec![reservada(), aprobada(), revertida(false)],
            EstadoComision::Revertida,
        ),
    ];
    for (historia, desde) in casos {
        ComisionTest::with(())
            .given(historia)
            .when(pagar("TRF-001"))
            .then_expect_error(ComisionError::TransicionInvalida {
                desde,
                hacia: EstadoComision::Pagada,
            });
    }
}

#[test]
fn pagar_comision_that_does_not_exist_is_no_existe() {
    ComisionTest::with(())
        .given_no_previous_events()
        .when(pagar("TRF-001"))
        .then_expect_error(ComisionError::NoExiste);
}

#[test]
fn pagar_comision_requires_a_referencia_pago() {
    for referencia in ["", "  "] {
        ComisionTest::with(())
            .given(vec![reservada(), aprobada()])
            .when(pagar(referencia))
            .then_expect_error(ComisionError::ReferenciaPagoVacia);
    }
}

// RevertirComision

#[test]
fn revertir_comision_not_yet_paid_has_no_clawback() {
    for historia in [vec![reservada()], vec![reservada(), aprobada()]] {
        ComisionTest::with(())
            .given(historia)
            .when(revertir("fraude"))
            .then_expect_events(vec![revertida(false)]);
    }
}

#[test]
fn revertir_comision_already_paid_records_a_clawback() {
    ComisionTest::with(())
        .given(vec![reservada(), aprobada(), pagada()])
        .when(revertir("fraude"))
        .then_expect_events(vec![revertida(true)]);
}

#[test]
fn comision_revertida_carries_the_reserved_datos() {
    let datos = DatosComision {
        monto: eur(4_200),
        ..datos()
    };
    ComisionTest::with(())
        .given(vec![ComisionEvent::ComisionReservada { id: id(), datos }])
        .when(revertir("reembolso del pedido"))
        .then_expect_events(vec![ComisionEvent::ComisionRevertida {
            campana_id: campana_id(),
            conversion_id: conversion_id(),
            partner_id: partner_id(),
            motivo: "reembolso del pedido".to_string(),
            monto: eur(4_200),
            clawback: false,
        }]);
}

#[test]
fn revertir_comision_again_is_already_done() {
    for historia in [
        vec![reservada(), revertida(false)],
        vec![reservada(), aprobada(), pagada(), revertida(true)],
    ] {
        ComisionTest::with(())
            .given(historia)
            .when(revertir("fraude"))
            .then_expect_events(vec![]);
    }
}

#[test]
fn revertir_comision_that_does_not_exist_is_no_existe() {
    ComisionTest::with(())
        .given_no_previous_events()
        .when(revertir("fraude"))
        .then_expect_error(ComisionError::NoExiste);
}

#[test]
fn revertir_comision_requires_a_motivo() {
    for motivo in ["", "\t"] {
        ComisionTest::with(())
            .given(vec![reservada()])
            .when(revertir(motivo))
            .then_expect_error(ComisionError::MotivoVacio);
    }
}

// What callers read from the state

#[test]
fn the_state_follows_the_lifecycle() {
    let mut comision = Comision::default();
    assert_eq!(comision.estado(), EstadoComision::Nueva);
    assert_eq!(comision.disponible_desde(), None);

    comision.apply(reservada());
    assert_eq!(comision.estado(), EstadoComision::Reservada);
    assert_eq!(comision.id(), Some(id()));
    assert_eq!(comision.monto(), Some(eur(1_299)));
    assert_eq!(comision.campana_id(), Some(campana_id()));
    assert_eq!(comision.conversion_id(), Some(conversion_id()));
    assert_eq!(comision.partner_id(), Some(partner_id()));
    assert_eq!(comision.disponible_desde(), Some(fin_retencion()));

    comision.apply(aprobada());
    assert_eq!(comision.estado(), EstadoComision::Aprobada);
    assert_eq!(comision.aprobada_en(), Some(fin_retencion()));
    assert_eq!(comision.lote_aprobacion(), lote());

    comision.apply(pagada());
    assert_eq!(comision.estado(), EstadoComision::Pagada);
    assert_eq!(comision.pagada_en(), Some(pago_en()));
    assert_eq!(comision.referencia_pago(), Some("TRF-001"));
    assert_eq!(comision.lote_pago(), lote());
    assert!(!comision.clawback());

    comision.apply(revertida(true));
    assert_eq!(comision.estado(), EstadoComision::Revertida);
    assert_eq!(comision.motivo_reversion(), Some("fraude"));
    assert!(comision.clawback());

    let json = serde_json::to_value(&comision).unwrap();
    let restaurada: Comision = serde_json::from_value(json).unwrap();
    assert_eq!(restaurada, comision);
}

#[test]
fn every_error_is_classified_for_the_client() {
    let casos = [
        (ComisionError::NoExiste, "NoExiste", ErrorKind::NotFound),
        (
            ComisionError::TransicionInvalida {
                desde: EstadoComision::Pagada,
                hacia: EstadoComision::Aprobada,
            },
            "TransicionInvalida",
            ErrorKind::Conflict,
        ),
        (
            ComisionError::PeriodoRetencionVigente {
                disponible_desde: fin_retencion(),
            },
            "PeriodoRetencionVigente",
            ErrorKind::BusinessRule,
        ),
        (
            ComisionError::MontoNegativo { monto: eur(-1) },
            "MontoNegativo",
            ErrorKind::InvalidInput,
        ),
        (
            ComisionError::IdNoDerivado { esperado: id() },
            "IdNoDerivado",
            ErrorKind::InvalidInput,
        ),
        (
            ComisionError::IdNulo {
                campo: "campana_id",
            },
            "IdNulo",
            ErrorKind::InvalidInput,
        ),
        (
            ComisionError::RetencionFueraDeRango { dias_retencion: 1 },
            "RetencionFueraDeRango",
            ErrorKind::InvalidInput,
        ),
        (
            ComisionError::ReferenciaPagoVacia,
            "ReferenciaPagoVacia",
            ErrorKind::InvalidInput,
        ),
        (
            ComisionError::MotivoVacio,
            "MotivoVacio",
            ErrorKind::InvalidInput,
        ),
    ];
    for (error, code, kind) in casos {
        assert_eq!(error.code(), code);
        assert_eq!(error.kind(), kind, "{code}");
    }
}
