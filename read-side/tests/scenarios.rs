//! Every view after realistic journeys, driven through the domain's commands: a paid
//! commission, a fraud reversal, a touchpoint-only journey, an unattributed lead, and a
//! budget too small for its commission.

mod support;

use std::collections::BTreeMap;

use alpes_domain::atribucion::{
    AtribucionCommand, Conversion, EvidenciaJourney, MotivoReversion, OrigenFraude,
    ParametrosAtribucion, Touchpoint,
};
use alpes_domain::campana::{
    CalculoComision, CampanaCommand, CampanaEvent, ConfiguracionAtribucion, DatosCampana, Marca,
    ReglaComision, ReglasComision, SegmentoAudiencia, TipoCampana,
};
use alpes_domain::comision::{ComisionCommand, DatosComision};
use alpes_domain::interaccion::{ContextoInteraccion, DatosInteraccion, InteraccionCommand};
use alpes_domain::{ids, Currency, ModeloAtribucion, Money, TipoInteraccion};
use alpes_read::atribucion::AtribucionFilter;
use alpes_read::comisiones::ComisionFilter;
use alpes_read::marketing::CampanaFilter;
use alpes_read::saga::EstadoJourney;
use alpes_read::tracking::InteraccionFilter;
use alpes_read::workload::Commands;
use alpes_read::ProjectionState;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use support::Env;

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const C: u128 = 1;
const C2: u128 = 2;
const P1: u128 = 71;
const P2: u128 = 72;
const J1: u128 = 101;
const J2: u128 = 102;
const J3: u128 = 103;
const J4: u128 = 104;
const J5: u128 = 105;
const LOTE_APROBACION: u128 = 901;
const LOTE_PAGO: u128 = 902;

fn campana(nombre: &str, presupuesto: i64) -> DatosCampana {
    DatosCampana {
        marca: Marca {
            id: id(500),
            nombre: "Moda Sol".to_string(),
        },
        nombre: nombre.to_string(),
        descripcion: "Colección de verano".to_string(),
        tipo: TipoCampana::Afiliados,
        fecha_inicio: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        fecha_fin: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
        segmento: SegmentoAudiencia::default(),
        canales: vec!["instagram".to_string()],
        frecuencia_maxima: None,
        presupuesto: eur(presupuesto),
        reglas_comision: ReglasComision {
            compra: Some(ReglaComision {
                calculo: CalculoComision::Porcentaje { bps: 1_000 },
                minimo: Some(eur(100)),
                maximo: None,
                por_partner: BTreeMap::new(),
            }),
            lead: None,
            registro: None,
        },
        atribucion: ConfiguracionAtribucion {
            modelo: ModeloAtribucion::UltimoClick,
            ventana_dias: 30,
            dias_retencion: 14,
            umbral_fraude: 50,
        },
    }
}

struct Journeys {
    commands: Commands,
}

impl Journeys {
    #[allow(clippy::too_many_arguments)] // one argument per field of the interaction
    async fn interaccion(
        &self,
        interaccion: u128,
        campana: u128,
        journey: u128,
        tipo: TipoInteraccion,
        partner: Option<u128>,
        minutos: i64,
        valor: Option<i64>,
    ) -> Touchpoint {
        let datos = DatosInteraccion {
            tipo,
            campana_id: id(campana),
            partner_id: partner.map(id),
            journey_id: id(journey),
            occurred_at: t0() + Duration::minutes(minutos),
            valor: valor.map(eur),
            pedido_id: (tipo == TipoInteraccion::Compra).then(|| format!("PED-{interaccion}")),
            contexto: ContextoInteraccion::default(),
        };
        let touchpoint = Touchpoint {
            interaccion_id: id(interaccion),
            tipo,
            partner_id: datos.partner_id,
            occurred_at: datos.occurred_at,
            ip_hash: None,
            user_agent: None,
        };
        self.commands
            .interaccion(
                id(interaccion),
                InteraccionCommand::RegistrarInteraccion {
                    id: id(interaccion),
                    datos,
                },
            )
            .await
            .unwrap();
        touchpoint
    }
}

/// Sends the saga's commands for a purchase attributed to one partner.
struct Flujo<'a> {
    commands: &'a Commands,
}

impl Flujo<'_> {
    async fn atribuir(&self, conversion: &Conversion, journey: &[Touchpoint], activa: bool) {
        self.commands
            .atribucion(
                ids::atribucion_id(&conversion.interaccion_id),
                AtribucionCommand::AtribuirConversion {
                    conversion: conversion.clone(),
                    journey: journey.to_vec(),
                    parametros: ParametrosAtribucion {
                        modelo: ModeloAtribucion::UltimoClick,
                        ventana_dias: 30,
                        umbral_fraude: 50,
                        campana_activa: activa,
                    },
                    evidencia: EvidenciaJourney::default(),
                },
            )
            .await
            .unwrap();
    }

    /// Reserves the commission of `partner`'s full credit; the amount reserved, if any.
    async fn reservar(&self, conversion: &Conversion, partner: u128) -> Option<Money> {
        let comision_id = ids::comision_id(&conversion.interaccion_id, &id(partner));
        let events = self
            .commands
            .campana_ok(
                conversion.campana_id,
                CampanaCommand::ReservarPresupuesto {
                    comision_id,
                    conversion_id: conversion.interaccion_id,
                    partner_id: id(partner),
                    tipo_conversion: conversion.tipo,
                    credito: conversion.valor,
                    participacion_bps: 10_000,
                },
            )
            .await
            .unwrap();
        let CampanaEvent::PresupuestoReservado { monto, .. } = events[0] else {
            return None;
        };
        self.commands
            .comision(
                comision_id,
                ComisionCommand::ReservarComision {
                    id: comision_id,
                    datos: DatosComision {
                        conversion_id: conversion.interaccion_id,
                        atribucion_id: ids::atribucion_id(&conversion.interaccion_id),
                        campana_id: conversion.campana_id,
                        partner_id: id(partner),
                        journey_id: conversion.journey_id,
                        monto,
                        fecha_conversion: conversion.occurred_at,
                        dias_retencion: 14,
                    },
                },
            )
            .await
            .unwrap();
        Some(monto)
    }
}

fn conversion_of(tp: &Touchpoint, campana: u128, journey: u128, valor: i64) -> Conversion {
    Conversion {
        interaccion_id: tp.interaccion_id,
        tipo: tp.tipo.conversion().unwrap(),
        campana_id: id(campana),
        journey_id: id(journey),
        occurred_at: tp.occurred_at,
        valor: eur(valor),
        pedido_id: (tp.tipo == TipoInteraccion::Compra)
            .then(|| format!("PED-{}", tp.interaccion_id.as_u128())),
    }
}

async fn seed(env: &Env) {
    let commands = Commands::new(&env.backend, "scenario");
    let journeys = Journeys {
        commands: commands.clone(),
    };
    let flujo = Flujo {
        commands: &commands,
    };
    for (campana_id, nombre, presupuesto) in [(C, "Verano", 10_000), (C2, "Invierno", 500)] {
        commands
            .campana_ok(
                id(campana_id),
                CampanaCommand::CrearCampana {
                    id: id(campana_id),
                    datos: campana(nombre, presupuesto),
                },
            )
            .await
            .unwrap();
        commands
            .campana_ok(id(campana_id), CampanaCommand::ActivarCampana)
            .await
            .unwrap();
    }

    // J1: two partners click, the last one gets the purchase; approved and paid.
    let mut j1 = vec![
        journeys
            .interaccion(11, C, J1, TipoInteraccion::Click, Some(P1), 0, None)
            .await,
        journeys
            .interaccion(12, C, J1, TipoInteraccion::Click, Some(P2), 60, None)
            .await,
    ];
    j1.push(
        journeys
            .interaccion(13, C, J1, TipoInteraccion::Compra, None, 120, Some(5_990))
            .await,
    );
    let conversion = conversion_of(&j1[2], C, J1, 5_990);
    flujo.atribuir(&conversion, &j1[..2], true).await;
    assert_eq!(flujo.reservar(&conversion, P2).await, Some(eur(599)));
    let comision = ids::comision_id(&conversion.interaccion_id, &id(P2));
    let after_hold = conversion.occurred_at + Duration::days(15);
    commands
        .comision(
            comision,
            ComisionCommand::AprobarComision {
                ahora: after_hold,
                lote_id: Some(id(LOTE_APROBACION)),
            },
        )
        .await
        .unwrap();
    commands
        .comision(
            comision,
            ComisionCommand::PagarComision {
                referencia_pago: "SEPA-1".to_string(),
                lote_id: Some(id(LOTE_PAGO)),
                ahora: after_hold,
            },
        )
        .await
        .unwrap();

    // J2: a purchase attributed to P1, then reported as fraud and compensated.
    let mut j2 = vec![
        journeys
            .interaccion(21, C, J2, TipoInteraccion::Vista, Some(P1), 0, None)
            .await,
        journeys
            .interaccion(22, C, J2, TipoInteraccion::Click, Some(P1), 10, None)
            .await,
    ];
    j2.push(
        journeys
            .interaccion(23, C, J2, TipoInteraccion::Compra, None, 30, Some(10_000))
            .await,
    );
    let conversion = conversion_of(&j2[2], C, J2, 10_000);
    flujo.atribuir(&conversion, &j2[..2], true).await;
    assert_eq!(flujo.reservar(&conversion, P1).await, Some(eur(1_000)));
    let atribucion = ids::atribucion_id(&conversion.interaccion_id);
    let comision = ids::comision_id(&conversion.interaccion_id, &id(P1));
    commands
        .atribucion(
            atribucion,
            AtribucionCommand::MarcarFraude {
                motivo: "tarjeta robada".to_string(),
                origen: OrigenFraude::Reportado {
                    reportado_por: "riesgo".to_string(),
                },
            },
        )
        .await
        .unwrap();
    commands
        .comision(
            comision,
            ComisionCommand::RevertirComision {
                motivo: "fraude".to_string(),
            },
        )
        .await
        .unwrap();
    commands
        .campana_ok(
            id(C),
            CampanaCommand::LiberarPresupuesto {
                comision_id: comision,
            },
        )
        .await
        .unwrap();
    commands
        .atribucion(
            atribucion,
            AtribucionCommand::RevertirAtribucion {
                motivo: MotivoReversion::Fraude,
            },
        )
        .await
        .unwrap();
    for interaccion in [21, 22, 23] {
        commands
            .interaccion(
                id(interaccion),
                InteraccionCommand::DescartarInteraccion {
                    motivo: "fraude".to_string(),
                },
            )
            .await
            .unwrap();
    }

    // J3: a view, nothing else.
    journeys
        .interaccion(31, C, J3, TipoInteraccion::Vista, Some(P1), 0, None)
        .await;

    // J4: an organic lead: nobody to credit.
    let lead = journeys
        .interaccion(41, C, J4, TipoInteraccion::Lead, None, 0, None)
        .await;
    flujo
        .atribuir(&conversion_of(&lead, C, J4, 0), &[], true)
        .await;

    // J5: the budget of C2 (5.00) cannot cover a 10.00 commission.
    let mut j5 = vec![
        journeys
            .interaccion(51, C2, J5, TipoInteraccion::Click, Some(P1), 0, None)
            .await,
    ];
    j5.push(
        journeys
            .interaccion(52, C2, J5, TipoInteraccion::Compra, None, 60, Some(10_000))
            .await,
    );
    let conversion = conversion_of(&j5[1], C2, J5, 10_000);
    flujo.atribuir(&conversion, &j5[..1], true).await;
    assert_eq!(flujo.reservar(&conversion, P1).await, None);
    commands
        .atribucion(
            ids::atribucion_id(&conversion.interaccion_id),
            AtribucionCommand::RevertirAtribucion {
                motivo: MotivoReversion::PresupuestoInsuficiente,
            },
        )
        .await
        .unwrap();
}

async fn every_view_after_realistic_journeys(env: Env) {
    seed(&env).await;
    env.project_everything().await;
    let views = &env.views;

    // Marketing: the campaign as its pages show it.
    let verano = views.campana(id(C)).await.unwrap().unwrap();
    assert_eq!(verano.nombre, "Verano");
    assert_eq!(verano.marca_nombre, "Moda Sol");
    assert_eq!(verano.estado, "Activa");
    assert_eq!(verano.presupuesto(), eur(10_000));
    assert_eq!(
        verano.reservado(),
        eur(599),
        "J2's reservation was released"
    );
    assert_eq!(verano.disponible(), eur(9_401));
    assert_eq!(verano.reglas_resumen, "Compra: 10% (mín. 1.00 EUR)");
    assert_eq!(verano.modelo_atribucion, "UltimoClick");
    assert!(verano.version >= 5);
    let page = views
        .campanas(&CampanaFilter::default(), 10, None)
        .await
        .unwrap();
    let names: Vec<&str> = page.rows.iter().map(|row| row.nombre.as_str()).collect();
    assert_eq!(names, ["Invierno", "Verano"], "newest first");
    let filtered = views
        .campanas(
            &CampanaFilter {
                nombre_contiene: Some("VERA".to_string()),
                ..CampanaFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(filtered.rows.len(), 1);

    let stats = views.estadisticas_campana(id(C)).await.unwrap().unwrap();
    assert_eq!(stats.moneda, Some(Currency::EUR));
    assert_eq!(
        (stats.vistas, stats.clicks, stats.compras, stats.leads),
        (1, 2, 1, 1)
    );
    assert_eq!(stats.descartadas, 3);
    assert_eq!(stats.conversiones(), 2);
    assert_eq!(stats.conversiones_atribuidas, 1);
    assert_eq!(stats.conversiones_no_atribuidas, 1);
    assert_eq!(stats.conversiones_revertidas, 1);
    assert_eq!(stats.fraudes_detectados, 1);
    assert_eq!(stats.ingresos_atribuidos, 5_990);
    assert_eq!((stats.comisiones_pagadas, stats.monto_pagado), (1, 599));
    assert_eq!(
        (stats.comisiones_revertidas, stats.monto_revertido),
        (1, 1_000)
    );
    assert_eq!(
        (stats.comisiones_reservadas, stats.comisiones_aprobadas),
        (0, 0)
    );
    assert_eq!(stats.costo(), 599);
    assert_eq!(
        (
            stats.presupuesto,
            stats.presupuesto_reservado,
            stats.presupuesto_disponible
        ),
        (10_000, 599, 9_401)
    );
    let ratios = stats.ratios();
    assert_eq!(ratios.ctr_bps, Some(20_000), "2 clicks per view");
    assert_eq!(ratios.cpc, Some(eur(300)), "5.99 / 2 = 2.995, half to even");
    assert_eq!(ratios.costo_por_conversion, Some(eur(599)));
    assert_eq!(ratios.tasa_conversion_bps, Some(10_000));
    let invierno = views.estadisticas_campana(id(C2)).await.unwrap().unwrap();
    assert_eq!(invierno.reservas_insuficientes, 1);
    assert_eq!(invierno.conversiones_revertidas, 1);
    let resumen = views.resumen_marketing().await.unwrap();
    assert_eq!(resumen.len(), 1);
    assert_eq!(resumen[0].campanas, 2);
    assert_eq!(resumen[0].clicks, 3);
    assert_eq!(resumen[0].presupuesto, 10_500);
    assert_eq!(resumen[0].campanas_por_estado.get("Activa"), Some(&2));

    // Tracking: every interaction, the discarded ones flagged.
    let all = views
        .interacciones(&InteraccionFilter::default(), 100, None)
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 10);
    assert!(!all.has_next_page);
    let discarded = views
        .interacciones(
            &InteraccionFilter {
                descartada: Some(true),
                ..InteraccionFilter::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    let mut ids_descartadas: Vec<Uuid> = discarded.rows.iter().map(|row| row.id).collect();
    ids_descartadas.sort();
    assert_eq!(ids_descartadas, [id(21), id(22), id(23)]);
    assert!(discarded
        .rows
        .iter()
        .all(|row| row.motivo_descarte.as_deref() == Some("fraude")));
    let by_partner = views
        .interacciones(
            &InteraccionFilter {
                partner_id: Some(id(P2)),
                ..InteraccionFilter::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(by_partner.rows.len(), 1);
    let compras_j1 = views
        .interacciones(
            &InteraccionFilter {
                journey_id: Some(id(J1)),
                tipo: Some(TipoInteraccion::Compra),
                desde: Some(t0()),
                hasta: Some(t0() + Duration::hours(3)),
                ..InteraccionFilter::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(compras_j1.rows.len(), 1);
    assert_eq!(compras_j1.rows[0].valor(), Some(eur(5_990)));
    let dia = t0().date_naive();
    let diarias = views.estadisticas_diarias(id(C), dia, dia).await.unwrap();
    let por_tipo: BTreeMap<&str, (i64, i64, i64)> = diarias
        .iter()
        .map(|row| {
            (
                row.tipo.as_str(),
                (row.registradas, row.descartadas, row.valor),
            )
        })
        .collect();
    assert_eq!(
        por_tipo,
        BTreeMap::from([
            ("Click", (3, 1, 0)),
            ("Compra", (2, 1, 5_990)),
            ("Lead", (1, 0, 0)),
            ("Vista", (2, 1, 0)),
        ])
    );

    // Atribucion.
    let j1_atribucion = views
        .atribucion(ids::atribucion_id(&id(13)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j1_atribucion.atribucion.estado, "Atribuida");
    assert_eq!(
        j1_atribucion.atribucion.modelo.as_deref(),
        Some("UltimoClick")
    );
    assert_eq!(j1_atribucion.creditos.len(), 1);
    assert_eq!(j1_atribucion.creditos[0].partner_id, id(P2));
    assert_eq!(j1_atribucion.creditos[0].monto(), eur(5_990));
    let j2_atribucion = views
        .atribucion(ids::atribucion_id(&id(23)))
        .await
        .unwrap()
        .unwrap()
        .atribucion;
    assert_eq!(j2_atribucion.estado, "Revertida");
    assert_eq!(j2_atribucion.motivo_reversion.as_deref(), Some("Fraude"));
    assert_eq!(j2_atribucion.fraude_origen.as_deref(), Some("Reportado"));
    assert_eq!(
        j2_atribucion.fraude_reportado_por.as_deref(),
        Some("riesgo")
    );
    let j4_atribucion = views
        .atribucion(ids::atribucion_id(&id(41)))
        .await
        .unwrap()
        .unwrap()
        .atribucion;
    assert_eq!(j4_atribucion.estado, "NoAtribuida");
    assert_eq!(
        j4_atribucion.motivo_no_atribucion.as_deref(),
        Some("SinTouchpointEnVentana")
    );
    let credited_to_p2 = views
        .atribuciones(
            &AtribucionFilter {
                partner_id: Some(id(P2)),
                ..AtribucionFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(credited_to_p2.rows.len(), 1);
    let revertidas = views
        .atribuciones(
            &AtribucionFilter {
                estado: Some("Revertida".to_string()),
                ..AtribucionFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(revertidas.rows.len(), 2, "fraud (J2) and budget (J5)");

    // Comisiones.
    let pagada = views
        .comision(ids::comision_id(&id(13), &id(P2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pagada.estado, "Pagada");
    assert_eq!(pagada.monto(), eur(599));
    assert_eq!(pagada.lote_aprobacion, Some(id(LOTE_APROBACION)));
    assert_eq!(pagada.lote_pago, Some(id(LOTE_PAGO)));
    assert_eq!(pagada.referencia_pago.as_deref(), Some("SEPA-1"));
    assert_eq!(
        pagada.disponible_desde,
        Some(t0() + Duration::minutes(120) + Duration::days(14))
    );
    let revertida = views
        .comision(ids::comision_id(&id(23), &id(P1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revertida.estado, "Revertida");
    assert!(!revertida.clawback);
    let en_lote = views
        .comisiones(
            &ComisionFilter {
                lote_id: Some(id(LOTE_PAGO)),
                ..ComisionFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(en_lote.rows, vec![pagada.clone()]);
    let de_p1 = views
        .comisiones(
            &ComisionFilter {
                partner_id: Some(id(P1)),
                ..ComisionFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(de_p1.rows, vec![revertida]);
    let saldo_p2 = views.saldos_partner(id(P2)).await.unwrap();
    assert_eq!(saldo_p2.len(), 1);
    assert_eq!(
        (
            saldo_p2[0].comisiones,
            saldo_p2[0].reservado,
            saldo_p2[0].aprobado,
            saldo_p2[0].pagado
        ),
        (1, 0, 0, 599)
    );
    let saldo_p1 = views.saldos_partner(id(P1)).await.unwrap();
    assert_eq!((saldo_p1[0].revertido, saldo_p1[0].pagado), (1_000, 0));
    let por_campana = views.estadisticas_comisiones(id(C)).await.unwrap();
    assert_eq!(
        (
            por_campana[0].pagadas,
            por_campana[0].monto_pagado,
            por_campana[0].revertidas
        ),
        (1, 599, 1)
    );
    let totales = views.totales_comisiones().await.unwrap();
    assert_eq!(totales.len(), 1);
    assert_eq!(
        (
            totales[0].pagadas,
            totales[0].revertidas,
            totales[0].campanas
        ),
        (1, 1, 1)
    );

    // Saga: each journey's log and state.
    let j1_log = views.journey(id(J1)).await.unwrap().unwrap();
    assert_eq!(j1_log.journey.estado(), Some(EstadoJourney::Completed));
    let eventos: Vec<&str> = j1_log
        .pasos
        .iter()
        .map(|paso| paso.evento.as_str())
        .collect();
    assert_eq!(
        eventos,
        [
            "InteraccionRegistrada",
            "ConversionAtribuida",
            "PresupuestoReservado",
            "ComisionReservada",
            "ComisionAprobada",
            "ComisionPagada"
        ]
    );
    assert_eq!(
        j1_log.pasos.iter().map(|paso| paso.n).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(j1_log.pasos[1].comando, "AtribuirConversion");
    assert_eq!(j1_log.pasos[1].actor.as_deref(), Some("scenario"));
    assert_eq!(j1_log.journey.interacciones, 3);
    let j2_log = views.journey(id(J2)).await.unwrap().unwrap();
    assert_eq!(j2_log.journey.estado(), Some(EstadoJourney::Reverted));
    let eventos: Vec<&str> = j2_log
        .pasos
        .iter()
        .map(|paso| paso.evento.as_str())
        .collect();
    assert_eq!(
        eventos,
        [
            "InteraccionRegistrada",
            "ConversionAtribuida",
            "PresupuestoReservado",
            "ComisionReservada",
            "FraudeDetectado",
            "ComisionRevertida",
            "PresupuestoLiberado",
            "AtribucionRevertida",
            "InteraccionDescartada",
            "InteraccionDescartada",
            "InteraccionDescartada"
        ]
    );
    assert_eq!(j2_log.journey.descartadas, 3);
    let j3 = views.journey(id(J3)).await.unwrap().unwrap();
    assert_eq!(j3.journey.estado(), Some(EstadoJourney::Started));
    assert!(j3.pasos.is_empty());
    let j4 = views.journey(id(J4)).await.unwrap().unwrap();
    assert_eq!(j4.journey.estado(), Some(EstadoJourney::NotAttributed));
    let j5 = views.journey(id(J5)).await.unwrap().unwrap();
    assert_eq!(j5.journey.estado(), Some(EstadoJourney::Reverted));
    assert!(j5
        .pasos
        .iter()
        .any(|paso| paso.evento == "PresupuestoInsuficiente"));

    // Status: everything applied.
    let statuses = views.projection_status(&env.backend).await.unwrap();
    assert_eq!(statuses.len(), 5);
    for status in statuses {
        assert_eq!(status.state, ProjectionState::CaughtUp, "{status:?}");
        assert_eq!(status.lag_events, 0);
        assert_eq!(Some(status.position), status.head);
    }
}

on_both_backends!(every_view_after_realistic_journeys);
