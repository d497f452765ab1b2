//! Attribution models: how the value of a conversion is split between the partners whose
//! touchpoints led to it.
//!
//! Only partner touchpoints count: interactions of the journey that carry a partner and are
//! not conversions themselves, with `occurred_at` inside
//! `[conversion − ventana_dias, conversion]`. They are read through
//! [`interacciones_unicas`] (each interaction once, ordered by `(occurred_at,
//! interaccion_id)`), so the result never depends on the order in which the journey was
//! delivered.
//!
//! Every model gives each touchpoint an integer weight; a partner's weight is the sum of its
//! touchpoints' weights, and the conversion value is apportioned between partners in
//! proportion to their weights with the largest-remainder method, so that the credits in
//! minor units always add up exactly to the conversion value. No float is involved.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::atribucion::{Conversion, CreditoPartner, Touchpoint};
use crate::money::{Money, MoneyError};
use crate::rules::journey::interacciones_unicas;
use crate::tipos::ModeloAtribucion;

/// Time in which a touchpoint's weight halves under [`ModeloAtribucion::DecaimientoTemporal`].
pub const VIDA_MEDIA_DECAIMIENTO: Duration = Duration::days(7);

/// Splits the conversion's value between the partners of its journey according to `modelo`.
///
/// Returns one [`CreditoPartner`] per partner with a positive weight, ordered by that
/// partner's latest contributing touchpoint (oldest first); `touchpoint_id` is that latest
/// touchpoint. The amounts sum exactly to `conversion.valor` (a negative value is split like
/// its absolute value and keeps its sign). A share too small to reach one minor unit can be
/// zero. An empty result means no partner touchpoint fell inside the window.
///
/// Errors only when the arithmetic would overflow (a journey of billions of touchpoints).
pub fn atribuir(
    conversion: &Conversion,
    journey: &[Touchpoint],
    modelo: ModeloAtribucion,
    ventana_dias: u32,
) -> Result<Vec<CreditoPartner>, MoneyError> {
    let touchpoints = touchpoints_en_ventana(conversion, journey, ventana_dias);
    let pesos = pesos(modelo, &touchpoints);
    let partners = agrupar_por_partner(&touchpoints, &pesos)?;
    let pesos_partner: Vec<u128> = partners.iter().map(|partner| partner.peso).collect();
    let montos = repartir(conversion.valor.amount, &pesos_partner)?;
    Ok(partners
        .iter()
        .zip(montos)
        .map(|(partner, amount)| CreditoPartner {
            partner_id: partner.partner_id,
            touchpoint_id: partner.touchpoint_id,
            monto: Money::new(amount, conversion.valor.currency),
        })
        .collect())
}

/// Each credited partner's share of the conversion in basis points (same order as
/// `creditos`), for [`crate::campana::CampanaCommand::ReservarPresupuesto`]'s
/// `participacion_bps`: in proportion to the credits, or equal when they are all zero (a
/// conversion worth nothing). Every share is at least 1 basis point, so that a partner
/// credited with next to nothing still takes part, and they add up to exactly 10,000: each
/// partner gets 1, and the remaining basis points are apportioned by largest remainder.
///
/// Errors when more than 10,000 partners share the conversion.
pub fn participaciones_bps(creditos: &[CreditoPartner]) -> Result<Vec<u32>, MoneyError> {
    let minimos = i64::try_from(creditos.len()).map_err(|_| MoneyError::Overflow)?;
    let por_repartir = PARTICIPACION_TOTAL_BPS - minimos;
    if por_repartir < 0 {
        return Err(MoneyError::Overflow);
    }
    let mut pesos: Vec<u128> = creditos
        .iter()
        .map(|credito| u128::from(credito.monto.amount.unsigned_abs()))
        .collect();
    if pesos.iter().all(|&peso| peso == 0) {
        pesos.fill(1);
    }
    repartir(por_repartir, &pesos)?
        .into_iter()
        .map(|parte| u32::try_from(parte + 1).map_err(|_| MoneyError::Overflow))
        .collect()
}

/// A whole conversion, in basis points.
const PARTICIPACION_TOTAL_BPS: i64 = 10_000;

/// The partner touchpoints of the journey that may earn credit for the conversion, in
/// attribution order `(occurred_at, interaccion_id)`, each interaction once (see
/// [`interacciones_unicas`] for which copy of a redelivered interaction counts).
pub fn touchpoints_en_ventana<'a>(
    conversion: &Conversion,
    journey: &'a [Touchpoint],
    ventana_dias: u32,
) -> Vec<&'a Touchpoint> {
    let desde = inicio_de_ventana(conversion.occurred_at, ventana_dias);
    let mut touchpoints = interacciones_unicas(journey);
    touchpoints.retain(|tp| {
        tp.partner_id.is_some()
            && !tp.tipo.is_conversion()
            && tp.interaccion_id != conversion.interaccion_id
            && tp.occurred_at >= desde
            && tp.occurred_at <= conversion.occurred_at
    });
    touchpoints
}

fn inicio_de_ventana(conversion_at: DateTime<Utc>, ventana_dias: u32) -> DateTime<Utc> {
    conversion_at
        .checked_sub_signed(Duration::days(i64::from(ventana_dias)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Integer weight of each touchpoint (same order) under the model.
fn pesos(modelo: ModeloAtribucion, touchpoints: &[&Touchpoint]) -> Vec<u128> {
    let n = touchpoints.len();
    match modelo {
        ModeloAtribucion::UltimoClick => (0..n).map(|i| u128::from(i + 1 == n)).collect(),
        ModeloAtribucion::PrimerClick => (0..n).map(|i| u128::from(i == 0)).collect(),
        ModeloAtribucion::Lineal => vec![1; n],
        ModeloAtribucion::BasadoEnPosicion => pesos_basados_en_posicion(n),
        ModeloAtribucion::DecaimientoTemporal => pesos_decaimiento_temporal(touchpoints),
    }
}

/// 40% first, 40% last, 20% shared by the middle: with `m = n − 2` middle touchpoints the
/// weights `2m, 1, …, 1, 2m` total `5m`. Two touchpoints split 50/50; one gets everything.
fn pesos_basados_en_posicion(n: usize) -> Vec<u128> {
    if n <= 2 {
        return vec![1; n];
    }
    let extremo = 2 * (n as u128 - 2);
    (0..n)
        .map(|i| if i == 0 || i + 1 == n { extremo } else { 1 })
        .collect()
}

/// `2^(−age / 7 days)` in Q32 fixed point. Only ratios matter, so ages are measured from the
/// newest touchpoint (which gets weight 2^32) rather than from the conversion; touchpoints
/// 32 half-lives older than the newest weigh zero.
fn pesos_decaimiento_temporal(touchpoints: &[&Touchpoint]) -> Vec<u128> {
    let Some(mas_reciente) = touchpoints.iter().map(|tp| tp.occurred_at).max() else {
        return Vec::new();
    };
    touchpoints
        .iter()
        .map(|tp| {
            let edad_ms = (mas_reciente - tp.occurred_at).num_milliseconds();
            peso_por_edad(u64::try_from(edad_ms).unwrap_or(u64::MAX))
        })
        .collect()
}

const VIDA_MEDIA_MS: u64 = 7 * 24 * 60 * 60 * 1000;
const UNO_Q62: u128 = 1 << 62;

/// `2^(−1/2^j)` in Q62 for j = 1..=32: multiplying by the ones selected by the binary digits
/// of a fraction `f` gives `2^(−f)` exactly up to rounding, with integer arithmetic only.
const RAICES_DE_MEDIO_Q62: [u128; 32] = [
    0x2d41_3ccc_fe77_9921,
    0x35d1_3f32_b5a7_5abd,
    0x3ab0_31b9_f749_0e4c,
    0x3d49_5f45_4921_b30b,
    0x3ea0_ecb6_dc8a_80cf,
    0x3f4f_8303_3d21_b05d,
    0x3fa7_8457_1ee3_e213,
    0x3fd3_b2d6_5447_b229,
    0x3fe9_d594_8723_6bb4,
    0x3ff4_e9d4_703d_f843,
    0x3ffa_74ac_bdf6_c9d5,
    0x3ffd_3a46_ffc6_e30f,
    0x3ffe_9d1f_a801_0199,
    0x3fff_4e8e_de05_3ad5,
    0x3fff_a747_3183_76ac,
    0x3fff_d3a3_8961_e6ff,
    0x3fff_e9d1_c0d8_fd14,
    0x3fff_f4e8_df76_80c5,
    0x3fff_fa74_6f7d_c0ec,
    0x3fff_fd3a_37af_8098,
    0x3fff_fe9d_1bd3_e854,
    0x3fff_ff4e_8de8_fe2c,
    0x3fff_ffa7_46f4_4197,
    0x3fff_ffd3_a37a_116b,
    0x3fff_ffe9_d1bd_04de,
    0x3fff_fff4_e8de_8179,
    0x3fff_fffa_746f_407f,
    0x3fff_fffd_3a37_a030,
    0x3fff_fffe_9d1b_d014,
    0x3fff_ffff_4e8d_e809,
    0x3fff_ffff_a746_f404,
    0x3fff_ffff_d3a3_7a02,
];

fn peso_por_edad(edad_ms: u64) -> u128 {
    let vidas_medias = edad_ms / VIDA_MEDIA_MS;
    if vidas_medias >= 32 {
        return 0;
    }
    // Binary long division of the remainder by the half-life yields the digits of the
    // fractional number of half-lives, most significant first.
    let mut resto = edad_ms % VIDA_MEDIA_MS;
    let mut peso = UNO_Q62;
    for raiz in RAICES_DE_MEDIO_Q62 {
        resto *= 2;
        if resto >= VIDA_MEDIA_MS {
            resto -= VIDA_MEDIA_MS;
            peso = (peso * raiz) >> 62;
        }
    }
    // Q62 → Q32, then one halving per whole half-life (at most 31 + 30 = 61 bits).
    peso >> (30 + vidas_medias)
}

/// A partner's summed weight and the latest of its touchpoints that has weight.
struct PesoPartner {
    partner_id: Uuid,
    touchpoint_id: Uuid,
    peso: u128,
}

/// Sums weights per partner, keeping partners with a positive weight, ordered by their
/// latest contributing touchpoint.
fn agrupar_por_partner(
    touchpoints: &[&Touchpoint],
    pesos: &[u128],
) -> Result<Vec<PesoPartner>, MoneyError> {
    let mut partners: Vec<PesoPartner> = Vec::new();
    for (tp, &peso) in touchpoints.iter().zip(pesos) {
        let Some(partner_id) = tp.partner_id else {
            continue;
        };
        if peso == 0 {
            continue;
        }
        // Touchpoints come in attribution order, so re-appending the partner after each
        // contribution leaves partners ordered by their latest contributing touchpoint.
        let previo = partners
            .iter()
            .position(|p| p.partner_id == partner_id)
            .map(|i| partners.remove(i).peso)
            .unwrap_or(0);
        partners.push(PesoPartner {
            partner_id,
            touchpoint_id: tp.interaccion_id,
            peso: previo.checked_add(peso).ok_or(MoneyError::Overflow)?,
        });
    }
    Ok(partners)
}

/// Apportions `total` in proportion to `pesos` (largest remainder). The floor shares are
/// given first; the minor units left over go one each to the largest remainders, ties going
/// to the later position (the partner closest to the conversion).
fn repartir(total: i64, pesos: &[u128]) -> Result<Vec<i64>, MoneyError> {
    let suma = pesos
        .iter()
        .try_fold(0u128, |acc, &peso| acc.checked_add(peso))
        .ok_or(MoneyError::Overflow)?;
    if suma == 0 {
        return Ok(vec![0; pesos.len()]);
    }
    let magnitud = u128::from(total.unsigned_abs());
    let mut partes = Vec::with_capacity(pesos.len());
    let mut restos = Vec::with_capacity(pesos.len());
    for &peso in pesos {
        let producto = magnitud.checked_mul(peso).ok_or(MoneyError::Overflow)?;
        partes.push(producto / suma);
        restos.push(producto % suma);
    }
    let asignado: u128 = partes.iter().sum();
    // Each remainder is below `suma` and they add up to `faltan * suma`, so fewer than
    // `pesos.len()` units are left over and they all go to positive remainders.
    let faltan = usize::try_from(magnitud - asignado).map_err(|_| MoneyError::Overflow)?;
    let mut orden: Vec<usize> = (0..pesos.len()).collect();
    orden.sort_by(|&a, &b| restos[b].cmp(&restos[a]).then(b.cmp(&a)));
    for &i in orden.iter().take(faltan) {
        partes[i] += 1;
    }
    partes
        .into_iter()
        .map(|parte| {
            let parte = i128::try_from(parte).map_err(|_| MoneyError::Overflow)?;
            let firmada = if total < 0 { -parte } else { parte };
            i64::try_from(firmada).map_err(|_| MoneyError::Overflow)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::money::Currency;
    use crate::tipos::{TipoConversion, TipoInteraccion};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn momento_conversion() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 30, 12, 0, 0).unwrap()
    }

    fn conversion(valor: i64) -> Conversion {
        Conversion {
            interaccion_id: Uuid::from_u128(0xC0),
            tipo: TipoConversion::Compra,
            campana_id: Uuid::from_u128(0xCA),
            journey_id: Uuid::from_u128(0x10),
            occurred_at: momento_conversion(),
            valor: Money::new(valor, Currency::EUR),
            pedido_id: Some("P-1".into()),
        }
    }

    fn partner(n: u128) -> Uuid {
        Uuid::from_u128(0xA000 + n)
    }

    /// A click of partner `p` `horas` hours before the conversion, with id `id`.
    fn click(id: u128, p: u128, horas: i64) -> Touchpoint {
        Touchpoint {
            interaccion_id: Uuid::from_u128(id),
            tipo: TipoInteraccion::Click,
            partner_id: Some(partner(p)),
            occurred_at: momento_conversion() - Duration::hours(horas),
            ip_hash: None,
            user_agent: None,
        }
    }

    fn montos(creditos: &[CreditoPartner]) -> Vec<(Uuid, i64)> {
        creditos
            .iter()
            .map(|c| (c.partner_id, c.monto.amount))
            .collect()
    }

    #[test]
    fn ultimo_click_gives_everything_to_the_last_partner_touchpoint() {
        let journey = [click(1, 1, 48), click(2, 2, 24), click(3, 3, 1)];
        let creditos = atribuir(
            &conversion(10_000),
            &journey,
            ModeloAtribucion::UltimoClick,
            30,
        )
        .unwrap();
        assert_eq!(montos(&creditos), vec![(partner(3), 10_000)]);
        assert_eq!(creditos[0].touchpoint_id, Uuid::from_u128(3));
    }

    #[test]
    fn primer_click_gives_everything_to_the_first_partner_touchpoint() {
        let journey = [click(3, 3, 1), click(1, 1, 48), click(2, 2, 24)];
        let creditos = atribuir(
            &conversion(10_000),
            &journey,
            ModeloAtribucion::PrimerClick,
            30,
        )
        .unwrap();
        assert_eq!(montos(&creditos), vec![(partner(1), 10_000)]);
        assert_eq!(creditos[0].touchpoint_id, Uuid::from_u128(1));
    }

    #[test]
    fn lineal_splits_equally_and_sums_a_partners_shares() {
        // Partner 1 twice, partner 2 once: 2/3 and 1/3 of 100.00.
        let journey = [click(1, 1, 48), click(2, 2, 24), click(3, 1, 1)];
        let creditos =
            atribuir(&conversion(10_000), &journey, ModeloAtribucion::Lineal, 30).unwrap();
        // Ordered by each partner's latest touchpoint: partner 2 (24h) before partner 1 (1h).
        assert_eq!(
            montos(&creditos),
            vec![(partner(2), 3_333), (partner(1), 6_667)]
        );
        assert_eq!(creditos[1].touchpoint_id, Uuid::from_u128(3));
    }

    #[test]
    fn largest_remainder_breaks_ties_toward_the_most_recent_partner() {
        let journey = [click(1, 1, 3), click(2, 2, 2), click(3, 3, 1)];
        let creditos = atribuir(&conversion(100), &journey, ModeloAtribucion::Lineal, 30).unwrap();
        assert_eq!(
            montos(&creditos),
            vec![(partner(1), 33), (partner(2), 33), (partner(3), 34)]
        );
        let creditos = atribuir(&conversion(101), &journey, ModeloAtribucion::Lineal, 30).unwrap();
        assert_eq!(
            montos(&creditos),
            vec![(partner(1), 33), (partner(2), 34), (partner(3), 34)]
        );
    }

    #[test]
    fn basado_en_posicion_gives_40_20_40() {
        let journey = [
            click(1, 1, 4),
            click(2, 2, 3),
            click(3, 3, 2),
            click(4, 4, 1),
        ];
        let creditos = atribuir(
            &conversion(10_000),
            &journey,
            ModeloAtribucion::BasadoEnPosicion,
            30,
        )
        .unwrap();
        assert_eq!(
            montos(&creditos),
            vec![
                (partner(1), 4_000),
                (partner(2), 1_000),
                (partner(3), 1_000),
                (partner(4), 4_000)
            ]
        );
    }

    #[test]
    fn basado_en_posicion_splits_two_touchpoints_in_halves_and_gives_one_everything() {
        let dos = [click(1, 1, 2), click(2, 2, 1)];
        let creditos = atribuir(
            &conversion(10_000),
            &dos,
            ModeloAtribucion::BasadoEnPosicion,
            30,
        )
        .unwrap();
        assert_eq!(
            montos(&creditos),
            vec![(partner(1), 5_000), (partner(2), 5_000)]
        );
        let uno = [click(1, 1, 2)];
        let creditos = atribuir(
            &conversion(10_000),
            &uno,
            ModeloAtribucion::BasadoEnPosicion,
            30,
        )
        .unwrap();
        assert_eq!(montos(&creditos), vec![(partner(1), 10_000)]);
    }

    #[test]
    fn decaimiento_temporal_halves_the_weight_every_seven_days() {
        let journey = [click(1, 1, 7 * 24), click(2, 2, 0)];
        let creditos = atribuir(
            &conversion(9_000),
            &journey,
            ModeloAtribucion::DecaimientoTemporal,
            30,
        )
        .unwrap();
        assert_eq!(
            montos(&creditos),
            vec![(partner(1), 3_000), (partner(2), 6_000)]
        );
        // Half a half-life: 1 : 2^(-1/2) = 58.58% / 41.42%.
        let journey = [click(1, 1, 84), click(2, 2, 0)];
        let creditos = atribuir(
            &conversion(100_000),
            &journey,
            ModeloAtribucion::DecaimientoTemporal,
            30,
        )
        .unwrap();
        assert_eq!(
            montos(&creditos),
            vec![(partner(1), 41_421), (partner(2), 58_579)]
        );
    }

    #[test]
    fn decay_weight_matches_powers_of_two() {
        assert_eq!(peso_por_edad(0), 1 << 32);
        assert_eq!(peso_por_edad(VIDA_MEDIA_MS), 1 << 31);
        assert_eq!(peso_por_edad(3 * VIDA_MEDIA_MS), 1 << 29);
        assert_eq!(peso_por_edad(32 * VIDA_MEDIA_MS), 0);
        let cuarto = peso_por_edad(VIDA_MEDIA_MS / 4) as f64 / (1u64 << 32) as f64;
        assert!((cuarto - 2f64.powf(-0.25)).abs() < 1e-9);
    }

    #[test]
    fn only_partner_touchpoints_inside_the_window_count() {
        let mut sin_partner = click(1, 1, 1);
        sin_partner.partner_id = None;
        let mut otra_conversion = click(2, 2, 1);
        otra_conversion.tipo = TipoInteraccion::Lead;
        let fuera_de_ventana = click(3, 3, 24 * 30 + 1);
        let despues = click(4, 4, -1);
        let en_el_limite = click(5, 5, 24 * 30);
        let journey = [
            sin_partner,
            otra_conversion,
            fuera_de_ventana,
            despues,
            en_el_limite,
        ];
        let creditos = atribuir(&conversion(500), &journey, ModeloAtribucion::Lineal, 30).unwrap();
        assert_eq!(montos(&creditos), vec![(partner(5), 500)]);
        let creditos = atribuir(
            &conversion(500),
            &journey[..4],
            ModeloAtribucion::Lineal,
            30,
        )
        .unwrap();
        assert!(creditos.is_empty());
    }

    #[test]
    fn a_redelivered_touchpoint_counts_once() {
        let journey = [click(1, 1, 2), click(1, 1, 2), click(2, 2, 1)];
        let creditos = atribuir(&conversion(100), &journey, ModeloAtribucion::Lineal, 30).unwrap();
        assert_eq!(montos(&creditos), vec![(partner(1), 50), (partner(2), 50)]);
    }

    #[test]
    fn a_negative_value_is_split_with_its_sign() {
        let journey = [click(1, 1, 3), click(2, 2, 2), click(3, 3, 1)];
        let creditos = atribuir(&conversion(-100), &journey, ModeloAtribucion::Lineal, 30).unwrap();
        assert_eq!(
            montos(&creditos),
            vec![(partner(1), -33), (partner(2), -33), (partner(3), -34)]
        );
    }

    #[test]
    fn the_largest_value_is_split_without_overflow() {
        let journey = [click(1, 1, 3), click(2, 2, 2), click(3, 3, 1)];
        for modelo in MODELOS {
            let creditos = atribuir(&conversion(i64::MAX), &journey, modelo, 30).unwrap();
            let suma: i128 = creditos.iter().map(|c| i128::from(c.monto.amount)).sum();
            assert_eq!(suma, i128::from(i64::MAX));
        }
    }

    fn creditos(montos: &[i64]) -> Vec<CreditoPartner> {
        montos
            .iter()
            .enumerate()
            .map(|(i, &monto)| CreditoPartner {
                partner_id: partner(i as u128),
                touchpoint_id: Uuid::from_u128(i as u128),
                monto: Money::new(monto, Currency::EUR),
            })
            .collect()
    }

    #[test]
    fn a_single_partner_takes_the_whole_conversion() {
        assert_eq!(participaciones_bps(&creditos(&[12_345])), Ok(vec![10_000]));
        assert_eq!(participaciones_bps(&creditos(&[0])), Ok(vec![10_000]));
    }

    #[test]
    fn shares_follow_the_credits() {
        assert_eq!(
            participaciones_bps(&creditos(&[2_500, 7_500])),
            Ok(vec![2_500, 7_500])
        );
        assert_eq!(
            participaciones_bps(&creditos(&[3_333, 3_333, 3_334])),
            Ok(vec![3_333, 3_333, 3_334])
        );
    }

    #[test]
    fn a_conversion_worth_nothing_is_shared_equally() {
        assert_eq!(
            participaciones_bps(&creditos(&[0, 0, 0])),
            Ok(vec![3_333, 3_333, 3_334])
        );
    }

    #[test]
    fn a_partner_credited_with_next_to_nothing_keeps_one_basis_point() {
        assert_eq!(
            participaciones_bps(&creditos(&[1, 999_999_999])),
            Ok(vec![1, 9_999])
        );
        assert_eq!(
            participaciones_bps(&creditos(&[0, 500])),
            Ok(vec![1, 9_999])
        );
    }

    #[test]
    fn more_partners_than_basis_points_cannot_share_a_conversion() {
        let muchos = vec![0; 10_001];
        assert_eq!(
            participaciones_bps(&creditos(&muchos)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(participaciones_bps(&[]), Ok(vec![]));
    }

    const MODELOS: [ModeloAtribucion; 5] = [
        ModeloAtribucion::UltimoClick,
        ModeloAtribucion::PrimerClick,
        ModeloAtribucion::Lineal,
        ModeloAtribucion::BasadoEnPosicion,
        ModeloAtribucion::DecaimientoTemporal,
    ];

    fn modelo() -> impl Strategy<Value = ModeloAtribucion> {
        proptest::sample::select(MODELOS.to_vec())
    }

    fn tipo() -> impl Strategy<Value = TipoInteraccion> {
        proptest::sample::select(TipoInteraccion::ALL.to_vec())
    }

    /// Like [`journey_con_repetidos`], each interaction once.
    fn journey() -> impl Strategy<Value = Vec<Touchpoint>> {
        journey_con_repetidos().prop_map(|mut journey| {
            for (i, tp) in journey.iter_mut().enumerate() {
                tp.interaccion_id = Uuid::from_u128(1_000 + i as u128);
            }
            journey
        })
    }

    /// Touchpoints of up to 4 partners (or none), from 70 days before to 2 days after the
    /// conversion, with ids that sometimes repeat (redelivered interactions).
    fn journey_con_repetidos() -> impl Strategy<Value = Vec<Touchpoint>> {
        let touchpoint = (
            0u128..40,
            proptest::option::weighted(0.9, 0u128..4),
            tipo(),
            -2 * 86_400i64..70 * 86_400,
        )
            .prop_map(|(id, p, tipo, segundos_antes)| Touchpoint {
                interaccion_id: Uuid::from_u128(id),
                tipo,
                partner_id: p.map(partner),
                occurred_at: momento_conversion() - Duration::seconds(segundos_antes),
                ip_hash: None,
                user_agent: None,
            });
        proptest::collection::vec(touchpoint, 0..25)
    }

    proptest! {
        #[test]
        fn credits_sum_exactly_to_the_value_and_none_is_negative(
            valor in 0i64..=i64::MAX,
            journey in journey_con_repetidos(),
            modelo in modelo(),
            ventana_dias in 0u32..90,
        ) {
            let creditos = atribuir(&conversion(valor), &journey, modelo, ventana_dias).unwrap();
            let en_ventana = touchpoints_en_ventana(&conversion(valor), &journey, ventana_dias);
            prop_assert_eq!(creditos.is_empty(), en_ventana.is_empty());
            if !creditos.is_empty() {
                let suma: i128 = creditos.iter().map(|c| i128::from(c.monto.amount)).sum();
                prop_assert_eq!(suma, i128::from(valor));
            }
            prop_assert!(creditos.iter().all(|c| c.monto.amount >= 0));
            prop_assert!(creditos.iter().all(|c| c.monto.currency == Currency::EUR));
        }

        #[test]
        fn only_partners_in_the_window_get_credit_once_each(
            journey in journey(),
            modelo in modelo(),
            ventana_dias in 0u32..90,
        ) {
            let conversion = conversion(12_345);
            let creditos = atribuir(&conversion, &journey, modelo, ventana_dias).unwrap();
            let desde = conversion.occurred_at - Duration::days(i64::from(ventana_dias));
            let en_ventana: Vec<&Touchpoint> = journey
                .iter()
                .filter(|tp| tp.partner_id.is_some() && !tp.tipo.is_conversion())
                .filter(|tp| desde <= tp.occurred_at && tp.occurred_at <= conversion.occurred_at)
                .collect();
            let mut vistos = HashSet::new();
            for credito in &creditos {
                prop_assert!(vistos.insert(credito.partner_id), "partner credited twice");
                let suyos: Vec<&&Touchpoint> = en_ventana
                    .iter()
                    .filter(|tp| tp.partner_id == Some(credito.partner_id))
                    .collect();
                prop_assert!(!suyos.is_empty(), "credit for a partner outside the window");
                prop_assert!(suyos.iter().any(|tp| tp.interaccion_id == credito.touchpoint_id));
                if modelo == ModeloAtribucion::Lineal {
                    let ultimo = suyos.iter().map(|tp| (tp.occurred_at, tp.interaccion_id)).max();
                    prop_assert_eq!(Some(credito.touchpoint_id), ultimo.map(|(_, id)| id));
                }
            }
        }

        #[test]
        fn attribution_does_not_depend_on_the_journey_order(
            valor in 0i64..1_000_000_000_000,
            journey in journey_con_repetidos(),
            modelo in modelo(),
            ventana_dias in 0u32..90,
            semilla in any::<u64>(),
        ) {
            let mut barajado = journey.clone();
            // A deterministic shuffle driven by the generated seed.
            let mut estado = semilla;
            for i in (1..barajado.len()).rev() {
                estado = estado.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                barajado.swap(i, (estado >> 33) as usize % (i + 1));
            }
            let una = atribuir(&conversion(valor), &journey, modelo, ventana_dias).unwrap();
            let otra = atribuir(&conversion(valor), &barajado, modelo, ventana_dias).unwrap();
            prop_assert_eq!(una, otra);
        }

        #[test]
        fn shares_add_up_to_the_whole_conversion_and_none_is_zero(
            montos in proptest::collection::vec(0i64..1_000_000_000_000, 1..50),
        ) {
            let participaciones = participaciones_bps(&creditos(&montos)).unwrap();
            prop_assert_eq!(participaciones.len(), montos.len());
            prop_assert_eq!(participaciones.iter().sum::<u32>(), 10_000);
            prop_assert!(participaciones.iter().all(|&bps| (1..=10_000).contains(&bps)));
            // Close to the exact share credit / value: the basis point each partner keeps is
            // taken from the others, so n partners are less than n basis points off.
            let valor: i128 = montos.iter().map(|&m| i128::from(m)).sum();
            let tolerancia = i128::try_from(montos.len().max(2)).unwrap();
            if valor > 0 {
                for (&monto, &bps) in montos.iter().zip(&participaciones) {
                    let exacta = i128::from(monto) * 10_000;
                    prop_assert!((i128::from(bps) * valor - exacta).abs() < tolerancia * valor);
                }
            }
        }

        #[test]
        fn single_partner_models_credit_exactly_one_partner(
            journey in journey(),
            modelo in proptest::sample::select(vec![ModeloAtribucion::UltimoClick, ModeloAtribucion::PrimerClick]),
        ) {
            let conversion = conversion(777);
            let creditos = atribuir(&conversion, &journey, modelo, 30).unwrap();
            let desde = conversion.occurred_at - Duration::days(30);
            let alguno_en_ventana = journey.iter().any(|tp| {
                tp.partner_id.is_some()
                    && !tp.tipo.is_conversion()
                    && desde <= tp.occurred_at
                    && tp.occurred_at <= conversion.occurred_at
            });
            prop_assert_eq!(creditos.len(), usize::from(alguno_en_ventana));
        }
    }
}
