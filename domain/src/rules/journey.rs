//! A journey as every rule reads it: each interaction once, in one order that does not
//! depend on how the journey was delivered.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::atribucion::Touchpoint;
use crate::tipos::TipoInteraccion;

/// The journey's interactions, each once, oldest first.
///
/// Interactions are sorted by `(occurred_at, interaccion_id)` and then by every other field
/// (`partner_id`, `tipo`, `ip_hash`, `user_agent`), so the order is total; of the copies of
/// one `interaccion_id` the first in that order is kept. A redelivered duplicate with other
/// content (another IP or user agent) therefore gives the same result whatever the order in
/// which the journey arrived. Attribution and the fraud rules both read journeys through this
/// function, so they always agree on which copy counts.
pub fn interacciones_unicas(journey: &[Touchpoint]) -> Vec<&Touchpoint> {
    let mut interacciones: Vec<&Touchpoint> = journey.iter().collect();
    interacciones.sort_by(|a, b| clave(a).cmp(&clave(b)));
    let mut vistas = HashSet::new();
    interacciones.retain(|tp| vistas.insert(tp.interaccion_id));
    interacciones
}

/// Every field of a touchpoint, in the order [`interacciones_unicas`] sorts by.
type Clave<'a> = (
    DateTime<Utc>,
    Uuid,
    Option<Uuid>,
    TipoInteraccion,
    Option<&'a str>,
    Option<&'a str>,
);

fn clave(tp: &Touchpoint) -> Clave<'_> {
    (
        tp.occurred_at,
        tp.interaccion_id,
        tp.partner_id,
        tp.tipo,
        tp.ip_hash.as_deref(),
        tp.user_agent.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    /// Interactions with ids that repeat, and copies that differ in any field.
    fn journey() -> impl Strategy<Value = Vec<Touchpoint>> {
        let texto = proptest::option::of(proptest::sample::select(vec!["a", "b"]));
        let touchpoint = (
            0u128..6,
            proptest::sample::select(TipoInteraccion::ALL.to_vec()),
            proptest::option::of(0u128..3),
            0i64..4,
            texto.clone(),
            texto,
        )
            .prop_map(
                |(id, tipo, partner, segundos, ip_hash, user_agent)| Touchpoint {
                    interaccion_id: Uuid::from_u128(id),
                    tipo,
                    partner_id: partner.map(Uuid::from_u128),
                    occurred_at: Utc.with_ymd_and_hms(2024, 6, 30, 12, 0, 0).unwrap()
                        + Duration::seconds(segundos),
                    ip_hash: ip_hash.map(String::from),
                    user_agent: user_agent.map(String::from),
                },
            );
        proptest::collection::vec(touchpoint, 0..16)
    }

    proptest! {
        #[test]
        fn each_interaction_once_oldest_first_whatever_the_delivery_order(
            journey in journey(),
            semilla in any::<u64>(),
        ) {
            let mut barajado = journey.clone();
            let mut estado = semilla;
            for i in (1..barajado.len()).rev() {
                estado = estado.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                barajado.swap(i, (estado >> 33) as usize % (i + 1));
            }
            let unicas = interacciones_unicas(&journey);
            prop_assert_eq!(&unicas, &interacciones_unicas(&barajado));
            let ids: HashSet<Uuid> = journey.iter().map(|tp| tp.interaccion_id).collect();
            prop_assert_eq!(unicas.len(), ids.len());
            prop_assert!(unicas.windows(2).all(|par| par[0].occurred_at <= par[1].occurred_at));
        }
    }
}
