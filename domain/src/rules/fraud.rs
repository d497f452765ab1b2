//! Fraud rules over a conversion's journey.
//!
//! Each rule is a pure function that either stays silent or returns the
//! [`ReglaDisparada`] it scored, with the numbers that made it fire. [`evaluar`] runs them
//! all; the conversion is fraud when the total (capped at 100) reaches the campaign's
//! threshold. Thresholds and scores come from [`ConfiguracionFraude`].
//!
//! Only interactions up to the conversion's instant are considered, each once, so a late
//! or redelivered interaction cannot change the verdict.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::atribucion::{Conversion, EvidenciaJourney, HallazgoFraude, Touchpoint};
use crate::rules::journey::interacciones_unicas;
use crate::tipos::TipoInteraccion;

/// One fraud rule that fired: its name, its score (0..=100) and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReglaDisparada {
    /// The rule's stable name, e.g. [`REGLA_USER_AGENT_DE_BOT`].
    pub regla: String,
    /// Its score, 0..=100.
    pub puntuacion: u32,
    /// Why it fired, with the numbers.
    pub evidencia: String,
}

/// Stable name of [`conversion_demasiado_rapida`].
pub const REGLA_CONVERSION_DEMASIADO_RAPIDA: &str = "ConversionDemasiadoRapida";
/// Stable name of [`rafaga_de_clicks_por_ip`].
pub const REGLA_RAFAGA_DE_CLICKS_POR_IP: &str = "RafagaDeClicksPorIp";
/// Stable name of [`user_agent_de_bot`].
pub const REGLA_USER_AGENT_DE_BOT: &str = "UserAgentDeBot";
/// Stable name of [`pedido_ya_convertido`].
pub const REGLA_PEDIDO_YA_CONVERTIDO: &str = "PedidoYaConvertido";

/// The highest score a rule, or all of them together, can give.
pub const PUNTUACION_MAXIMA: u32 = 100;
/// The threshold of a campaign that does not set its own.
pub const UMBRAL_FRAUDE_POR_DEFECTO: u32 = 50;
/// The sliding window in which clicks from one IP are counted.
pub const VENTANA_RAFAGA: Duration = Duration::seconds(60);

/// Thresholds and scores of the fraud rules (the Atribucion aggregate's services).
/// Missing fields take their default when deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfiguracionFraude {
    /// A conversion sooner than this after the journey's first click is suspicious.
    pub segundos_minimos_desde_primer_click: u32,
    /// Score of [`conversion_demasiado_rapida`].
    pub puntuacion_conversion_demasiado_rapida: u32,
    /// More clicks than this from one hashed IP inside any 60 seconds is suspicious.
    pub max_clicks_por_ip_en_60_segundos: u32,
    /// Score of [`rafaga_de_clicks_por_ip`].
    pub puntuacion_rafaga_de_clicks_por_ip: u32,
    /// Substrings of known bot user agents, matched case-insensitively.
    pub user_agents_de_bot: Vec<String>,
    /// Score of [`user_agent_de_bot`].
    pub puntuacion_user_agent_de_bot: u32,
    /// Score of an order id that another conversion already converted.
    pub puntuacion_pedido_ya_convertido: u32,
}

impl Default for ConfiguracionFraude {
    fn default() -> Self {
        ConfiguracionFraude {
            segundos_minimos_desde_primer_click: 10,
            puntuacion_conversion_demasiado_rapida: 40,
            max_clicks_por_ip_en_60_segundos: 10,
            puntuacion_rafaga_de_clicks_por_ip: 40,
            user_agents_de_bot: [
                "bot",
                "crawler",
                "spider",
                "headless",
                "phantomjs",
                "selenium",
                "puppeteer",
                "curl/",
                "wget/",
                "python-requests",
                "scrapy",
            ]
            .map(String::from)
            .to_vec(),
            puntuacion_user_agent_de_bot: 60,
            puntuacion_pedido_ya_convertido: 100,
        }
    }
}

/// Runs every rule and totals the scores (capped at [`PUNTUACION_MAXIMA`]) against the
/// campaign's `umbral`; see [`HallazgoFraude::es_fraude`].
pub fn evaluar(
    conversion: &Conversion,
    journey: &[Touchpoint],
    evidencia: &EvidenciaJourney,
    config: &ConfiguracionFraude,
    umbral: u32,
) -> HallazgoFraude {
    let interacciones = hasta_la_conversion(conversion, journey);
    let reglas: Vec<ReglaDisparada> = [
        conversion_demasiado_rapida(conversion, &interacciones, config),
        rafaga_de_clicks_por_ip(&interacciones, config),
        user_agent_de_bot(&interacciones, config),
        pedido_ya_convertido(conversion, evidencia, config),
    ]
    .into_iter()
    .flatten()
    .collect();
    let puntuacion_total = reglas
        .iter()
        .fold(0u32, |total, regla| total.saturating_add(regla.puntuacion))
        .min(PUNTUACION_MAXIMA);
    HallazgoFraude {
        reglas,
        puntuacion_total,
        umbral,
    }
}

/// The journey's interactions up to the conversion's instant, each once, oldest first (see
/// [`interacciones_unicas`] for which copy of a redelivered interaction counts).
pub fn hasta_la_conversion<'a>(
    conversion: &Conversion,
    journey: &'a [Touchpoint],
) -> Vec<&'a Touchpoint> {
    let mut interacciones = interacciones_unicas(journey);
    interacciones.retain(|tp| tp.occurred_at <= conversion.occurred_at);
    interacciones
}

/// Fires when the conversion came less than `segundos_minimos_desde_primer_click` after the
/// first click of the journey: people read before they buy, scripts do not.
pub fn conversion_demasiado_rapida(
    conversion: &Conversion,
    interacciones: &[&Touchpoint],
    config: &ConfiguracionFraude,
) -> Option<ReglaDisparada> {
    let primer_click = interacciones
        .iter()
        .filter(|tp| tp.tipo == TipoInteraccion::Click && tp.occurred_at <= conversion.occurred_at)
        .min_by_key(|tp| (tp.occurred_at, tp.interaccion_id))?;
    let transcurrido = conversion.occurred_at - primer_click.occurred_at;
    let minimo = Duration::seconds(i64::from(config.segundos_minimos_desde_primer_click));
    (transcurrido < minimo).then(|| {
        disparada(
            REGLA_CONVERSION_DEMASIADO_RAPIDA,
            config.puntuacion_conversion_demasiado_rapida,
            format!(
                "conversión {} ms después del primer click ({}); mínimo {} s",
                transcurrido.num_milliseconds(),
                primer_click.interaccion_id,
                config.segundos_minimos_desde_primer_click
            ),
        )
    })
}

/// Fires when one hashed IP made more than `max_clicks_por_ip_en_60_segundos` clicks inside
/// any 60-second window `[t, t + 60 s)`. Reports the IP with the most clicks.
pub fn rafaga_de_clicks_por_ip(
    interacciones: &[&Touchpoint],
    config: &ConfiguracionFraude,
) -> Option<ReglaDisparada> {
    let mut clicks_por_ip: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for tp in interacciones
        .iter()
        .filter(|tp| tp.tipo == TipoInteraccion::Click)
    {
        if let Some(ip_hash) = tp.ip_hash.as_deref() {
            clicks_por_ip
                .entry(ip_hash)
                .or_default()
                .push(tp.occurred_at);
        }
    }
    // BTreeMap order and the strict comparison make the reported IP deterministic.
    let mut peor: Option<(&str, usize, DateTime<Utc>)> = None;
    for (ip_hash, mut momentos) in clicks_por_ip {
        momentos.sort();
        let (clicks, desde) = max_en_ventana(&momentos, VENTANA_RAFAGA);
        if peor.is_none_or(|(_, max, _)| clicks > max) {
            peor = Some((ip_hash, clicks, desde));
        }
    }
    let (ip_hash, clicks, desde) = peor?;
    let limite = usize::try_from(config.max_clicks_por_ip_en_60_segundos).unwrap_or(usize::MAX);
    (clicks > limite).then(|| {
        disparada(
            REGLA_RAFAGA_DE_CLICKS_POR_IP,
            config.puntuacion_rafaga_de_clicks_por_ip,
            format!(
                "{clicks} clicks de la IP {ip_hash} en 60 s desde {}; máximo {limite}",
                desde.to_rfc3339()
            ),
        )
    })
}

/// The most instants (sorted) inside one window `[t, t + ventana)`, and where it starts.
fn max_en_ventana(momentos: &[DateTime<Utc>], ventana: Duration) -> (usize, DateTime<Utc>) {
    let mut mejor = (0, DateTime::<Utc>::MIN_UTC);
    let mut inicio = 0;
    for (fin, momento) in momentos.iter().enumerate() {
        while *momento - momentos[inicio] >= ventana {
            inicio += 1;
        }
        let cuantos = fin - inicio + 1;
        if cuantos > mejor.0 {
            mejor = (cuantos, momentos[inicio]);
        }
    }
    mejor
}

/// Fires when an interaction of the journey came from a user agent that contains one of
/// `user_agents_de_bot` (ignoring case).
pub fn user_agent_de_bot(
    interacciones: &[&Touchpoint],
    config: &ConfiguracionFraude,
) -> Option<ReglaDisparada> {
    let firmas: Vec<String> = config
        .user_agents_de_bot
        .iter()
        .map(|firma| firma.trim().to_lowercase())
        // An empty signature would match every user agent.
        .filter(|firma| !firma.is_empty())
        .collect();
    let coincidencias: Vec<String> = interacciones
        .iter()
        .filter_map(|tp| {
            let user_agent = tp.user_agent.as_deref()?;
            let minusculas = user_agent.to_lowercase();
            let firma = firmas
                .iter()
                .find(|firma| minusculas.contains(firma.as_str()))?;
            Some(format!(
                "{} '{user_agent}' contiene '{firma}'",
                tp.interaccion_id
            ))
        })
        .collect();
    let primera = coincidencias.first()?;
    Some(disparada(
        REGLA_USER_AGENT_DE_BOT,
        config.puntuacion_user_agent_de_bot,
        format!(
            "{} interacciones con user agent de bot; la primera: {primera}",
            coincidencias.len()
        ),
    ))
}

/// Fires when the saga found another conversion of the same order id
/// (`EvidenciaJourney::pedido_ya_convertido_por`): an order pays commission once.
pub fn pedido_ya_convertido(
    conversion: &Conversion,
    evidencia: &EvidenciaJourney,
    config: &ConfiguracionFraude,
) -> Option<ReglaDisparada> {
    let anterior = evidencia
        .pedido_ya_convertido_por
        .filter(|anterior| *anterior != conversion.interaccion_id)?;
    let pedido = conversion.pedido_id.as_deref().unwrap_or("(sin id)");
    Some(disparada(
        REGLA_PEDIDO_YA_CONVERTIDO,
        config.puntuacion_pedido_ya_convertido,
        format!("el pedido {pedido} ya fue convertido por la interacción {anterior}"),
    ))
}

fn disparada(regla: &str, puntuacion: u32, evidencia: String) -> ReglaDisparada {
    ReglaDisparada {
        regla: regla.to_string(),
        puntuacion: puntuacion.min(PUNTUACION_MAXIMA),
        evidencia,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::tipos::TipoConversion;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn momento_conversion() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 30, 12, 0, 0).unwrap()
    }

    fn conversion() -> Conversion {
        Conversion {
            interaccion_id: Uuid::from_u128(0xC0),
            tipo: TipoConversion::Compra,
            campana_id: Uuid::from_u128(0xCA),
            journey_id: Uuid::from_u128(0x10),
            occurred_at: momento_conversion(),
            valor: Money::new(10_000, Currency::EUR),
            pedido_id: Some("P-1".into()),
        }
    }

    /// A click `segundos` seconds before the conversion.
    fn click(id: u128, segundos: i64) -> Touchpoint {
        Touchpoint {
            interaccion_id: Uuid::from_u128(id),
            tipo: TipoInteraccion::Click,
            partner_id: Some(Uuid::from_u128(0xA1)),
            occurred_at: momento_conversion() - Duration::seconds(segundos),
            ip_hash: Some("ip-1".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0".into()),
        }
    }

    fn refs(journey: &[Touchpoint]) -> Vec<&Touchpoint> {
        journey.iter().collect()
    }

    #[test]
    fn conversion_demasiado_rapida_fires_below_the_minimum() {
        let journey = [click(1, 9), click(2, 3)];
        let regla = conversion_demasiado_rapida(
            &conversion(),
            &refs(&journey),
            &ConfiguracionFraude::default(),
        )
        .unwrap();
        assert_eq!(regla.regla, REGLA_CONVERSION_DEMASIADO_RAPIDA);
        assert_eq!(regla.puntuacion, 40);
        assert!(regla.evidencia.contains("9000 ms"), "{}", regla.evidencia);
    }

    #[test]
    fn conversion_demasiado_rapida_is_silent_at_the_minimum() {
        // The first click (10 s before) decides, not the later one.
        let journey = [click(2, 1), click(1, 10)];
        let config = ConfiguracionFraude::default();
        assert_eq!(
            conversion_demasiado_rapida(&conversion(), &refs(&journey), &config),
            None
        );
    }

    #[test]
    fn conversion_demasiado_rapida_is_silent_without_clicks() {
        let mut vista = click(1, 1);
        vista.tipo = TipoInteraccion::Vista;
        let config = ConfiguracionFraude::default();
        assert_eq!(
            conversion_demasiado_rapida(&conversion(), &refs(&[vista]), &config),
            None
        );
    }

    /// `n` clicks from `ip`, one every `paso` seconds, the first `desde` seconds before.
    fn rafaga(ip: &str, n: u128, desde: i64, paso: i64) -> Vec<Touchpoint> {
        (0..n)
            .map(|i| {
                let mut tp = click(
                    100 + i + u128::from(ip.as_bytes()[3]) * 1_000,
                    desde - paso * i as i64,
                );
                tp.ip_hash = Some(ip.to_string());
                tp
            })
            .collect()
    }

    #[test]
    fn rafaga_de_clicks_por_ip_fires_above_the_maximum_in_60_seconds() {
        // 11 clicks in 50 s from one IP.
        let journey = rafaga("ip-7", 11, 600, 5);
        let regla =
            rafaga_de_clicks_por_ip(&refs(&journey), &ConfiguracionFraude::default()).unwrap();
        assert_eq!(regla.regla, REGLA_RAFAGA_DE_CLICKS_POR_IP);
        assert_eq!(regla.puntuacion, 40);
        assert!(
            regla.evidencia.starts_with("11 clicks de la IP ip-7"),
            "{}",
            regla.evidencia
        );
    }

    #[test]
    fn rafaga_de_clicks_por_ip_is_silent_at_the_maximum() {
        // 10 clicks in 60 s, and 11 clicks spread over exactly 60 s ([t, t + 60 s) holds 10).
        let config = ConfiguracionFraude::default();
        assert_eq!(
            rafaga_de_clicks_por_ip(&refs(&rafaga("ip-7", 10, 600, 6)), &config),
            None
        );
        assert_eq!(
            rafaga_de_clicks_por_ip(&refs(&rafaga("ip-7", 11, 600, 6)), &config),
            None
        );
    }

    #[test]
    fn rafaga_de_clicks_por_ip_counts_each_ip_apart() {
        let mut journey = rafaga("ip-1", 6, 600, 1);
        journey.extend(rafaga("ip-2", 6, 600, 1));
        let config = ConfiguracionFraude::default();
        assert_eq!(rafaga_de_clicks_por_ip(&refs(&journey), &config), None);
    }

    fn con_user_agent(user_agent: &str) -> Touchpoint {
        let mut tp = click(1, 3_600);
        tp.user_agent = Some(user_agent.to_string());
        tp
    }

    #[test]
    fn user_agent_de_bot_fires_on_a_known_bot_ignoring_case() {
        let journey = [
            con_user_agent("Mozilla/5.0 Firefox/126.0"),
            con_user_agent("Mozilla/5.0 (compatible; GoogleBOT/2.1)"),
        ];
        let regla = user_agent_de_bot(&refs(&journey), &ConfiguracionFraude::default()).unwrap();
        assert_eq!(regla.regla, REGLA_USER_AGENT_DE_BOT);
        assert_eq!(regla.puntuacion, 60);
        assert!(
            regla.evidencia.contains("contiene 'bot'"),
            "{}",
            regla.evidencia
        );
    }

    #[test]
    fn user_agent_de_bot_is_silent_for_browsers_and_uses_the_configured_list() {
        let journey = [con_user_agent("Mozilla/5.0 HeadlessChrome/126.0")];
        assert!(user_agent_de_bot(&refs(&journey), &ConfiguracionFraude::default()).is_some());
        let config = ConfiguracionFraude {
            user_agents_de_bot: vec!["crawler".into(), "".into()],
            ..ConfiguracionFraude::default()
        };
        assert_eq!(user_agent_de_bot(&refs(&journey), &config), None);
    }

    #[test]
    fn pedido_ya_convertido_fires_when_another_conversion_has_the_order() {
        let evidencia = EvidenciaJourney {
            pedido_ya_convertido_por: Some(Uuid::from_u128(0xC1)),
        };
        let regla =
            pedido_ya_convertido(&conversion(), &evidencia, &ConfiguracionFraude::default())
                .unwrap();
        assert_eq!(regla.regla, REGLA_PEDIDO_YA_CONVERTIDO);
        assert_eq!(regla.puntuacion, 100);
        assert!(regla.evidencia.contains("P-1"), "{}", regla.evidencia);
    }

    #[test]
    fn pedido_ya_convertido_is_silent_for_a_first_or_the_same_conversion() {
        let config = ConfiguracionFraude::default();
        let ninguna = EvidenciaJourney::default();
        assert_eq!(pedido_ya_convertido(&conversion(), &ninguna, &config), None);
        let la_misma = EvidenciaJourney {
            pedido_ya_convertido_por: Some(conversion().interaccion_id),
        };
        assert_eq!(
            pedido_ya_convertido(&conversion(), &la_misma, &config),
            None
        );
    }

    #[test]
    fn evaluar_caps_the_total_at_100_and_lists_every_rule() {
        let mut journey = rafaga("ip-7", 11, 5, 0);
        let mut vista_de_bot = con_user_agent("curl/8.0");
        vista_de_bot.tipo = TipoInteraccion::Vista;
        journey.push(vista_de_bot);
        let evidencia = EvidenciaJourney {
            pedido_ya_convertido_por: Some(Uuid::from_u128(0xC1)),
        };
        let hallazgo = evaluar(
            &conversion(),
            &journey,
            &evidencia,
            &ConfiguracionFraude::default(),
            50,
        );
        let nombres: Vec<&str> = hallazgo.reglas.iter().map(|r| r.regla.as_str()).collect();
        assert_eq!(
            nombres,
            [
                REGLA_CONVERSION_DEMASIADO_RAPIDA,
                REGLA_RAFAGA_DE_CLICKS_POR_IP,
                REGLA_USER_AGENT_DE_BOT,
                REGLA_PEDIDO_YA_CONVERTIDO
            ]
        );
        assert_eq!(hallazgo.puntuacion_total, 100);
        assert!(hallazgo.es_fraude());
    }

    #[test]
    fn evaluar_is_fraud_from_the_threshold_on() {
        // Only the fast conversion fires: 40 points.
        let journey = [click(1, 2)];
        let config = ConfiguracionFraude::default();
        let evidencia = EvidenciaJourney::default();
        let en_el_umbral = evaluar(&conversion(), &journey, &evidencia, &config, 40);
        assert_eq!(en_el_umbral.puntuacion_total, 40);
        assert!(en_el_umbral.es_fraude());
        let bajo_el_umbral = evaluar(&conversion(), &journey, &evidencia, &config, 41);
        assert!(!bajo_el_umbral.es_fraude());
    }

    #[test]
    fn evaluar_ignores_interactions_after_the_conversion_and_repeats() {
        // A click after the conversion is not "the first click"; a burst made of one
        // redelivered click is one click.
        let despues = click(1, -1);
        let repetidos: Vec<Touchpoint> = (0..20).map(|_| click(2, 3_600)).collect();
        let journey: Vec<Touchpoint> = std::iter::once(despues).chain(repetidos).collect();
        let hallazgo = evaluar(
            &conversion(),
            &journey,
            &EvidenciaJourney::default(),
            &ConfiguracionFraude::default(),
            UMBRAL_FRAUDE_POR_DEFECTO,
        );
        assert_eq!(hallazgo.reglas, vec![]);
        assert_eq!(hallazgo.puntuacion_total, 0);
        assert!(!hallazgo.es_fraude());
    }

    #[test]
    fn a_redelivered_duplicate_with_another_ip_gives_the_same_verdict_in_any_order() {
        // Two copies of click 1: from ip-1 (part of a burst) and from ip-2.
        let mut rafaga = rafaga("ip-1", 3, 600, 1);
        let mut otra_ip = rafaga[0].clone();
        otra_ip.ip_hash = Some("ip-2".into());
        let config = ConfiguracionFraude {
            max_clicks_por_ip_en_60_segundos: 2,
            ..ConfiguracionFraude::default()
        };
        let evalua = |journey: &[Touchpoint]| {
            evaluar(
                &conversion(),
                journey,
                &EvidenciaJourney::default(),
                &config,
                UMBRAL_FRAUDE_POR_DEFECTO,
            )
        };
        let primero_ip_1 = [rafaga.clone(), vec![otra_ip.clone()]].concat();
        rafaga.insert(0, otra_ip);
        assert_eq!(evalua(&primero_ip_1), evalua(&rafaga));
    }

    /// A journey of up to 12 interactions around the conversion, a few redelivered with
    /// another IP or user agent.
    fn journey_con_reenvios() -> impl Strategy<Value = Vec<Touchpoint>> {
        let user_agent = proptest::option::of(proptest::sample::select(vec![
            "Mozilla/5.0 Firefox/126.0".to_string(),
            "curl/8.0".to_string(),
        ]));
        let ip = proptest::option::of(proptest::sample::select(vec![
            "ip-1".to_string(),
            "ip-2".to_string(),
        ]));
        let tipo = proptest::sample::select(vec![
            TipoInteraccion::Click,
            TipoInteraccion::Click,
            TipoInteraccion::Vista,
            TipoInteraccion::Engagement,
        ]);
        let interaccion = (tipo, -5i64..120, ip.clone(), user_agent.clone());
        let reenvio = (any::<prop::sample::Index>(), ip, user_agent);
        (
            proptest::collection::vec(interaccion, 0..12),
            proptest::collection::vec(reenvio, 0..4),
        )
            .prop_map(|(interacciones, reenvios)| {
                let mut journey: Vec<Touchpoint> = interacciones
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tipo, segundos, ip_hash, user_agent))| Touchpoint {
                        tipo,
                        ip_hash,
                        user_agent,
                        ..click(i as u128, segundos)
                    })
                    .collect();
                if !journey.is_empty() {
                    for (cual, ip_hash, user_agent) in reenvios {
                        let original = &journey[cual.index(journey.len())];
                        journey.push(Touchpoint {
                            ip_hash,
                            user_agent,
                            ..original.clone()
                        });
                    }
                }
                journey
            })
    }

    fn configuracion() -> impl Strategy<Value = ConfiguracionFraude> {
        (
            0u32..30,
            0u32..200,
            1u32..5,
            0u32..200,
            0u32..200,
            0u32..200,
        )
            .prop_map(|(segundos, rapida, max_clicks, rafaga, bot, pedido)| {
                ConfiguracionFraude {
                    segundos_minimos_desde_primer_click: segundos,
                    puntuacion_conversion_demasiado_rapida: rapida,
                    max_clicks_por_ip_en_60_segundos: max_clicks,
                    puntuacion_rafaga_de_clicks_por_ip: rafaga,
                    puntuacion_user_agent_de_bot: bot,
                    puntuacion_pedido_ya_convertido: pedido,
                    ..ConfiguracionFraude::default()
                }
            })
    }

    fn evidencia() -> impl Strategy<Value = EvidenciaJourney> {
        proptest::option::of(0u128..3).prop_map(|anterior| EvidenciaJourney {
            pedido_ya_convertido_por: anterior.map(Uuid::from_u128),
        })
    }

    proptest! {
        #[test]
        fn the_verdict_does_not_depend_on_the_journey_order(
            journey in journey_con_reenvios(),
            config in configuracion(),
            evidencia in evidencia(),
            umbral in 1u32..=100,
            semilla in any::<u64>(),
        ) {
            let mut barajado = journey.clone();
            // A deterministic shuffle driven by the generated seed.
            let mut estado = semilla;
            for i in (1..barajado.len()).rev() {
                estado = estado.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                barajado.swap(i, (estado >> 33) as usize % (i + 1));
            }
            let uno = evaluar(&conversion(), &journey, &evidencia, &config, umbral);
            let otro = evaluar(&conversion(), &barajado, &evidencia, &config, umbral);
            prop_assert_eq!(uno, otro);
        }

        #[test]
        fn the_total_score_is_at_most_100_and_never_drops_as_clicks_are_added(
            journey in journey_con_reenvios(),
            config in configuracion(),
            evidencia in evidencia(),
            nuevos in proptest::collection::vec(
                (0i64..200, proptest::option::of(Just("ip-1".to_string())), proptest::bool::ANY),
                1..6,
            ),
        ) {
            let antes = evaluar(&conversion(), &journey, &evidencia, &config, 50);
            prop_assert!(antes.puntuacion_total <= PUNTUACION_MAXIMA);
            // New clicks (fresh ids) no earlier than the journey's first click: an earlier
            // first click would rightly clear ConversionDemasiadoRapida.
            let primer_click = hasta_la_conversion(&conversion(), &journey)
                .iter()
                .filter(|tp| tp.tipo == TipoInteraccion::Click)
                .map(|tp| tp.occurred_at)
                .min();
            let mut ampliado = journey.clone();
            for (i, (segundos_despues, ip_hash, de_bot)) in nuevos.into_iter().enumerate() {
                let desde = primer_click.unwrap_or(momento_conversion() - Duration::seconds(120));
                let mut nuevo = click(10_000 + i as u128, 0);
                nuevo.occurred_at = desde + Duration::seconds(segundos_despues);
                nuevo.ip_hash = ip_hash;
                if de_bot {
                    nuevo.user_agent = Some("python-requests/2.31".into());
                }
                ampliado.push(nuevo);
            }
            let despues = evaluar(&conversion(), &ampliado, &evidencia, &config, 50);
            prop_assert!(despues.puntuacion_total <= PUNTUACION_MAXIMA);
            prop_assert!(
                despues.puntuacion_total >= antes.puntuacion_total,
                "{} then {}", antes.puntuacion_total, despues.puntuacion_total
            );
        }
    }

    #[test]
    fn configuration_fills_missing_fields_with_defaults() {
        let config: ConfiguracionFraude =
            serde_json::from_str(r#"{"max_clicks_por_ip_en_60_segundos": 3}"#).unwrap();
        assert_eq!(config.max_clicks_por_ip_en_60_segundos, 3);
        assert_eq!(config.puntuacion_pedido_ya_convertido, 100);
        let ida_y_vuelta: ConfiguracionFraude =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(ida_y_vuelta, config);
    }
}
