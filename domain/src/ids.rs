//! Ids derived from other ids (UUID v5), so that a command sent twice for the same cause
//! targets the same aggregate and is recognised as already done.

use uuid::Uuid;

/// Namespace of every id Alpes derives.
pub const ALPES_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_3a52_9d0e_4b8a_a1e4_5b7c_2d90_e13f);

/// A v5 id under [`ALPES_NAMESPACE`] of `kind` and the given parts.
pub fn derive(kind: &str, parts: &[&Uuid]) -> Uuid {
    let mut name = Vec::with_capacity(kind.len() + parts.len() * 17);
    name.extend_from_slice(kind.as_bytes());
    for part in parts {
        name.push(b':');
        name.extend_from_slice(part.as_bytes());
    }
    Uuid::new_v5(&ALPES_NAMESPACE, &name)
}

/// The Atribucion of a conversion is derived from the purchase (or lead) interaction.
pub fn atribucion_id(conversion_interaccion_id: &Uuid) -> Uuid {
    derive("atribucion", &[conversion_interaccion_id])
}

/// There is one Comision per (conversion, partner).
pub fn comision_id(conversion_interaccion_id: &Uuid, partner_id: &Uuid) -> Uuid {
    derive("comision", &[conversion_interaccion_id, partner_id])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let conversion = Uuid::from_u128(1);
        let partner = Uuid::from_u128(2);
        assert_eq!(
            comision_id(&conversion, &partner),
            comision_id(&conversion, &partner)
        );
        assert_ne!(
            comision_id(&conversion, &partner),
            comision_id(&partner, &conversion)
        );
        assert_ne!(atribucion_id(&conversion), derive("otro", &[&conversion]));
    }
}
