//! The Campana aggregate's rules, one test per rule, as given/when/then.

use std::collections::BTreeMap;

use alpes_domain::campana::{
    CalculoComision, Campana, CampanaCommand, CampanaError, CampanaEvent, ConfiguracionAtribucion,
    DatosCampana, EstadoCampana, EstadoReserva, Marca, ReglaComision, ReglasComision,
    SegmentoAudiencia, TipoCampana, Tramo,
};
use alpes_domain::rules::commission::ReglaInvalida;
use alpes_domain::{Currency, ErrorKind, Money, RuleViolation, TipoConversion};
use chrono::NaiveDate;
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use proptest::prelude::*;
use uuid::Uuid;

type CampanaTest = TestFramework<Campana>;

const CAMPANA: Uuid = Uuid::from_u128(0xCA);
const ANA: Uuid = Uuid::from_u128(0xA1);
const BETO: Uuid = Uuid::from_u128(0xB2);

fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::EUR)
}

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::USD)
}

fn fecha(mes: u32, dia: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, mes, dia).unwrap()
}

fn comision(n: u128) -> Uuid {
    Uuid::from_u128(0xC0_0000 + n)
}

fn conversion(n: u128) -> Uuid {
    Uuid::from_u128(0xF0_0000 + n)
}

fn regla(calculo: CalculoComision) -> ReglaComision {
    ReglaComision {
        calculo,
        minimo: None,
        maximo: None,
        por_partner: BTreeMap::new(),
    }
}

/// 10% of purchases, at least 5.00 and at most 5,000.00.
fn regla_compras() -> ReglaComision {
    ReglaComision {
        minimo: Some(eur(500)),
        maximo: Some(eur(500_000)),
        ..regla(CalculoComision::Porcentaje { bps: 1_000 })
    }
}

/// 25.00 per lead.
fn regla_leads() -> ReglaComision {
    regla(CalculoComision::Fijo { monto: eur(2_500) })
}

/// A valid campaign with a budget of 10,000.00 EUR that pays for purchases and leads.
fn datos() -> DatosCampana {
    DatosCampana {
        marca: Marca {
            id: Uuid::from_u128(0x3A),
            nombre: "Montañas SA".to_string(),
        },
        nombre: "Verano 2025".to_string(),
        descripcion: "Botas de montaña".to_string(),
        tipo: TipoCampana::Afiliados,
        fecha_inicio: fecha(6, 1),
        fecha_fin: fecha(8, 31),
        segmento: SegmentoAudiencia {
            edad_min: Some(18),
            edad_max: Some(65),
            ..SegmentoAudiencia::default()
        },
        canales: vec!["instagram".to_string(), "blog".to_string()],
        frecuencia_maxima: Some(3),
        presupuesto: eur(1_000_000),
        reglas_comision: ReglasComision {
            compra: Some(regla_compras()),
            lead: Some(regla_leads()),
            registro: None,
        },
        atribucion: ConfiguracionAtribucion::default(),
    }
}

fn creada() -> CampanaEvent {
    CampanaEvent::CampanaCreada {
        id: CAMPANA,
        datos: datos(),
    }
}

/// The events that leave a new campaign in `estado`.
fn en(estado: EstadoCampana) -> Vec<CampanaEvent> {
    use CampanaEvent::*;
    let mut events = vec![creada()];
    events.extend(match estado {
        EstadoCampana::Borrador => vec![],
        EstadoCampana::Activa => vec![CampanaActivada],
        EstadoCampana::Pausada => vec![CampanaActivada, CampanaPausada],
        EstadoCampana::Finalizada => vec![CampanaActivada, CampanaFinalizada],
        EstadoCampana::Cancelada => vec![CampanaCancelada {
            motivo: "sin stock".to_string(),
        }],
    });
    events
}

fn activa() -> Vec<CampanaEvent> {
    en(EstadoCampana::Activa)
}

const TODOS_LOS_ESTADOS: [EstadoCampana; 5] = [
    EstadoCampana::Borrador,
    EstadoCampana::Activa,
    EstadoCampana::Pausada,
    EstadoCampana::Finalizada,
    EstadoCampana::Cancelada,
];

fn reservar(n: u128, partner_id: Uuid, credito: Money) -> CampanaCommand {
    reservar_tipo(n, partner_id, TipoConversion::Compra, credito)
}

/// The only partner credited with the conversion takes all of it.
const SOLO: u32 = 10_000;

fn reservar_tipo(
    n: u128,
    partner_id: Uuid,
    tipo_conversion: TipoConversion,
    credito: Money,
) -> CampanaCommand {
    reservar_parte(n, partner_id, tipo_conversion, credito, SOLO)
}

/// Reserve for a partner with a share of `participacion_bps` of the conversion.
fn reservar_parte(
    n: u128,
    partner_id: Uuid,
    tipo_conversion: TipoConversion,
    credito: Money,
    participacion_bps: u32,
) -> CampanaCommand {
    CampanaCommand::ReservarPresupuesto {
        comision_id: comision(n),
        conversion_id: conversion(n),
        partner_id,
        tipo_conversion,
        credito,
        participacion_bps,
    }
}

fn reservado(n: u128, partner_id: Uuid, monto: Money, total: Money) -> CampanaEvent {
    reservado_tipo(n, partner_id, TipoConversion::Compra, monto, total)
}

fn reservado_tipo(
    n: u128,
    partner_id: Uuid,
    tipo_conversion: TipoConversion,
    monto: Money,
    total: Money,
) -> CampanaEvent {
    CampanaEvent::PresupuestoReservado {
        comision_id: comision(n),
        conversion_id: conversion(n),
        partner_id,
        tipo_conversion,
        monto,
        reservado: total,
    }
}

fn liberado(n: u128, monto: Money, total: Money) -> CampanaEvent {
    CampanaEvent::PresupuestoLiberado {
        comision_id: comision(n),
        monto,
        reservado: total,
    }
}

fn insuficiente(n: u128, partner_id: Uuid, monto: Money, disponible: Money) -> CampanaEvent {
    CampanaEvent::PresupuestoInsuficiente {
        comision_id: comision(n),
        conversion_id: conversion(n),
        partner_id,
        monto,
        disponible,
    }
}

fn with(
    events: Vec<CampanaEvent>,
    more: impl IntoIterator<Item = CampanaEvent>,
) -> Vec<CampanaEvent> {
    events.into_iter().chain(more).collect()
}

fn rejected(given: Vec<CampanaEvent>, command: CampanaCommand) -> CampanaError {
    CampanaTest::with(())
        .given(given)
        .when(command)
        .inspect_result()
        .expect_err("the command was accepted")
}

fn crear_con(datos: DatosCampana) -> CampanaError {
    rejected(vec![], CampanaCommand::CrearCampana { id: CAMPANA, datos })
}

// ---------------------------------------------------------------- CrearCampana

#[test]
fn crear_campana_records_campana_creada() {
    CampanaTest::with(())
        .given_no_previous_events()
        .when(CampanaCommand::CrearCampana {
            id: CAMPANA,
            datos: datos(),
        })
        .then_expect_events(vec![creada()]);
}

#[test]
fn a_new_campaign_is_a_draft_with_nothing_reserved() {
    let mut campana = Campana::default();
    campana.apply(creada());
    assert_eq!(campana.id(), Some(CAMPANA));
    assert_eq!(campana.estado(), Some(EstadoCampana::Borrador));
    assert_eq!(campana.presupuesto(), Some(eur(1_000_000)));
    assert_eq!(campana.reservado(), Some(eur(0)));
    assert_eq!(campana.disponible(), Some(eur(1_000_000)));
}

#[test]
fn crear_campana_twice_is_campana_ya_existe() {
    let error = rejected(
        vec![creada()],
        CampanaCommand::CrearCampana {
            id: CAMPANA,
            datos: datos(),
        },
    );
    assert_eq!(error, CampanaError::CampanaYaExiste);
    assert_eq!(error.kind(), ErrorKind::Conflict);
}

#[test]
fn the_brand_needs_a_name() {
    let mut datos = datos();
    datos.marca.nombre = " ".to_string();
    assert_eq!(crear_con(datos), CampanaError::MarcaSinNombre);
}

#[test]
fn nombre_is_not_empty() {
    let mut datos = datos();
    datos.nombre = "  ".to_string();
    let error = crear_con(datos);
    assert_eq!(error, CampanaError::NombreVacio);
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(error.code(), "NombreVacio");
}

#[test]
fn descripcion_is_not_empty() {
    let mut datos = datos();
    datos.descripcion = String::new();
    assert_eq!(crear_con(datos), CampanaError::DescripcionVacia);
}

#[test]
fn fecha_inicio_is_before_fecha_fin() {
    let mut datos = datos();
    datos.fecha_fin = datos.fecha_inicio;
    assert_eq!(
        crear_con(datos.clone()),
        CampanaError::FechasInvertidas {
            fecha_inicio: fecha(6, 1),
            fecha_fin: fecha(6, 1)
        }
    );
    datos.fecha_fin = fecha(5, 31);
    assert!(matches!(
        crear_con(datos),
        CampanaError::FechasInvertidas { .. }
    ));
}

#[test]
fn the_audience_minimum_age_is_not_above_its_maximum() {
    let mut datos = datos();
    datos.segmento.edad_min = Some(40);
    datos.segmento.edad_max = Some(30);
    assert_eq!(
        crear_con(datos.clone()),
        CampanaError::EdadesInvertidas {
            edad_min: 40,
            edad_max: 30
        }
    );
    datos.segmento.edad_max = Some(40);
    CampanaTest::with(())
        .given_no_previous_events()
        .when(CampanaCommand::CrearCampana {
            id: CAMPANA,
            datos: datos.clone(),
        })
        .then_expect_events(vec![CampanaEvent::CampanaCreada { id: CAMPANA, datos }]);
}

#[test]
fn frecuencia_maxima_is_at_least_one() {
    let mut datos = datos();
    datos.frecuencia_maxima = Some(0);
    assert_eq!(crear_con(datos), CampanaError::FrecuenciaMaximaCero);
}

#[test]
fn presupuesto_is_positive() {
    for presupuesto in [eur(0), eur(-100)] {
        let mut datos = datos();
        datos.presupuesto = presupuesto;
        assert_eq!(
            crear_con(datos),
            CampanaError::PresupuestoNoPositivo { presupuesto }
        );
    }
}

#[test]
fn the_attribution_window_is_at_least_one_day() {
    let mut datos = datos();
    datos.atribucion.ventana_dias = 0;
    assert_eq!(
        crear_con(datos),
        CampanaError::VentanaAtribucionInvalida { ventana_dias: 0 }
    );
}

#[test]
fn the_fraud_threshold_is_within_1_and_100() {
    for umbral_fraude in [0, 101] {
        let mut datos = datos();
        datos.atribucion.umbral_fraude = umbral_fraude;
        assert_eq!(
            crear_con(datos),
            CampanaError::UmbralFraudeInvalido { umbral_fraude }
        );
    }
    for umbral_fraude in [1, 100] {
        let mut datos = datos();
        datos.atribucion.umbral_fraude = umbral_fraude;
        let datos_ok = datos.clone();
        CampanaTest::with(())
            .given_no_previous_events()
            .when(CampanaCommand::CrearCampana { id: CAMPANA, datos })
            .then_expect_events(vec![CampanaEvent::CampanaCreada {
                id: CAMPANA,
                datos: datos_ok,
            }]);
    }
}

#[test]
fn a_campaign_is_created_only_with_valid_commission_rules() {
    let mut datos = datos();
    datos.reglas_comision.registro = Some(regla(CalculoComision::Porcentaje { bps: 500 }));
    let error = crear_con(datos);
    assert_eq!(
        error,
        CampanaError::ReglaComisionInvalida {
            tipo: TipoConversion::Registro,
            motivo: ReglaInvalida::CalculoNoPermitido {
                tipo: TipoConversion::Registro
            }
        }
    );
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[test]
fn commission_bounds_are_in_the_budget_currency() {
    let mut datos = datos();
    datos.reglas_comision.compra = Some(ReglaComision {
        minimo: Some(usd(500)),
        ..regla_compras()
    });
    assert_eq!(
        crear_con(datos),
        CampanaError::ReglaComisionInvalida {
            tipo: TipoConversion::Compra,
            motivo: ReglaInvalida::MonedaDistinta {
                campo: "minimo",
                esperada: Currency::EUR,
                recibida: Currency::USD
            }
        }
    );
}

// ---------------------------------------------------------------- lifecycle

fn transition_is_rejected(desde: EstadoCampana, command: CampanaCommand, hacia: EstadoCampana) {
    let error = rejected(en(desde), command);
    assert_eq!(error, CampanaError::TransicionInvalida { desde, hacia });
    assert_eq!(error.kind(), ErrorKind::Conflict);
}

#[test]
fn activar_campana_from_borrador_or_pausada() {
    for desde in [EstadoCampana::Borrador, EstadoCampana::Pausada] {
        CampanaTest::with(())
            .given(en(desde))
            .when(CampanaCommand::ActivarCampana)
            .then_expect_events(vec![CampanaEvent::CampanaActivada]);
    }
}

#[test]
fn activar_campana_from_any_other_state_is_an_invalid_transition() {
    for desde in [
        EstadoCampana::Activa,
        EstadoCampana::Finalizada,
        EstadoCampana::Cancelada,
    ] {
        transition_is_rejected(desde, CampanaCommand::ActivarCampana, EstadoCampana::Activa);
    }
}

#[test]
fn pausar_campana_from_activa() {
    CampanaTest::with(())
        .given(activa())
        .when(CampanaCommand::PausarCampana)
        .then_expect_events(vec![CampanaEvent::CampanaPausada]);
}

#[test]
fn pausar_campana_from_any_other_state_is_an_invalid_transition() {
    for desde in [
        EstadoCampana::Borrador,
        EstadoCampana::Pausada,
        EstadoCampana::Finalizada,
        EstadoCampana::Cancelada,
    ] {
        transition_is_rejected(desde, CampanaCommand::PausarCampana, EstadoCampana::Pausada);
    }
}

#[test]
fn finalizar_campana_from_activa_or_pausada() {
    for desde in [EstadoCampana::Activa, EstadoCampana::Pausada] {
        CampanaTest::with(())
            .given(en(desde))
            .when(CampanaCommand::FinalizarCampana)
            .then_expect_events(vec![CampanaEvent::CampanaFinalizada]);
    }
}

#[test]
fn finalizar_campana_from_any_other_state_is_an_invalid_transition() {
    for desde in [
        EstadoCampana::Borrador,
        EstadoCampana::Finalizada,
        EstadoCampana::Cancelada,
    ] {
        transition_is_rejected(
            desde,
            CampanaCommand::FinalizarCampana,
            EstadoCampana::Finalizada,
        );
    }
}

#[test]
fn cancelar_campana_from_borrador_activa_or_pausada() {
    for desde in [
        EstadoCampana::Borrador,
        EstadoCampana::Activa,
        EstadoCampana::Pausada,
    ] {
        CampanaTest::with(())
            .given(en(desde))
            .when(CampanaCommand::CancelarCampana {
                motivo: "la marca se retira".to_string(),
            })
            .then_expect_events(vec![CampanaEvent::CampanaCancelada {
                motivo: "la marca se retira".to_string(),
            }]);
    }
}

#[test]
fn cancelar_campana_once_finished_or_cancelled_is_an_invalid_transition() {
    for desde in [EstadoCampana::Finalizada, EstadoCampana::Cancelada] {
        transition_is_rejected(
            desde,
            CampanaCommand::CancelarCampana {
                motivo: "otra vez".to_string(),
            },
            EstadoCampana::Cancelada,
        );
    }
}

#[test]
fn cancelar_campana_needs_a_motivo() {
    let error = rejected(
        activa(),
        CampanaCommand::CancelarCampana {
            motivo: " ".to_string(),
        },
    );
    assert_eq!(error, CampanaError::MotivoVacio);
}

#[test]
fn every_command_on_a_campaign_that_does_not_exist_is_no_existe() {
    let commands = [
        CampanaCommand::ActivarCampana,
        CampanaCommand::PausarCampana,
        CampanaCommand::FinalizarCampana,
        CampanaCommand::CancelarCampana {
            motivo: "x".to_string(),
        },
        CampanaCommand::ActualizarReglaComision {
            tipo_conversion: TipoConversion::Lead,
            regla: regla_leads(),
        },
        CampanaCommand::AmpliarPresupuesto { monto: eur(100) },
        reservar(1, ANA, eur(10_000)),
        CampanaCommand::LiberarPresupuesto {
            comision_id: comision(1),
        },
    ];
    for command in commands {
        let error = rejected(vec![], command);
        assert_eq!(error, CampanaError::NoExiste);
        assert_eq!(error.kind(), ErrorKind::NotFound);
    }
}

// ---------------------------------------------------------------- ActualizarReglaComision

#[test]
fn actualizar_regla_comision_while_the_campaign_is_open() {
    let nueva = regla(CalculoComision::Fijo { monto: eur(1_000) });
    for estado in [
        EstadoCampana::Borrador,
        EstadoCampana::Activa,
        EstadoCampana::Pausada,
    ] {
        CampanaTest::with(())
            .given(en(estado))
            .when(CampanaCommand::ActualizarReglaComision {
                tipo_conversion: TipoConversion::Registro,
                regla: nueva.clone(),
            })
            .then_expect_events(vec![CampanaEvent::ReglaComisionActualizada {
                tipo_conversion: TipoConversion::Registro,
                regla: nueva.clone(),
            }]);
    }
}

#[test]
fn actualizar_regla_comision_of_a_closed_campaign_is_rejected() {
    for estado in [EstadoCampana::Finalizada, EstadoCampana::Cancelada] {
        let error = rejected(
            en(estado),
            CampanaCommand::ActualizarReglaComision {
                tipo_conversion: TipoConversion::Lead,
                regla: regla_leads(),
            },
        );
        assert_eq!(error, CampanaError::CampanaCerrada { estado });
        assert_eq!(error.kind(), ErrorKind::Conflict);
    }
}

#[test]
fn actualizar_regla_comision_is_validated_like_creation() {
    let error = rejected(
        activa(),
        CampanaCommand::ActualizarReglaComision {
            tipo_conversion: TipoConversion::Compra,
            regla: regla(CalculoComision::Porcentaje { bps: 10_001 }),
        },
    );
    assert_eq!(
        error,
        CampanaError::ReglaComisionInvalida {
            tipo: TipoConversion::Compra,
            motivo: ReglaInvalida::PorcentajeFueraDeRango { bps: 10_001 }
        }
    );
}

#[test]
fn reservations_after_a_rule_update_use_the_new_rule() {
    let given = with(
        activa(),
        [CampanaEvent::ReglaComisionActualizada {
            tipo_conversion: TipoConversion::Compra,
            regla: regla(CalculoComision::Porcentaje { bps: 2_000 }),
        }],
    );
    CampanaTest::with(())
        .given(given)
        .when(reservar(1, ANA, eur(10_000)))
        .then_expect_events(vec![reservado(1, ANA, eur(2_000), eur(2_000))]);
}

// ---------------------------------------------------------------- AmpliarPresupuesto

#[test]
fn ampliar_presupuesto_records_the_new_total() {
    for estado in [
        EstadoCampana::Borrador,
        EstadoCampana::Activa,
        EstadoCampana::Pausada,
    ] {
        CampanaTest::with(())
            .given(en(estado))
            .when(CampanaCommand::AmpliarPresupuesto { monto: eur(50_000) })
            .then_expect_events(vec![CampanaEvent::PresupuestoAmpliado {
                monto: eur(50_000),
                presupuesto: eur(1_050_000),
            }]);
    }
}

#[test]
fn ampliar_presupuesto_of_a_closed_campaign_is_rejected() {
    for estado in [EstadoCampana::Finalizada, EstadoCampana::Cancelada] {
        let error = rejected(
            en(estado),
            CampanaCommand::AmpliarPresupuesto { monto: eur(100) },
        );
        assert_eq!(error, CampanaError::CampanaCerrada { estado });
    }
}

#[test]
fn ampliar_presupuesto_by_zero_or_less_is_rejected() {
    for monto in [eur(0), eur(-100)] {
        let error = rejected(activa(), CampanaCommand::AmpliarPresupuesto { monto });
        assert_eq!(error, CampanaError::AmpliacionNoPositiva { monto });
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}

#[test]
fn ampliar_presupuesto_in_another_currency_is_rejected() {
    let error = rejected(
        activa(),
        CampanaCommand::AmpliarPresupuesto { monto: usd(100) },
    );
    assert_eq!(
        error,
        CampanaError::MonedaDistinta {
            esperada: Currency::EUR,
            recibida: Currency::USD
        }
    );
}

#[test]
fn ampliar_presupuesto_beyond_what_can_be_counted_is_rejected() {
    let error = rejected(
        activa(),
        CampanaCommand::AmpliarPresupuesto {
            monto: eur(i64::MAX),
        },
    );
    assert_eq!(error, CampanaError::MontoDesbordado);
}

#[test]
fn a_larger_budget_covers_what_did_not_fit() {
    let casi_lleno = with(activa(), [reservado(1, ANA, eur(999_000), eur(999_000))]);
    CampanaTest::with(())
        .given(casi_lleno.clone())
        .when(reservar(2, ANA, eur(20_000)))
        .then_expect_events(vec![insuficiente(2, ANA, eur(2_000), eur(1_000))]);
    let ampliado = with(
        casi_lleno,
        [CampanaEvent::PresupuestoAmpliado {
            monto: eur(1_000),
            presupuesto: eur(1_001_000),
        }],
    );
    CampanaTest::with(())
        .given(ampliado)
        .when(reservar(2, ANA, eur(20_000)))
        .then_expect_events(vec![reservado(2, ANA, eur(2_000), eur(1_001_000))]);
}

// ---------------------------------------------------------------- ReservarPresupuesto

#[test]
fn reservar_presupuesto_reserves_the_amount_of_the_campaign_rule() {
    // 10% of 120.00
    CampanaTest::with(())
        .given(activa())
        .when(reservar(1, ANA, eur(12_000)))
        .then_expect_events(vec![reservado(1, ANA, eur(1_200), eur(1_200))]);
}

#[test]
fn reservations_add_up_to_a_running_total() {
    CampanaTest::with(())
        .given(with(activa(), [reservado(1, ANA, eur(1_200), eur(1_200))]))
        .when(reservar(2, BETO, eur(30_000)))
        .then_expect_events(vec![reservado(2, BETO, eur(3_000), eur(4_200))]);
}

#[test]
fn a_commission_is_at_least_the_rule_minimo() {
    CampanaTest::with(())
        .given(activa())
        .when(reservar(1, ANA, eur(1_000)))
        .then_expect_events(vec![reservado(1, ANA, eur(500), eur(500))]);
}

#[test]
fn a_commission_is_at_most_the_rule_maximo() {
    CampanaTest::with(())
        .given(activa())
        .when(reservar(1, ANA, eur(9_000_000)))
        .then_expect_events(vec![reservado(1, ANA, eur(500_000), eur(500_000))]);
}

#[test]
fn a_lead_pays_its_flat_amount() {
    CampanaTest::with(())
        .given(activa())
        .when(reservar_tipo(1, ANA, TipoConversion::Lead, eur(0)))
        .then_expect_events(vec![reservado_tipo(
            1,
            ANA,
            TipoConversion::Lead,
            eur(2_500),
            eur(2_500),
        )]);
}

#[test]
fn a_flat_fee_is_shared_by_the_partners_credited_with_one_conversion() {
    // One Lead credited to three partners (linear model) pays 25.00 once, not three times.
    let lead = Uuid::from_u128(0xF1);
    let carla = Uuid::from_u128(0xC3);
    let partes = [(ANA, 3_333, 833), (BETO, 3_333, 833), (carla, 3_334, 834)];
    let mut given = activa();
    let mut total = 0;
    for (n, (partner_id, participacion_bps, monto)) in (1u128..).zip(partes) {
        total += monto;
        let reservado = CampanaEvent::PresupuestoReservado {
            comision_id: comision(n),
            conversion_id: lead,
            partner_id,
            tipo_conversion: TipoConversion::Lead,
            monto: eur(monto),
            reservado: eur(total),
        };
        CampanaTest::with(())
            .given(given.clone())
            .when(CampanaCommand::ReservarPresupuesto {
                comision_id: comision(n),
                conversion_id: lead,
                partner_id,
                tipo_conversion: TipoConversion::Lead,
                credito: eur(0),
                participacion_bps,
            })
            .then_expect_events(vec![reservado.clone()]);
        given.push(reservado);
    }
    assert_eq!(total, 2_500);
}

#[test]
fn a_percentage_is_of_the_partner_credit_whatever_its_share() {
    // Half of 200.00 credited: 10% of 100.00.
    CampanaTest::with(())
        .given(activa())
        .when(reservar_parte(
            1,
            ANA,
            TipoConversion::Compra,
            eur(10_000),
            5_000,
        ))
        .then_expect_events(vec![reservado(1, ANA, eur(1_000), eur(1_000))]);
}

#[test]
fn participacion_bps_is_between_1_and_10000() {
    for participacion_bps in [0, 10_001, u32::MAX] {
        let error = rejected(
            activa(),
            reservar_parte(1, ANA, TipoConversion::Lead, eur(0), participacion_bps),
        );
        assert_eq!(
            error,
            CampanaError::ParticipacionInvalida { participacion_bps }
        );
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("participacion_bps"), "{error}");
    }
    for participacion_bps in [1, 10_000] {
        CampanaTest::with(())
            .given(activa())
            .when(reservar_parte(
                1,
                ANA,
                TipoConversion::Lead,
                eur(0),
                participacion_bps,
            ))
            .inspect_result()
            .unwrap();
    }
}

#[test]
fn a_partner_override_replaces_the_rule_for_that_partner() {
    let mut vip = regla_compras();
    vip.por_partner
        .insert(BETO, CalculoComision::Porcentaje { bps: 1_500 });
    let given = with(
        activa(),
        [CampanaEvent::ReglaComisionActualizada {
            tipo_conversion: TipoConversion::Compra,
            regla: vip,
        }],
    );
    CampanaTest::with(())
        .given(given.clone())
        .when(reservar(1, BETO, eur(10_000)))
        .then_expect_events(vec![reservado(1, BETO, eur(1_500), eur(1_500))]);
    CampanaTest::with(())
        .given(given)
        .when(reservar(1, ANA, eur(10_000)))
        .then_expect_events(vec![reservado(1, ANA, eur(1_000), eur(1_000))]);
}

/// 5% from the first conversion, 10% from the third.
fn escalonado() -> CampanaEvent {
    CampanaEvent::ReglaComisionActualizada {
        tipo_conversion: TipoConversion::Compra,
        regla: regla(CalculoComision::Escalonado {
            tramos: vec![
                Tramo {
                    desde_conversiones: 0,
                    bps: 500,
                },
                Tramo {
                    desde_conversiones: 2,
                    bps: 1_000,
                },
            ],
        }),
    }
}

#[test]
fn tiers_count_the_partner_reservations_in_this_campaign() {
    let given = with(
        activa(),
        [
            escalonado(),
            reservado(1, ANA, eur(500), eur(500)),
            reservado(2, BETO, eur(500), eur(1_000)),
            reservado(3, ANA, eur(500), eur(1_500)),
        ],
    );
    // Ana has two reservations: the 10% tier.
    CampanaTest::with(())
        .given(given.clone())
        .when(reservar(4, ANA, eur(10_000)))
        .then_expect_events(vec![reservado(4, ANA, eur(1_000), eur(2_500))]);
    // Beto has one: still 5%.
    CampanaTest::with(())
        .given(given)
        .when(reservar(4, BETO, eur(10_000)))
        .then_expect_events(vec![reservado(4, BETO, eur(500), eur(2_000))]);
}

#[test]
fn a_tiered_rule_needs_a_tier_from_zero_conversions() {
    let desde_la_segunda = regla(CalculoComision::Escalonado {
        tramos: vec![Tramo {
            desde_conversiones: 1,
            bps: 1_000,
        }],
    });
    let error = rejected(
        activa(),
        CampanaCommand::ActualizarReglaComision {
            tipo_conversion: TipoConversion::Compra,
            regla: desde_la_segunda,
        },
    );
    assert_eq!(
        error,
        CampanaError::ReglaComisionInvalida {
            tipo: TipoConversion::Compra,
            motivo: ReglaInvalida::SinTramoDesdeCero
        }
    );
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[test]
fn tiers_count_every_conversion_type_of_the_partner() {
    // Two Lead reservations lift Ana's next Compra to the 10% tier.
    let given = with(
        activa(),
        [
            escalonado(),
            reservado_tipo(1, ANA, TipoConversion::Lead, eur(2_500), eur(2_500)),
            reservado_tipo(2, ANA, TipoConversion::Lead, eur(2_500), eur(5_000)),
        ],
    );
    CampanaTest::with(())
        .given(given)
        .when(reservar(3, ANA, eur(10_000)))
        .then_expect_events(vec![reservado(3, ANA, eur(1_000), eur(6_000))]);
}

#[test]
fn a_released_reservation_no_longer_counts_for_the_tier() {
    let given = with(
        activa(),
        [
            escalonado(),
            reservado(1, ANA, eur(500), eur(500)),
            reservado(2, ANA, eur(500), eur(1_000)),
            liberado(2, eur(500), eur(500)),
        ],
    );
    CampanaTest::with(())
        .given(given)
        .when(reservar(3, ANA, eur(10_000)))
        .then_expect_events(vec![reservado(3, ANA, eur(500), eur(1_000))]);
}

#[test]
fn reservar_presupuesto_requires_an_active_campaign() {
    for estado in [
        EstadoCampana::Borrador,
        EstadoCampana::Pausada,
        EstadoCampana::Finalizada,
        EstadoCampana::Cancelada,
    ] {
        let error = rejected(en(estado), reservar(1, ANA, eur(10_000)));
        assert_eq!(error, CampanaError::CampanaNoActiva { estado });
        assert_eq!(error.kind(), ErrorKind::BusinessRule);
    }
}

#[test]
fn a_redelivered_reservation_is_already_done() {
    let seen_before = [
        with(activa(), [reservado(1, ANA, eur(1_000), eur(1_000))]),
        with(
            activa(),
            [
                reservado(1, ANA, eur(1_000), eur(1_000)),
                liberado(1, eur(1_000), eur(0)),
            ],
        ),
        with(
            activa(),
            [insuficiente(1, ANA, eur(2_000_000), eur(1_000_000))],
        ),
    ];
    for given in seen_before {
        CampanaTest::with(())
            .given(given)
            .when(reservar(1, ANA, eur(10_000)))
            .then_expect_events(vec![]);
    }
}

#[test]
fn a_redelivered_reservation_is_already_done_even_after_the_campaign_stopped() {
    let given = with(
        activa(),
        [
            reservado(1, ANA, eur(1_000), eur(1_000)),
            CampanaEvent::CampanaFinalizada,
        ],
    );
    CampanaTest::with(())
        .given(given)
        .when(reservar(1, ANA, eur(10_000)))
        .then_expect_events(vec![]);
}

#[test]
fn a_conversion_type_without_a_rule_is_sin_regla_comision() {
    let error = rejected(
        activa(),
        reservar_tipo(1, ANA, TipoConversion::Registro, eur(0)),
    );
    assert_eq!(
        error,
        CampanaError::SinReglaComision {
            tipo: TipoConversion::Registro
        }
    );
    assert_eq!(error.kind(), ErrorKind::BusinessRule);
}

#[test]
fn a_credit_in_another_currency_is_moneda_distinta() {
    let error = rejected(activa(), reservar(1, ANA, usd(10_000)));
    assert_eq!(
        error,
        CampanaError::MonedaDistinta {
            esperada: Currency::EUR,
            recibida: Currency::USD
        }
    );
    assert_eq!(error.kind(), ErrorKind::BusinessRule);
}

#[test]
fn a_negative_credit_is_rejected() {
    let error = rejected(activa(), reservar(1, ANA, eur(-1)));
    assert_eq!(error, CampanaError::CreditoNegativo { credito: eur(-1) });
}

#[test]
fn a_commission_beyond_the_budget_is_presupuesto_insuficiente() {
    let given = with(activa(), [reservado(1, ANA, eur(999_900), eur(999_900))]);
    CampanaTest::with(())
        .given(given)
        .when(reservar(2, BETO, eur(2_000)))
        .then_expect_events(vec![insuficiente(2, BETO, eur(500), eur(100))]);
}

#[test]
fn a_commission_that_exactly_fills_the_budget_is_reserved() {
    let given = with(activa(), [reservado(1, ANA, eur(999_500), eur(999_500))]);
    CampanaTest::with(())
        .given(given)
        .when(reservar(2, BETO, eur(2_000)))
        .then_expect_events(vec![reservado(2, BETO, eur(500), eur(1_000_000))]);
}

// ---------------------------------------------------------------- LiberarPresupuesto

#[test]
fn liberar_presupuesto_releases_the_reserved_amount() {
    let given = with(
        activa(),
        [
            reservado(1, ANA, eur(1_200), eur(1_200)),
            reservado(2, BETO, eur(3_000), eur(4_200)),
        ],
    );
    CampanaTest::with(())
        .given(given)
        .when(CampanaCommand::LiberarPresupuesto {
            comision_id: comision(1),
        })
        .then_expect_events(vec![liberado(1, eur(1_200), eur(3_000))]);
}

#[test]
fn liberar_presupuesto_is_allowed_in_any_state() {
    for estado in TODOS_LOS_ESTADOS {
        let mut given = with(activa(), [reservado(1, ANA, eur(1_200), eur(1_200))]);
        given.extend(match estado {
            EstadoCampana::Borrador => continue, // nothing is reserved before activation
            EstadoCampana::Activa => vec![],
            EstadoCampana::Pausada => vec![CampanaEvent::CampanaPausada],
            EstadoCampana::Finalizada => vec![CampanaEvent::CampanaFinalizada],
            EstadoCampana::Cancelada => vec![CampanaEvent::CampanaCancelada {
                motivo: "fraude".to_string(),
            }],
        });
        CampanaTest::with(())
            .given(given)
            .when(CampanaCommand::LiberarPresupuesto {
                comision_id: comision(1),
            })
            .then_expect_events(vec![liberado(1, eur(1_200), eur(0))]);
    }
}

#[test]
fn liberar_presupuesto_twice_is_already_done() {
    let given = with(
        activa(),
        [
            reservado(1, ANA, eur(1_200), eur(1_200)),
            liberado(1, eur(1_200), eur(0)),
        ],
    );
    CampanaTest::with(())
        .given(given)
        .when(CampanaCommand::LiberarPresupuesto {
            comision_id: comision(1),
        })
        .then_expect_events(vec![]);
}

#[test]
fn liberar_presupuesto_never_reserved_is_reserva_desconocida() {
    let never_reserved = [
        activa(),
        with(
            activa(),
            [insuficiente(1, ANA, eur(2_000_000), eur(1_000_000))],
        ),
    ];
    for given in never_reserved {
        let error = rejected(
            given,
            CampanaCommand::LiberarPresupuesto {
                comision_id: comision(1),
            },
        );
        assert_eq!(
            error,
            CampanaError::ReservaDesconocida {
                comision_id: comision(1)
            }
        );
        assert_eq!(error.kind(), ErrorKind::BusinessRule);
    }
}

#[test]
fn released_budget_can_be_reserved_again() {
    let given = with(
        activa(),
        [
            reservado(1, ANA, eur(1_000_000), eur(1_000_000)),
            liberado(1, eur(1_000_000), eur(0)),
        ],
    );
    CampanaTest::with(())
        .given(given)
        .when(reservar(2, BETO, eur(10_000)))
        .then_expect_events(vec![reservado(2, BETO, eur(1_000), eur(1_000))]);
}

// ---------------------------------------------------------------- state and snapshots

/// Runs `commands` one after the other on an active campaign, keeping every event.
fn run(commands: Vec<CampanaCommand>) -> (Campana, Vec<CampanaEvent>) {
    let mut events = activa();
    for command in commands {
        let result = CampanaTest::with(())
            .given(events.clone())
            .when(command)
            .inspect_result();
        if let Ok(new_events) = result {
            events.extend(new_events);
        }
    }
    let mut campana = Campana::default();
    for event in events.clone() {
        campana.apply(event);
    }
    (campana, events)
}

#[test]
fn the_aggregate_tracks_every_reservation() {
    let (campana, _) = run(vec![
        reservar(1, ANA, eur(12_000)),
        reservar(2, BETO, eur(30_000)),
        CampanaCommand::LiberarPresupuesto {
            comision_id: comision(1),
        },
        reservar(3, ANA, eur(9_000_000)),
        reservar(4, BETO, eur(9_000_000)),
    ]);
    assert_eq!(campana.reservado(), Some(eur(503_000)));
    assert_eq!(campana.disponible(), Some(eur(497_000)));
    assert_eq!(campana.reserva(comision(1)), Some(EstadoReserva::Liberada));
    assert_eq!(
        campana.reserva(comision(2)),
        Some(EstadoReserva::Reservada {
            partner_id: BETO,
            monto: eur(3_000)
        })
    );
    assert_eq!(
        campana.reserva(comision(4)),
        Some(EstadoReserva::Insuficiente)
    );
    assert_eq!(campana.reserva(comision(5)), None);
    assert_eq!(campana.conversiones_del_partner(ANA), 1);
    assert_eq!(campana.conversiones_del_partner(BETO), 1);
}

#[test]
fn a_snapshot_equals_a_replay() {
    let (replayed, _) = run(vec![
        reservar(1, ANA, eur(12_000)),
        reservar(2, BETO, eur(30_000)),
        reservar(3, ANA, eur(50_000)),
        CampanaCommand::LiberarPresupuesto {
            comision_id: comision(2),
        },
        reservar(4, BETO, eur(100_000_000)),
        CampanaCommand::AmpliarPresupuesto { monto: eur(5_000) },
    ]);
    let snapshot = serde_json::to_value(&replayed).unwrap();
    let restored: Campana = serde_json::from_value(snapshot).unwrap();
    assert_eq!(restored, replayed);
    assert_eq!(restored.conversiones_del_partner(ANA), 2);
}

fn any_command() -> impl Strategy<Value = CampanaCommand> {
    prop_oneof![
        4 => (0u128..30, prop::bool::ANY, 0i64..5_000_000).prop_map(|(n, ana, credito)| {
            reservar(n, if ana { ANA } else { BETO }, eur(credito))
        }),
        1 => (0u128..30, prop::bool::ANY, 1u32..=10_000).prop_map(|(n, ana, participacion)| {
            reservar_parte(n, if ana { ANA } else { BETO }, TipoConversion::Lead, eur(0), participacion)
        }),
        2 => (0u128..30).prop_map(|n| CampanaCommand::LiberarPresupuesto { comision_id: comision(n) }),
        1 => (1i64..200_000).prop_map(|cents| CampanaCommand::AmpliarPresupuesto { monto: eur(cents) }),
        1 => Just(CampanaCommand::PausarCampana),
        1 => Just(CampanaCommand::ActivarCampana),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reserved_never_exceeds_the_budget_and_is_the_sum_of_held_reservations(
        commands in prop::collection::vec(any_command(), 0..40),
    ) {
        let (campana, _) = run(commands);
        let reservado = campana.reservado().unwrap();
        prop_assert!(reservado.amount >= 0);
        prop_assert!(reservado.amount <= campana.presupuesto().unwrap().amount);
        let held: i64 = (0u128..30)
            .filter_map(|n| match campana.reserva(comision(n)) {
                Some(EstadoReserva::Reservada { monto, .. }) => Some(monto.amount),
                _ => None,
            })
            .sum();
        prop_assert_eq!(reservado.amount, held);
        let snapshot = serde_json::to_string(&campana).unwrap();
        let restored: Campana = serde_json::from_str(&snapshot).unwrap();
        prop_assert_eq!(restored, campana);
    }
}
