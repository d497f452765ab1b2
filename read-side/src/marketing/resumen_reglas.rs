//! A campaign's commission rules in one line, for lists.

use alpes_domain::campana::{CalculoComision, ReglaComision, ReglasComision};
use alpes_domain::TipoConversion;

/// E.g. `Compra: 10% (mín. 5.00 EUR, máx. 5000.00 EUR, 1 partner con cálculo propio);
/// Lead: 25.00 EUR`; `sin comisiones` when the campaign pays for nothing.
pub(crate) fn resumen_reglas(reglas: &ReglasComision) -> String {
    let partes: Vec<String> = [
        TipoConversion::Compra,
        TipoConversion::Lead,
        TipoConversion::Registro,
    ]
    .into_iter()
    .filter_map(|tipo| {
        reglas.para(tipo).map(|regla| {
            format!(
                "{}: {}",
                crate::names::tipo_conversion(tipo),
                regla_en_texto(regla)
            )
        })
    })
    .collect();
    if partes.is_empty() {
        "sin comisiones".to_string()
    } else {
        partes.join("; ")
    }
}

fn regla_en_texto(regla: &ReglaComision) -> String {
    let mut limites = Vec::new();
    if let Some(minimo) = regla.minimo {
        limites.push(format!("mín. {minimo}"));
    }
    if let Some(maximo) = regla.maximo {
        limites.push(format!("máx. {maximo}"));
    }
    match regla.por_partner.len() {
        0 => {}
        1 => limites.push("1 partner con cálculo propio".to_string()),
        n => limites.push(format!("{n} partners con cálculo propio")),
    }
    let calculo = calculo_en_texto(&regla.calculo);
    if limites.is_empty() {
        calculo
    } else {
        format!("{calculo} ({})", limites.join(", "))
    }
}

fn calculo_en_texto(calculo: &CalculoComision) -> String {
    match calculo {
        CalculoComision::Porcentaje { bps } => porcentaje(*bps),
        CalculoComision::Fijo { monto } => monto.to_string(),
        CalculoComision::Escalonado { tramos } => {
            let mut tramos: Vec<_> = tramos.iter().collect();
            tramos.sort_by_key(|tramo| tramo.desde_conversiones);
            let texto: Vec<String> = tramos
                .iter()
                .map(|tramo| {
                    format!(
                        "{} desde {}",
                        porcentaje(tramo.bps),
                        tramo.desde_conversiones
                    )
                })
                .collect();
            format!("escalonado {}", texto.join(", "))
        }
    }
}

/// Basis points as a percentage without needless decimals: 1000 → `10%`, 1250 → `12.5%`.
fn porcentaje(bps: u32) -> String {
    let enteros = bps / 100;
    let centesimas = bps % 100;
    match centesimas {
        0 => format!("{enteros}%"),
        c if c % 10 == 0 => format!("{enteros}.{}%", c / 10),
        c => format!("{enteros}.{c:02}%"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alpes_domain::campana::Tramo;
    use alpes_domain::{Currency, Money};
    use uuid::Uuid;

    use super::*;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::EUR)
    }

    #[test]
    fn every_rule_of_a_campaign_reads_in_one_line() {
        let reglas = ReglasComision {
            compra: Some(ReglaComision {
                calculo: CalculoComision::Porcentaje { bps: 1_250 },
                minimo: Some(eur(500)),
                maximo: None,
                por_partner: BTreeMap::from([(
                    Uuid::from_u128(7),
                    CalculoComision::Fijo { monto: eur(100) },
                )]),
            }),
            lead: Some(ReglaComision {
                calculo: CalculoComision::Fijo { monto: eur(2_500) },
                minimo: None,
                maximo: None,
                por_partner: BTreeMap::new(),
            }),
            registro: Some(ReglaComision {
                calculo: CalculoComision::Escalonado {
                    tramos: vec![
                        Tramo {
                            desde_conversiones: 10,
                            bps: 1_500,
                        },
                        Tramo {
                            desde_conversiones: 0,
                            bps: 1_000,
                        },
                    ],
                },
                minimo: None,
                maximo: None,
                por_partner: BTreeMap::new(),
            }),
        };
        assert_eq!(
            resumen_reglas(&reglas),
            "Compra: 12.5% (mín. 5.00 EUR, 1 partner con cálculo propio); Lead: 25.00 EUR; \
             Registro: escalonado 10% desde 0, 15% desde 10"
        );
    }

    #[test]
    fn a_campaign_that_pays_for_nothing_says_so() {
        assert_eq!(resumen_reglas(&ReglasComision::default()), "sin comisiones");
    }

    #[test]
    fn basis_points_read_as_short_percentages() {
        assert_eq!(porcentaje(1_000), "10%");
        assert_eq!(porcentaje(1_250), "12.5%");
        assert_eq!(porcentaje(1_234), "12.34%");
        assert_eq!(porcentaje(5), "0.05%");
    }
}
