//! The Atribucion aggregate through its commands: given past events, when a command, then
//! the events it records or the rule it breaks. One test per rule, named after it.

use alpes_domain::atribucion::{
    Atribucion, AtribucionCommand, AtribucionError, AtribucionEvent, ConfiguracionFraude,
    Conversion, CreditoPartner, EstadoAtribucion, EvidenciaJourney, HallazgoFraude,
    MotivoNoAtribucion, MotivoReversion, OrigenFraude, ParametrosAtribucion, Touchpoint,
};
use alpes_domain::rules::fraud::ReglaDisparada;
use alpes_domain::{
    Currency, ErrorKind, ModeloAtribucion, Money, RuleViolation, TipoConversion, TipoInteraccion,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

type AtribucionTest = TestFramework<Atribucion>;

fn escenario() -> AtribucionTest {
    TestFramework::with(ConfiguracionFraude::default())
}

const CONVERSION_ID: Uuid = Uuid::from_u128(0xC0);
const PARTNER_A: Uuid = Uuid::from_u128(0xA1);
const PARTNER_B: Uuid = Uuid::from_u128(0xB2);

fn momento_conversion() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 30, 12, 0, 0).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn compra(valor: i64) -> Conversion {
    Conversion {
        interaccion_id: CONVERSION_ID,
        tipo: TipoConversion::Compra,
        campana_id: Uuid::from_u128(0xCA),
        journey_id: Uuid::from_u128(0x10),
        occurred_at: momento_conversion(),
        valor: eur(valor),
        pedido_id: Some("P-1".into()),
    }
}

/// A click of `partner` `horas` hours before the conversion, from a browser.
fn click(id: u128, partner: Uuid, horas: i64) -> Touchpoint {
    Touchpoint {
        interaccion_id: Uuid::from_u128(id),
        tipo: TipoInteraccion::Click,
        partner_id: Some(partner),
        occurred_at: momento_conversion() - Duration::hours(horas),
        ip_hash: Some("ip-1".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0".into()),
    }
}

fn parametros(modelo: ModeloAtribucion) -> ParametrosAtribucion {
    ParametrosAtribucion {
        modelo,
        ventana_dias: 30,
        umbral_fraude: 50,
        campana_activa: true,
    }
}

fn atribuir(conversion: Conversion, journey: Vec<Touchpoint>) -> AtribucionCommand {
    AtribucionCommand::AtribuirConversion {
        conversion,
        journey,
        parametros: parametros(ModeloAtribucion::UltimoClick),
        evidencia: EvidenciaJourney::default(),
    }
}

fn journey_a_luego_b() -> Vec<Touchpoint> {
    vec![click(1, PARTNER_A, 48), click(2, PARTNER_B, 2)]
}

/// The interactions `ids` of the journey, then the conversion's own.
fn interacciones(ids: &[u128]) -> Vec<Uuid> {
    ids.iter()
        .map(|id| Uuid::from_u128(*id))
        .chain([CONVERSION_ID])
        .collect()
}

fn atribuida() -> AtribucionEvent {
    atribuida_tras(&[1, 2])
}

/// Attributed to partner B's click 2, after a journey of the interactions `journey`.
fn atribuida_tras(journey: &[u128]) -> AtribucionEvent {
    AtribucionEvent::ConversionAtribuida {
        conversion: compra(10_000),
        modelo: ModeloAtribucion::UltimoClick,
        creditos: vec![CreditoPartner {
            partner_id: PARTNER_B,
            touchpoint_id: Uuid::from_u128(2),
            monto: eur(10_000),
        }],
        interacciones: interacciones(journey),
    }
}

fn no_atribuida() -> AtribucionEvent {
    AtribucionEvent::ConversionNoAtribuida {
        conversion: compra(10_000),
        motivo: MotivoNoAtribucion::SinTouchpointEnVentana,
    }
}

fn reportado() -> OrigenFraude {
    OrigenFraude::Reportado {
        reportado_por: "equipo-riesgo".into(),
    }
}

fn fraude_reportado() -> AtribucionEvent {
    AtribucionEvent::FraudeDetectado {
        conversion: compra(10_000),
        origen: reportado(),
        motivo: "tarjeta robada".into(),
        hallazgo: None,
        interacciones: interacciones(&[1, 2]),
    }
}

fn rechazada_por_reglas() -> AtribucionEvent {
    AtribucionEvent::FraudeDetectado {
        conversion: compra(10_000),
        origen: OrigenFraude::Reglas,
        motivo: "puntuación 100 ≥ umbral 50: PedidoYaConvertido".into(),
        hallazgo: None,
        interacciones: interacciones(&[1, 2]),
    }
}

fn revertida(motivo: MotivoReversion) -> AtribucionEvent {
    AtribucionEvent::AtribucionRevertida {
        conversion: compra(10_000),
        motivo,
        interacciones: interacciones(&[1, 2]),
    }
}

fn marcar_fraude() -> AtribucionCommand {
    AtribucionCommand::MarcarFraude {
        motivo: "tarjeta robada".into(),
        origen: reportado(),
    }
}

fn revertir(motivo: MotivoReversion) -> AtribucionCommand {
    AtribucionCommand::RevertirAtribucion { motivo }
}

// ---- AtribuirConversion ----------------------------------------------------------------

#[test]
fn ultimo_click_by_default_credits_the_last_partner_touchpoint() {
    escenario()
        .given_no_previous_events()
        .when(atribuir(compra(10_000), journey_a_luego_b()))
        .then_expect_events(vec![atribuida()]);
}

#[test]
fn the_campaign_model_splits_the_credit_exactly() {
    let journey = vec![
        click(1, PARTNER_A, 72),
        click(2, PARTNER_B, 48),
        click(3, PARTNER_A, 2),
    ];
    escenario()
        .given_no_previous_events()
        .when(AtribucionCommand::AtribuirConversion {
            conversion: compra(10_000),
            journey,
            parametros: parametros(ModeloAtribucion::Lineal),
            evidencia: EvidenciaJourney::default(),
        })
        .then_expect_events(vec![AtribucionEvent::ConversionAtribuida {
            conversion: compra(10_000),
            modelo: ModeloAtribucion::Lineal,
            creditos: vec![
                CreditoPartner {
                    partner_id: PARTNER_B,
                    touchpoint_id: Uuid::from_u128(2),
                    monto: eur(3_333),
                },
                CreditoPartner {
                    partner_id: PARTNER_A,
                    touchpoint_id: Uuid::from_u128(3),
                    monto: eur(6_667),
                },
            ],
            interacciones: interacciones(&[1, 2, 3]),
        }]);
}

#[test]
fn valor_de_conversion_invalido_a_compra_must_be_worth_something() {
    escenario()
        .given_no_previous_events()
        .when(atribuir(compra(0), journey_a_luego_b()))
        .then_expect_error(AtribucionError::ValorDeConversionInvalido {
            campo: "conversion.valor",
            tipo: TipoConversion::Compra,
            valor: eur(0),
        });
}

#[test]
fn valor_de_conversion_invalido_a_lead_may_be_free_but_not_negative() {
    let lead = |valor| Conversion {
        tipo: TipoConversion::Lead,
        pedido_id: None,
        ..compra(valor)
    };
    escenario()
        .given_no_previous_events()
        .when(atribuir(lead(0), journey_a_luego_b()))
        .then_expect_events(vec![AtribucionEvent::ConversionAtribuida {
            conversion: lead(0),
            modelo: ModeloAtribucion::UltimoClick,
            creditos: vec![CreditoPartner {
                partner_id: PARTNER_B,
                touchpoint_id: Uuid::from_u128(2),
                monto: eur(0),
            }],
            interacciones: interacciones(&[1, 2]),
        }]);
    escenario()
        .given_no_previous_events()
        .when(atribuir(lead(-1), journey_a_luego_b()))
        .then_expect_error(AtribucionError::ValorDeConversionInvalido {
            campo: "conversion.valor",
            tipo: TipoConversion::Lead,
            valor: eur(-1),
        });
}

#[test]
fn ventana_invalida_the_window_is_at_least_one_day() {
    escenario()
        .given_no_previous_events()
        .when(AtribucionCommand::AtribuirConversion {
            conversion: compra(10_000),
            journey: journey_a_luego_b(),
            parametros: ParametrosAtribucion {
                ventana_dias: 0,
                ..parametros(ModeloAtribucion::UltimoClick)
            },
            evidencia: EvidenciaJourney::default(),
        })
        .then_expect_error(AtribucionError::VentanaInvalida {
            campo: "parametros.ventana_dias",
            ventana_dias: 0,
        });
}

#[test]
fn umbral_fraude_invalido_the_threshold_is_between_1_and_100() {
    for umbral in [0, 101] {
        escenario()
            .given_no_previous_events()
            .when(AtribucionCommand::AtribuirConversion {
                conversion: compra(10_000),
                journey: journey_a_luego_b(),
                parametros: ParametrosAtribucion {
                    umbral_fraude: umbral,
                    ..parametros(ModeloAtribucion::UltimoClick)
                },
                evidencia: EvidenciaJourney::default(),
            })
            .then_expect_error(AtribucionError::UmbralFraudeInvalido {
                campo: "parametros.umbral_fraude",
                umbral,
            });
    }
}

#[test]
fn campana_no_activa_attributes_nothing() {
    escenario()
        .given_no_previous_events()
        .when(AtribucionCommand::AtribuirConversion {
            conversion: compra(10_000),
            journey: journey_a_luego_b(),
            parametros: ParametrosAtribucion {
                campana_activa: false,
                ..parametros(ModeloAtribucion::UltimoClick)
            },
            // Even a duplicate order: an inactive campaign pays nobody, fraud or not.
            evidencia: EvidenciaJourney {
                pedido_ya_convertido_por: Some(Uuid::from_u128(0xC1)),
            },
        })
        .then_expect_events(vec![AtribucionEvent::ConversionNoAtribuida {
            conversion: compra(10_000),
            motivo: MotivoNoAtribucion::CampanaNoActiva,
        }]);
}

#[test]
fn sin_touchpoint_en_ventana_attributes_nothing() {
    let mut sin_partner = click(3, PARTNER_A, 1);
    sin_partner.partner_id = None;
    let journey = vec![click(1, PARTNER_A, 31 * 24), sin_partner];
    escenario()
        .given_no_previous_events()
        .when(atribuir(compra(10_000), journey))
        .then_expect_events(vec![no_atribuida()]);
}

#[test]
fn fraude_detectado_when_the_rules_reach_the_campaign_threshold() {
    let primer_click = click(1, PARTNER_A, 0);
    let id_click = primer_click.interaccion_id;
    let mut bot = click(2, PARTNER_B, 0);
    bot.user_agent = Some("Googlebot/2.1".into());
    let journey = vec![primer_click, bot];
    let evidencia = EvidenciaJourney::default();
    escenario()
        .given_no_previous_events()
        .when(AtribucionCommand::AtribuirConversion {
            conversion: compra(10_000),
            journey,
            parametros: parametros(ModeloAtribucion::UltimoClick),
            evidencia,
        })
        .then_expect_events(vec![AtribucionEvent::FraudeDetectado {
            conversion: compra(10_000),
            origen: OrigenFraude::Reglas,
            motivo: "puntuación 100 ≥ umbral 50: ConversionDemasiadoRapida, UserAgentDeBot".into(),
            hallazgo: Some(HallazgoFraude {
                reglas: vec![
                    ReglaDisparada {
                        regla: "ConversionDemasiadoRapida".into(),
                        puntuacion: 40,
                        evidencia: format!(
                            "conversión 0 ms después del primer click ({id_click}); mínimo 10 s"
                        ),
                    },
                    ReglaDisparada {
                        regla: "UserAgentDeBot".into(),
                        puntuacion: 60,
                        evidencia: format!(
                            "1 interacciones con user agent de bot; la primera: {} \
                             'Googlebot/2.1' contiene 'bot'",
                            Uuid::from_u128(2)
                        ),
                    },
                ],
                puntuacion_total: 100,
                umbral: 50,
            }),
            interacciones: interacciones(&[1, 2]),
        }]);
}

#[test]
fn pedido_ya_convertido_is_fraud_before_attribution() {
    let anterior = Uuid::from_u128(0xC1);
    let result = escenario()
        .given_no_previous_events()
        .when(AtribucionCommand::AtribuirConversion {
            conversion: compra(10_000),
            journey: journey_a_luego_b(),
            parametros: parametros(ModeloAtribucion::UltimoClick),
            evidencia: EvidenciaJourney {
                pedido_ya_convertido_por: Some(anterior),
            },
        })
        .inspect_result()
        .unwrap();
    let [AtribucionEvent::FraudeDetectado {
        origen: OrigenFraude::Reglas,
        hallazgo: Some(hallazgo),
        ..
    }] = result.as_slice()
    else {
        panic!("expected FraudeDetectado by the rules, got {result:?}");
    };
    assert_eq!(hallazgo.reglas.len(), 1);
    assert_eq!(hallazgo.reglas[0].regla, "PedidoYaConvertido");
    assert!(hallazgo.reglas[0].evidencia.contains(&anterior.to_string()));
}

#[test]
fn a_score_below_the_threshold_still_attributes() {
    // The conversion 5 s after the first click scores 40 < 50.
    let mut rapido = click(2, PARTNER_B, 0);
    rapido.occurred_at = momento_conversion() - Duration::seconds(5);
    escenario()
        .given_no_previous_events()
        .when(atribuir(compra(10_000), vec![rapido]))
        .then_expect_events(vec![atribuida_tras(&[2])]);
}

#[test]
fn the_journey_it_looked_at_is_what_a_fraud_finding_discards() {
    // The conversion's own interaction counts once, wherever the journey lists it.
    let mut journey = journey_a_luego_b();
    journey.push(Touchpoint {
        interaccion_id: CONVERSION_ID,
        tipo: TipoInteraccion::Compra,
        partner_id: None,
        ..click(0, PARTNER_A, 0)
    });
    escenario()
        .given_no_previous_events()
        .when(atribuir(compra(10_000), journey))
        .then_expect_events(vec![atribuida()]);
    // A fraud found later, and the reversion that follows, name the same interactions.
    let fraude = AtribucionEvent::FraudeDetectado {
        conversion: compra(10_000),
        origen: reportado(),
        motivo: "tarjeta robada".into(),
        hallazgo: None,
        interacciones: interacciones(&[7, 8]),
    };
    escenario()
        .given(vec![atribuida_tras(&[7, 8])])
        .when(marcar_fraude())
        .then_expect_events(vec![fraude.clone()]);
    escenario()
        .given(vec![atribuida_tras(&[7, 8]), fraude])
        .when(revertir(MotivoReversion::Fraude))
        .then_expect_events(vec![AtribucionEvent::AtribucionRevertida {
            conversion: compra(10_000),
            motivo: MotivoReversion::Fraude,
            interacciones: interacciones(&[7, 8]),
        }]);
}

#[test]
fn the_fraud_configuration_comes_from_the_services() {
    // A stricter configuration: even 2 clicks per minute from one IP score 60.
    let config = ConfiguracionFraude {
        max_clicks_por_ip_en_60_segundos: 1,
        puntuacion_rafaga_de_clicks_por_ip: 60,
        ..ConfiguracionFraude::default()
    };
    let mut journey = journey_a_luego_b();
    journey[0].occurred_at = journey[1].occurred_at - Duration::seconds(30);
    let result = TestFramework::<Atribucion>::with(config)
        .given_no_previous_events()
        .when(atribuir(compra(10_000), journey))
        .inspect_result()
        .unwrap();
    assert!(
        matches!(
            result.as_slice(),
            [AtribucionEvent::FraudeDetectado { hallazgo: Some(h), .. }]
                if h.reglas[0].regla == "RafagaDeClicksPorIp" && h.puntuacion_total == 60
        ),
        "{result:?}"
    );
}

#[test]
fn a_decided_attribution_ignores_a_redelivered_command() {
    for decidida in [atribuida(), no_atribuida(), rechazada_por_reglas()] {
        escenario()
            .given(vec![decidida])
            .when(atribuir(compra(10_000), journey_a_luego_b()))
            .then_expect_events(vec![]);
    }
}

#[test]
fn conversion_distinta_cannot_reuse_an_attribution() {
    let otra = Conversion {
        interaccion_id: Uuid::from_u128(0xC9),
        ..compra(10_000)
    };
    escenario()
        .given(vec![atribuida()])
        .when(atribuir(otra, journey_a_luego_b()))
        .then_expect_error(AtribucionError::ConversionDistinta {
            esperada: CONVERSION_ID,
            recibida: Uuid::from_u128(0xC9),
        });
}

// ---- MarcarFraude ----------------------------------------------------------------------

#[test]
fn marcar_fraude_puts_an_attribution_under_review() {
    escenario()
        .given(vec![atribuida()])
        .when(marcar_fraude())
        .then_expect_events(vec![fraude_reportado()]);
}

#[test]
fn marcar_fraude_again_is_already_done() {
    escenario()
        .given(vec![atribuida(), fraude_reportado()])
        .when(marcar_fraude())
        .then_expect_events(vec![]);
    escenario()
        .given(vec![
            atribuida(),
            fraude_reportado(),
            revertida(MotivoReversion::Fraude),
        ])
        .when(marcar_fraude())
        .then_expect_events(vec![]);
}

#[test]
fn marcar_fraude_on_rechazada_por_fraude_is_already_done() {
    // The rules already rejected the conversion as fraud before anyone got credit.
    escenario()
        .given(vec![rechazada_por_reglas()])
        .when(marcar_fraude())
        .then_expect_events(vec![]);
}

#[test]
fn texto_vacio_fraud_needs_a_reason_and_a_reporter() {
    escenario()
        .given(vec![atribuida()])
        .when(AtribucionCommand::MarcarFraude {
            motivo: "  ".into(),
            origen: reportado(),
        })
        .then_expect_error(AtribucionError::TextoVacio { campo: "motivo" });
    escenario()
        .given(vec![atribuida()])
        .when(AtribucionCommand::MarcarFraude {
            motivo: "tarjeta robada".into(),
            origen: OrigenFraude::Reportado {
                reportado_por: "".into(),
            },
        })
        .then_expect_error(AtribucionError::TextoVacio {
            campo: "origen.reportado_por",
        });
}

#[test]
fn transicion_invalida_fraud_cannot_be_marked_on_a_closed_attribution() {
    let casos = [
        (vec![no_atribuida()], EstadoAtribucion::NoAtribuida),
        // No commission was ever reserved, so there is nothing to claw back.
        (
            vec![
                atribuida(),
                revertida(MotivoReversion::PresupuestoInsuficiente),
            ],
            EstadoAtribucion::Revertida {
                motivo: MotivoReversion::PresupuestoInsuficiente,
            },
        ),
    ];
    for (given, desde) in casos {
        escenario()
            .given(given)
            .when(marcar_fraude())
            .then_expect_error(AtribucionError::TransicionInvalida {
                desde,
                hacia: EstadoAtribucion::EnRevisionPorFraude,
            });
    }
}

#[test]
fn no_existe_fraud_cannot_be_marked_before_attribution() {
    escenario()
        .given_no_previous_events()
        .when(marcar_fraude())
        .then_expect_error(AtribucionError::NoExiste);
}

// ---- RevertirAtribucion ----------------------------------------------------------------

#[test]
fn revertir_atribucion_when_the_budget_cannot_cover_the_commission() {
    escenario()
        .given(vec![atribuida()])
        .when(revertir(MotivoReversion::PresupuestoInsuficiente))
        .then_expect_events(vec![revertida(MotivoReversion::PresupuestoInsuficiente)]);
}

#[test]
fn revertir_atribucion_for_fraud_under_review() {
    escenario()
        .given(vec![atribuida(), fraude_reportado()])
        .when(revertir(MotivoReversion::Fraude))
        .then_expect_events(vec![revertida(MotivoReversion::Fraude)]);
}

#[test]
fn revertir_atribucion_again_is_already_done() {
    for motivo in [
        MotivoReversion::Fraude,
        MotivoReversion::PresupuestoInsuficiente,
    ] {
        escenario()
            .given(vec![
                atribuida(),
                fraude_reportado(),
                revertida(MotivoReversion::Fraude),
            ])
            .when(revertir(motivo))
            .then_expect_events(vec![]);
        escenario()
            .given(vec![
                atribuida(),
                revertida(MotivoReversion::PresupuestoInsuficiente),
            ])
            .when(revertir(motivo))
            .then_expect_events(vec![]);
    }
}

#[test]
fn transicion_invalida_a_reversion_needs_the_matching_state() {
    let casos = [
        // Fraud is reverted only after MarcarFraude.
        (
            vec![atribuida()],
            MotivoReversion::Fraude,
            EstadoAtribucion::Atribuida,
        ),
        (
            vec![atribuida(), fraude_reportado()],
            MotivoReversion::PresupuestoInsuficiente,
            EstadoAtribucion::EnRevisionPorFraude,
        ),
        (
            vec![no_atribuida()],
            MotivoReversion::PresupuestoInsuficiente,
            EstadoAtribucion::NoAtribuida,
        ),
        (
            vec![rechazada_por_reglas()],
            MotivoReversion::Fraude,
            EstadoAtribucion::RechazadaPorFraude,
        ),
    ];
    for (given, motivo, desde) in casos {
        escenario()
            .given(given)
            .when(revertir(motivo))
            .then_expect_error(AtribucionError::TransicionInvalida {
                desde,
                hacia: EstadoAtribucion::Revertida { motivo },
            });
    }
}

#[test]
fn no_existe_nothing_to_revert_before_attribution() {
    escenario()
        .given_no_previous_events()
        .when(revertir(MotivoReversion::PresupuestoInsuficiente))
        .then_expect_error(AtribucionError::NoExiste);
}

// ---- Error classification --------------------------------------------------------------

#[test]
fn errors_map_to_their_kind_and_code() {
    let casos = [
        (
            AtribucionError::NoExiste,
            ErrorKind::NotFound,
            "AtribucionNoExiste",
        ),
        (
            AtribucionError::TransicionInvalida {
                desde: EstadoAtribucion::NoAtribuida,
                hacia: EstadoAtribucion::EnRevisionPorFraude,
            },
            ErrorKind::Conflict,
            "TransicionInvalida",
        ),
        (
            AtribucionError::TextoVacio { campo: "motivo" },
            ErrorKind::InvalidInput,
            "TextoVacio",
        ),
    ];
    for (error, kind, code) in casos {
        assert_eq!(error.kind(), kind);
        assert_eq!(error.code(), code);
    }
    let error = AtribucionError::TransicionInvalida {
        desde: EstadoAtribucion::Revertida {
            motivo: MotivoReversion::Fraude,
        },
        hacia: EstadoAtribucion::EnRevisionPorFraude,
    };
    assert_eq!(
        error.to_string(),
        "invalid transition from Revertida(Fraude) to EnRevisionPorFraude"
    );
    assert_eq!(
        AtribucionError::TextoVacio { campo: "motivo" }.campo(),
        Some("motivo")
    );
}

#[test]
fn the_aggregate_state_follows_its_events() {
    let mut atribucion = Atribucion::default();
    assert_eq!(atribucion.estado, EstadoAtribucion::Pendiente);
    for evento in [
        atribuida(),
        fraude_reportado(),
        revertida(MotivoReversion::Fraude),
    ] {
        cqrs_es::Aggregate::apply(&mut atribucion, evento);
    }
    assert_eq!(
        atribucion.estado,
        EstadoAtribucion::Revertida {
            motivo: MotivoReversion::Fraude
        }
    );
    assert_eq!(atribucion.creditos.len(), 1);
    assert_eq!(atribucion.conversion, Some(compra(10_000)));
}
