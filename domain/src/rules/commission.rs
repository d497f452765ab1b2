//! Commission rules: how much a partner earns for one credited conversion, and which
//! rules a campaign may hold.
//!
//! A campaign holds one [`ReglaComision`] per conversion type it pays for. Purchases may
//! pay a percentage of the partner's credit, a flat amount, or a percentage that grows
//! with the partner's conversions in the campaign (tiers); leads and registrations pay a
//! flat amount. Any rule may be bounded by a minimum and a maximum, and may give some
//! partners their own calculation.
//!
//! When a conversion is credited to several partners, each earns a commission on its own
//! credit: a percentage of that credit, or its share of the flat amount, so the conversion
//! pays its flat amount once in total. The minimum and maximum bound each commission.

use uuid::Uuid;

use crate::campana::{CalculoComision, ReglaComision, Tramo};
use crate::money::{Currency, Money, MoneyError};
use crate::tipos::TipoConversion;

/// The largest share a percentage may take: 10,000 basis points are 100% of the credit.
pub const BPS_MAXIMO: u32 = 10_000;

/// The commission a partner earns for one conversion.
///
/// - `credito` is the partner's credited share of the conversion value.
/// - `participacion_bps` is the partner's share of the conversion in basis points
///   (1..=[`BPS_MAXIMO`]; the campaign rejects any other), as
///   [`participaciones_bps`](crate::rules::attribution::participaciones_bps) computes it.
///   A flat amount is multiplied by it, so a conversion credited to several partners pays
///   its flat amount once in total; a percentage already applies to the credit, which is
///   the partner's part.
/// - `conversiones_previas_del_partner` is how many conversions of this partner the
///   campaign has already counted, of every conversion type; it only matters for tiered
///   rules.
///
/// The partner's own calculation in [`ReglaComision::por_partner`] replaces the rule's
/// calculation when there is one. A percentage, and a flat amount's share, are rounded half
/// to even. A tiered rule
/// applies the tier with the highest `desde_conversiones` not above the count; a rule
/// without a tier from 0 (only a rule stored before [`validar_regla`] required one) pays
/// nothing before its first tier. The result is then raised to `minimo` and lowered to
/// `maximo` when they are set: the bounds apply to each commission, so a conversion
/// shared by several partners pays each of them at least the minimum.
///
/// The result is in the credit's currency; a flat amount, minimum or maximum in another
/// currency is a [`MoneyError::CurrencyMismatch`].
///
/// ```
/// use std::collections::BTreeMap;
/// use alpes_domain::campana::{CalculoComision, ReglaComision};
/// use alpes_domain::rules::commission::calcular_comision;
/// use alpes_domain::{Currency, Money};
/// use uuid::Uuid;
///
/// let eur = |cents| Money::new(cents, Currency::EUR);
/// // 10% of purchases, at least 5.00 and at most 5,000.00.
/// let compras = ReglaComision {
///     calculo: CalculoComision::Porcentaje { bps: 1_000 },
///     minimo: Some(eur(500)),
///     maximo: Some(eur(500_000)),
///     por_partner: BTreeMap::new(),
/// };
/// let partner = Uuid::from_u128(7);
/// // The only partner credited: its share is 10,000 basis points (100%).
/// assert_eq!(calcular_comision(&compras, partner, eur(12_000), 10_000, 0), Ok(eur(1_200)));
/// assert_eq!(calcular_comision(&compras, partner, eur(1_000), 10_000, 0), Ok(eur(500)));
///
/// // 25.00 per lead, shared by three partners: 8.33 + 8.33 + 8.34.
/// let leads = ReglaComision {
///     calculo: CalculoComision::Fijo { monto: eur(2_500) },
///     minimo: None,
///     maximo: None,
///     por_partner: BTreeMap::new(),
/// };
/// assert_eq!(calcular_comision(&leads, partner, eur(0), 3_333, 0), Ok(eur(833)));
/// assert_eq!(calcular_comision(&leads, partner, eur(0), 3_334, 0), Ok(eur(834)));
/// ```
pub fn calcular_comision(
    regla: &ReglaComision,
    partner_id: Uuid,
    credito: Money,
    participacion_bps: u32,
    conversiones_previas_del_partner: u32,
) -> Result<Money, MoneyError> {
    let calculo = regla.por_partner.get(&partner_id).unwrap_or(&regla.calculo);
    let monto = aplicar_calculo(
        calculo,
        credito,
        participacion_bps,
        conversiones_previas_del_partner,
    )?;
    acotar(monto, regla.minimo, regla.maximo)
}

/// The amount of one calculation, before the rule's minimum and maximum.
fn aplicar_calculo(
    calculo: &CalculoComision,
    credito: Money,
    participacion_bps: u32,
    conversiones_previas: u32,
) -> Result<Money, MoneyError> {
    match calculo {
        CalculoComision::Porcentaje { bps } => credito.percentage_bps(*bps),
        CalculoComision::Fijo { monto } => {
            let parte = monto.percentage_bps(participacion_bps)?;
            // Adding to zero checks that the flat amount is in the credit's currency.
            Money::zero(credito.currency).checked_add(&parte)
        }
        CalculoComision::Escalonado { tramos } => {
            match tramo_aplicable(tramos, conversiones_previas) {
                Some(tramo) => credito.percentage_bps(tramo.bps),
                None => Ok(Money::zero(credito.currency)),
            }
        }
    }
}

/// The tier with the highest `desde_conversiones` not above `conversiones`, if any.
pub fn tramo_aplicable(tramos: &[Tramo], conversiones: u32) -> Option<&Tramo> {
    tramos
        .iter()
        .filter(|tramo| tramo.desde_conversiones <= conversiones)
        .max_by_key(|tramo| tramo.desde_conversiones)
}

/// Raises `monto` to `minimo` and lowers it to `maximo`, each when set.
fn acotar(monto: Money, minimo: Option<Money>, maximo: Option<Money>) -> Result<Money, MoneyError> {
    let mut acotado = monto;
    if let Some(minimo) = minimo {
        if acotado.checked_cmp(&minimo)?.is_lt() {
            acotado = minimo;
        }
    }
    if let Some(maximo) = maximo {
        if acotado.checked_cmp(&maximo)?.is_gt() {
            acotado = maximo;
        }
    }
    Ok(acotado)
}

/// Why a commission rule cannot be held by a campaign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReglaInvalida {
    /// Leads and registrations pay a flat amount only.
    #[error("a {tipo:?} commission can only be a flat amount (Fijo)")]
    CalculoNoPermitido {
        /// Lead or Registro.
        tipo: TipoConversion,
    },
    /// A percentage above 100%.
    #[error("{bps} basis points is more than {BPS_MAXIMO} (100%)")]
    PorcentajeFueraDeRango {
        /// The percentage received, in basis points.
        bps: u32,
    },
    /// A tiered rule without tiers.
    #[error("a tiered commission needs at least one tier")]
    SinTramos,
    /// Two tiers starting at the same count, so which one applies would be ambiguous.
    #[error("two tiers start at {desde_conversiones} conversions")]
    TramoRepetido {
        /// The count two tiers start at.
        desde_conversiones: u32,
    },
    /// No tier starts at 0 conversions, so a partner's first conversions would pay nothing.
    #[error("a tiered commission needs a tier from 0 conversions")]
    SinTramoDesdeCero,
    /// A flat amount, minimum or maximum below zero.
    #[error("{campo} is negative: {monto}")]
    MontoNegativo {
        /// `fijo`, `minimo` or `maximo`.
        campo: &'static str,
        /// The amount received.
        monto: Money,
    },
    /// A flat amount, minimum or maximum that is not in the campaign's budget currency.
    #[error("{campo} is in {recibida}, the campaign pays in {esperada}")]
    MonedaDistinta {
        /// `fijo`, `minimo` or `maximo`.
        campo: &'static str,
        /// The budget currency.
        esperada: Currency,
        /// The amount's currency.
        recibida: Currency,
    },
    /// The minimum is above the maximum.
    #[error("minimo {minimo} is above maximo {maximo}")]
    MinimoMayorQueMaximo {
        /// The minimum received.
        minimo: Money,
        /// The maximum received.
        maximo: Money,
    },
    /// One partner's own calculation is invalid.
    #[error("the calculation of partner {partner_id} is invalid: {motivo}")]
    CalculoDePartnerInvalido {
        /// The partner whose calculation it is.
        partner_id: Uuid,
        /// What is wrong with it.
        motivo: Box<ReglaInvalida>,
    },
}

/// Checks that `regla` may pay for conversions of type `tipo` in a campaign whose budget
/// is in `moneda`: purchases may use any calculation, leads and registrations a flat
/// amount only (the partners' own calculations included); percentages are at most
/// [`BPS_MAXIMO`]; tiers exist, start at distinct counts and one starts at 0 conversions
/// (so a partner's first conversions never silently pay nothing); amounts are not negative and
/// are in `moneda`; the minimum is not above the maximum.
pub fn validar_regla(
    tipo: TipoConversion,
    regla: &ReglaComision,
    moneda: Currency,
) -> Result<(), ReglaInvalida> {
    validar_calculo(tipo, &regla.calculo, moneda)?;
    for (partner_id, calculo) in &regla.por_partner {
        validar_calculo(tipo, calculo, moneda).map_err(|motivo| {
            ReglaInvalida::CalculoDePartnerInvalido {
                partner_id: *partner_id,
                motivo: Box::new(motivo),
            }
        })?;
    }
    if let Some(minimo) = regla.minimo {
        validar_monto("minimo", minimo, moneda)?;
    }
    if let Some(maximo) = regla.maximo {
        validar_monto("maximo", maximo, moneda)?;
    }
    if let (Some(minimo), Some(maximo)) = (regla.minimo, regla.maximo) {
        if minimo.amount > maximo.amount {
            return Err(ReglaInvalida::MinimoMayorQueMaximo { minimo, maximo });
        }
    }
    Ok(())
}

fn validar_calculo(
    tipo: TipoConversion,
    calculo: &CalculoComision,
    moneda: Currency,
) -> Result<(), ReglaInvalida> {
    let solo_fijo = matches!(tipo, TipoConversion::Lead | TipoConversion::Registro);
    match calculo {
        CalculoComision::Fijo { monto } => validar_monto("fijo", *monto, moneda),
        _ if solo_fijo => Err(ReglaInvalida::CalculoNoPermitido { tipo }),
        CalculoComision::Porcentaje { bps } => validar_bps(*bps),
        CalculoComision::Escalonado { tramos } => validar_tramos(tramos),
    }
}

fn validar_bps(bps: u32) -> Result<(), ReglaInvalida> {
    if bps > BPS_MAXIMO {
        return Err(ReglaInvalida::PorcentajeFueraDeRango { bps });
    }
    Ok(())
}

fn validar_tramos(tramos: &[Tramo]) -> Result<(), ReglaInvalida> {
    if tramos.is_empty() {
        return Err(ReglaInvalida::SinTramos);
    }
    let mut desde: Vec<u32> = tramos.iter().map(|t| t.desde_conversiones).collect();
    desde.sort_unstable();
    if let Some(repetido) = desde.windows(2).find(|par| par[0] == par[1]) {
        return Err(ReglaInvalida::TramoRepetido {
            desde_conversiones: repetido[0],
        });
    }
    if desde.first() != Some(&0) {
        return Err(ReglaInvalida::SinTramoDesdeCero);
    }
    tramos.iter().try_for_each(|tramo| validar_bps(tramo.bps))
}

fn validar_monto(campo: &'static str, monto: Money, moneda: Currency) -> Result<(), ReglaInvalida> {
    if monto.currency != moneda {
        return Err(ReglaInvalida::MonedaDistinta {
            campo,
            esperada: moneda,
            recibida: monto.currency,
        });
    }
    if monto.amount < 0 {
        return Err(ReglaInvalida::MontoNegativo { campo, monto });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::atribucion::CreditoPartner;
    use crate::rules::attribution::participaciones_bps;

    fn eur(cents: i64) -> Money {
        Money::new(cents, Currency::EUR)
    }

    fn regla(calculo: CalculoComision) -> ReglaComision {
        ReglaComision {
            calculo,
            minimo: None,
            maximo: None,
            por_partner: BTreeMap::new(),
        }
    }

    fn diez_por_ciento_entre_5_y_5000() -> ReglaComision {
        ReglaComision {
            minimo: Some(eur(500)),
            maximo: Some(eur(500_000)),
            ..regla(CalculoComision::Porcentaje { bps: 1_000 })
        }
    }

    /// 5% from the first conversion, 10% from the second, 15% from the 11th, 20% from the 51st.
    fn escalonado() -> CalculoComision {
        CalculoComision::Escalonado {
            tramos: vec![
                Tramo {
                    desde_conversiones: 10,
                    bps: 1_500,
                },
                Tramo {
                    desde_conversiones: 0,
                    bps: 500,
                },
                Tramo {
                    desde_conversiones: 1,
                    bps: 1_000,
                },
                Tramo {
                    desde_conversiones: 50,
                    bps: 2_000,
                },
            ],
        }
    }

    const PARTNER: Uuid = Uuid::from_u128(1);
    /// The share of the only partner credited with a conversion.
    const SOLO: u32 = 10_000;

    #[test]
    fn porcentaje_is_a_share_of_the_credit_rounded_half_to_even() {
        let regla = regla(CalculoComision::Porcentaje { bps: 1_000 });
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(12_345), SOLO, 0),
            Ok(eur(1_234))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(12_355), SOLO, 0),
            Ok(eur(1_236))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(125), SOLO, 0),
            Ok(eur(12))
        );
    }

    #[test]
    fn minimo_raises_and_maximo_lowers_the_amount() {
        let regla = diez_por_ciento_entre_5_y_5000();
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(1_000), SOLO, 0),
            Ok(eur(500))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(10_000), SOLO, 0),
            Ok(eur(1_000))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(9_000_000), SOLO, 0),
            Ok(eur(500_000))
        );
    }

    #[test]
    fn fijo_pays_the_same_whatever_the_credit() {
        let lead = regla(CalculoComision::Fijo { monto: eur(2_500) });
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(0), SOLO, 0),
            Ok(eur(2_500))
        );
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(99_999), SOLO, 7),
            Ok(eur(2_500))
        );
    }

    #[test]
    fn fijo_is_the_partner_share_of_the_flat_amount_rounded_half_to_even() {
        let lead = regla(CalculoComision::Fijo { monto: eur(2_500) });
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(0), 5_000, 0),
            Ok(eur(1_250))
        );
        // 833.25 -> 833 and 833.5 -> 834: three partners share exactly 25.00.
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(0), 3_333, 0),
            Ok(eur(833))
        );
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(0), 3_334, 0),
            Ok(eur(834))
        );
        let centimos = regla(CalculoComision::Fijo { monto: eur(125) });
        // 62.5 -> 62 (half to even).
        assert_eq!(
            calcular_comision(&centimos, PARTNER, eur(0), 5_000, 0),
            Ok(eur(62))
        );
    }

    #[test]
    fn a_partner_override_fijo_is_shared_too() {
        let mut lead = regla(CalculoComision::Fijo { monto: eur(2_500) });
        let vip = Uuid::from_u128(2);
        lead.por_partner
            .insert(vip, CalculoComision::Fijo { monto: eur(4_000) });
        assert_eq!(
            calcular_comision(&lead, vip, eur(0), 5_000, 0),
            Ok(eur(2_000))
        );
    }

    #[test]
    fn porcentaje_and_escalonado_ignore_the_share_because_the_credit_is_already_shared() {
        let porcentaje = regla(CalculoComision::Porcentaje { bps: 1_000 });
        let escalonado = regla(escalonado());
        for regla in [porcentaje, escalonado] {
            assert_eq!(
                calcular_comision(&regla, PARTNER, eur(5_000), 2_500, 1),
                calcular_comision(&regla, PARTNER, eur(5_000), SOLO, 1),
            );
        }
    }

    #[test]
    fn minimo_and_maximo_bound_each_commission_not_the_share() {
        let lead = ReglaComision {
            minimo: Some(eur(1_000)),
            maximo: Some(eur(2_000)),
            ..regla(CalculoComision::Fijo { monto: eur(2_500) })
        };
        // 8.33 raised to 10.00; 25.00 lowered to 20.00.
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(0), 3_333, 0),
            Ok(eur(1_000))
        );
        assert_eq!(
            calcular_comision(&lead, PARTNER, eur(0), SOLO, 0),
            Ok(eur(2_000))
        );
    }

    #[test]
    fn fijo_in_another_currency_than_the_credit_is_an_error() {
        let lead = regla(CalculoComision::Fijo {
            monto: Money::new(2_500, Currency::USD),
        });
        assert!(matches!(
            calcular_comision(&lead, PARTNER, eur(100), SOLO, 0),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn escalonado_applies_the_highest_tier_reached() {
        let regla = regla(escalonado());
        let credito = eur(10_000);
        assert_eq!(
            calcular_comision(&regla, PARTNER, credito, SOLO, 0),
            Ok(eur(500))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, credito, SOLO, 1),
            Ok(eur(1_000))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, credito, SOLO, 9),
            Ok(eur(1_000))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, credito, SOLO, 10),
            Ok(eur(1_500))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, credito, SOLO, 49),
            Ok(eur(1_500))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, credito, SOLO, 50),
            Ok(eur(2_000))
        );
    }

    #[test]
    fn escalonado_of_a_rule_stored_before_tiers_started_at_zero_pays_the_minimo_early() {
        // Rules stored before validation required a tier from 0 still load; before their
        // first tier only the minimum is paid.
        let regla = ReglaComision {
            minimo: Some(eur(100)),
            ..regla(CalculoComision::Escalonado {
                tramos: vec![Tramo {
                    desde_conversiones: 3,
                    bps: 1_000,
                }],
            })
        };
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(10_000), SOLO, 0),
            Ok(eur(100))
        );
    }

    #[test]
    fn a_tiered_rule_needs_a_tier_from_zero_conversions() {
        let desde_uno = regla(CalculoComision::Escalonado {
            tramos: vec![Tramo {
                desde_conversiones: 1,
                bps: 1_000,
            }],
        });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &desde_uno, Currency::EUR),
            Err(ReglaInvalida::SinTramoDesdeCero)
        );
    }

    #[test]
    fn a_partner_override_replaces_the_calculation_but_not_the_bounds() {
        let mut regla = diez_por_ciento_entre_5_y_5000();
        let vip = Uuid::from_u128(2);
        regla
            .por_partner
            .insert(vip, CalculoComision::Porcentaje { bps: 2_000 });
        assert_eq!(
            calcular_comision(&regla, vip, eur(10_000), SOLO, 0),
            Ok(eur(2_000))
        );
        assert_eq!(
            calcular_comision(&regla, vip, eur(1_000), SOLO, 0),
            Ok(eur(500))
        );
        assert_eq!(
            calcular_comision(&regla, PARTNER, eur(10_000), SOLO, 0),
            Ok(eur(1_000))
        );
    }

    #[test]
    fn the_example_rules_are_valid() {
        let compras = diez_por_ciento_entre_5_y_5000();
        let leads = regla(CalculoComision::Fijo { monto: eur(2_500) });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &compras, Currency::EUR),
            Ok(())
        );
        assert_eq!(
            validar_regla(TipoConversion::Lead, &leads, Currency::EUR),
            Ok(())
        );
        assert_eq!(
            validar_regla(TipoConversion::Registro, &leads, Currency::EUR),
            Ok(())
        );
        assert_eq!(
            validar_regla(TipoConversion::Compra, &regla(escalonado()), Currency::EUR),
            Ok(())
        );
    }

    #[test]
    fn leads_and_registrations_pay_a_flat_amount_only() {
        for tipo in [TipoConversion::Lead, TipoConversion::Registro] {
            for calculo in [CalculoComision::Porcentaje { bps: 100 }, escalonado()] {
                assert_eq!(
                    validar_regla(tipo, &regla(calculo), Currency::EUR),
                    Err(ReglaInvalida::CalculoNoPermitido { tipo })
                );
            }
        }
    }

    #[test]
    fn a_partner_override_of_a_lead_rule_must_be_flat_too() {
        let mut lead = regla(CalculoComision::Fijo { monto: eur(2_500) });
        lead.por_partner
            .insert(PARTNER, CalculoComision::Porcentaje { bps: 100 });
        assert_eq!(
            validar_regla(TipoConversion::Lead, &lead, Currency::EUR),
            Err(ReglaInvalida::CalculoDePartnerInvalido {
                partner_id: PARTNER,
                motivo: Box::new(ReglaInvalida::CalculoNoPermitido {
                    tipo: TipoConversion::Lead
                }),
            })
        );
    }

    #[test]
    fn a_percentage_is_at_most_10000_basis_points() {
        let cien = regla(CalculoComision::Porcentaje { bps: 10_000 });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &cien, Currency::EUR),
            Ok(())
        );
        let demasiado = regla(CalculoComision::Porcentaje { bps: 10_001 });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &demasiado, Currency::EUR),
            Err(ReglaInvalida::PorcentajeFueraDeRango { bps: 10_001 })
        );
        let tramo = regla(CalculoComision::Escalonado {
            tramos: vec![Tramo {
                desde_conversiones: 0,
                bps: 20_000,
            }],
        });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &tramo, Currency::EUR),
            Err(ReglaInvalida::PorcentajeFueraDeRango { bps: 20_000 })
        );
    }

    #[test]
    fn tiers_exist_and_start_at_distinct_counts() {
        let vacio = regla(CalculoComision::Escalonado { tramos: vec![] });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &vacio, Currency::EUR),
            Err(ReglaInvalida::SinTramos)
        );
        let tramo = |bps| Tramo {
            desde_conversiones: 5,
            bps,
        };
        let repetido = regla(CalculoComision::Escalonado {
            tramos: vec![tramo(100), tramo(200)],
        });
        assert_eq!(
            validar_regla(TipoConversion::Compra, &repetido, Currency::EUR),
            Err(ReglaInvalida::TramoRepetido {
                desde_conversiones: 5
            })
        );
    }

    #[test]
    fn minimo_is_not_above_maximo() {
        let invertida = ReglaComision {
            minimo: Some(eur(600)),
            maximo: Some(eur(500)),
            ..regla(CalculoComision::Porcentaje { bps: 100 })
        };
        assert_eq!(
            validar_regla(TipoConversion::Compra, &invertida, Currency::EUR),
            Err(ReglaInvalida::MinimoMayorQueMaximo {
                minimo: eur(600),
                maximo: eur(500)
            })
        );
    }

    #[test]
    fn amounts_are_in_the_budget_currency_and_not_negative() {
        let en_dolares = ReglaComision {
            maximo: Some(Money::new(500, Currency::USD)),
            ..regla(CalculoComision::Porcentaje { bps: 100 })
        };
        assert_eq!(
            validar_regla(TipoConversion::Compra, &en_dolares, Currency::EUR),
            Err(ReglaInvalida::MonedaDistinta {
                campo: "maximo",
                esperada: Currency::EUR,
                recibida: Currency::USD
            })
        );
        let negativo = regla(CalculoComision::Fijo { monto: eur(-1) });
        assert_eq!(
            validar_regla(TipoConversion::Lead, &negativo, Currency::EUR),
            Err(ReglaInvalida::MontoNegativo {
                campo: "fijo",
                monto: eur(-1)
            })
        );
    }

    fn cualquier_calculo() -> impl Strategy<Value = CalculoComision> {
        prop_oneof![
            (0u32..=BPS_MAXIMO).prop_map(|bps| CalculoComision::Porcentaje { bps }),
            (0i64..10_000_000).prop_map(|cents| CalculoComision::Fijo { monto: eur(cents) }),
            (
                0u32..=BPS_MAXIMO,
                proptest::collection::btree_map(1u32..100, 0u32..=BPS_MAXIMO, 0..4)
            )
                .prop_map(|(bps_inicial, tramos)| CalculoComision::Escalonado {
                    tramos: std::iter::once((0, bps_inicial))
                        .chain(tramos)
                        .map(|(desde_conversiones, bps)| Tramo {
                            desde_conversiones,
                            bps
                        })
                        .collect(),
                }),
        ]
    }

    proptest! {
        #[test]
        fn the_result_is_within_minimo_and_maximo(
            calculo in cualquier_calculo(),
            a in 0i64..10_000_000,
            b in 0i64..10_000_000,
            credito in 0i64..1_000_000_000,
            conversiones in 0u32..200,
        ) {
            let regla = ReglaComision {
                minimo: Some(eur(a.min(b))),
                maximo: Some(eur(a.max(b))),
                ..regla(calculo)
            };
            prop_assert_eq!(validar_regla(TipoConversion::Compra, &regla, Currency::EUR), Ok(()));
            let monto = calcular_comision(&regla, PARTNER, eur(credito), SOLO, conversiones).unwrap();
            prop_assert!(monto.amount >= a.min(b) && monto.amount <= a.max(b));
            prop_assert_eq!(monto.currency, Currency::EUR);
        }

        #[test]
        fn an_override_changes_only_that_partners_commission(
            calculo in cualquier_calculo(),
            propio in cualquier_calculo(),
            a in 0i64..10_000_000,
            b in 0i64..10_000_000,
            credito in 0i64..1_000_000_000,
            participacion in 1u32..=BPS_MAXIMO,
            conversiones in 0u32..200,
        ) {
            let vip = Uuid::from_u128(2);
            let sin_override = ReglaComision {
                minimo: Some(eur(a.min(b))),
                maximo: Some(eur(a.max(b))),
                ..regla(calculo)
            };
            let mut con_override = sin_override.clone();
            con_override.por_partner.insert(vip, propio.clone());
            let solo_propio = ReglaComision { calculo: propio, ..sin_override.clone() };
            let comision = |regla: &ReglaComision, partner| {
                calcular_comision(regla, partner, eur(credito), participacion, conversiones)
            };
            // Another partner is paid as if there were no override...
            prop_assert_eq!(comision(&con_override, PARTNER), comision(&sin_override, PARTNER));
            // ...and the partner with one as if the override were the rule, bounds included.
            prop_assert_eq!(comision(&con_override, vip), comision(&solo_propio, vip));
        }

        #[test]
        fn a_flat_fee_is_paid_once_per_conversion_whatever_the_number_of_partners(
            fijo in 0i64..10_000_000,
            creditos in proptest::collection::vec(0i64..1_000_000, 1..8),
        ) {
            let lead = regla(CalculoComision::Fijo { monto: eur(fijo) });
            let creditos: Vec<CreditoPartner> = creditos
                .into_iter()
                .enumerate()
                .map(|(i, monto)| CreditoPartner {
                    partner_id: Uuid::from_u128(100 + i as u128),
                    touchpoint_id: Uuid::from_u128(200 + i as u128),
                    monto: eur(monto),
                })
                .collect();
            let participaciones = participaciones_bps(&creditos).unwrap();
            let mut total = 0i64;
            for (credito, participacion) in creditos.iter().zip(participaciones) {
                let monto =
                    calcular_comision(&lead, credito.partner_id, credito.monto, participacion, 0)
                        .unwrap();
                total += monto.amount;
            }
            // Each share is rounded to the nearest cent: at most half a cent off per partner.
            let tolerancia = creditos.len() as i64;
            prop_assert!((2 * (total - fijo)).abs() <= tolerancia, "{} paid for a fee of {}", total, fijo);
        }

        #[test]
        fn a_percentage_never_pays_less_for_a_larger_credit(
            bps in 0u32..=BPS_MAXIMO,
            menor in 0i64..1_000_000_000,
            extra in 0i64..1_000_000_000,
        ) {
            let regla = regla(CalculoComision::Porcentaje { bps });
            let poco = calcular_comision(&regla, PARTNER, eur(menor), SOLO, 0).unwrap();
            let mas = calcular_comision(&regla, PARTNER, eur(menor + extra), SOLO, 0).unwrap();
            prop_assert!(poco.amount <= mas.amount);
        }

        #[test]
        fn a_percentage_never_exceeds_the_credit(
            bps in 0u32..=BPS_MAXIMO,
            credito in 0i64..i64::MAX,
        ) {
            let regla = regla(CalculoComision::Porcentaje { bps });
            let monto = calcular_comision(&regla, PARTNER, eur(credito), SOLO, 0).unwrap();
            prop_assert!(monto.amount >= 0 && monto.amount <= credito);
        }
    }
}
