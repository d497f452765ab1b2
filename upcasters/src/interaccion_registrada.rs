//! `InteraccionRegistrada`: 1.0 → 1.1 → 2.0.
//!
//! 1.0 (the first tracking services): `id_campana`, `tipo_evento` as free text in any case
//! ("vista", "click", "compra", "lead", ...), a free-form `datos` map (`usuario`, `fuente`,
//! `dispositivo`, `timestamp` in epoch seconds, and on some purchases `ip`, `id_afiliado`,
//! `valor` + `moneda` (EUR when absent), `pedido`), `fecha_evento` as a naive Madrid local timestamp. The
//! interaction id was only the aggregate id.
//!
//! 1.1 (the second tracking API): `id_interaccion`, `tipo` in upper case (VIEW, CLICK,
//! ENGAGEMENT, LEAD, SIGNUP, PURCHASE), `marca_temporal` in epoch milliseconds,
//! `identidad_usuario` {id_usuario, id_anonimo, direccion_ip, agente_usuario},
//! `parametros_tracking` {fuente, medio, campania (the campaign id), contenido, termino,
//! id_afiliado (the partner)}, `elemento_objetivo` {url, id_elemento}, `contexto`
//! {url_pagina, url_referente, informacion_dispositivo}, `estado`, optional `id_correlacion`,
//! and on purchases optional `valor` {cantidad, moneda} and `id_pedido`.
//!
//! 2.0 is today's `InteraccionEvent::InteraccionRegistrada { id, datos }`: a typed `tipo`,
//! the journey (the correlation id when present, else the user or anonymous id, else the
//! interaction itself), context fields, `occurred_at` in UTC, and the IP only as a SHA-256
//! hash: raw IPs of old events are hashed here and never carried forward in clear.

use cqrs_es::persist::SerializedEvent;
use serde_json::{json, Map, Value};

use crate::legacy::{
    currency, from_epoch_millis, from_epoch_seconds, hash_ip, madrid_local_to_utc, minor_units,
    money, object, text, uuid_or_derived,
};

/// 1.0 free-text types to 1.1 codes; `None` for a type no version knows.
fn tipo_1_1(tipo_evento: &str) -> Option<&'static str> {
    Some(match tipo_evento.trim().to_lowercase().as_str() {
        "vista" | "view" | "impresion" | "impresión" => "VIEW",
        "click" | "clic" => "CLICK",
        "like" | "share" | "compartir" | "engagement" => "ENGAGEMENT",
        "lead" => "LEAD",
        "registro" | "signup" => "SIGNUP",
        "compra" | "purchase" => "PURCHASE",
        _ => return None,
    })
}

/// 1.1 codes to today's `TipoInteraccion`.
fn tipo_2_0(tipo: &str) -> Option<&'static str> {
    Some(match tipo.trim().to_uppercase().as_str() {
        "VIEW" => "Vista",
        "CLICK" => "Click",
        "ENGAGEMENT" | "LIKE" | "SHARE" => "Engagement",
        "LEAD" => "Lead",
        "SIGNUP" => "Registro",
        "PURCHASE" => "Compra",
        _ => return None,
    })
}

pub fn v1_0_to_v1_1(event: &SerializedEvent, old: &Map<String, Value>) -> Option<Value> {
    let empty = Map::new();
    let datos = object(old, "datos").unwrap_or(&empty);
    let tipo = tipo_1_1(&text(old, "tipo_evento")?)?;
    let campania = text(old, "id_campana")?;
    let occurred_at = match datos.get("timestamp").and_then(from_epoch_seconds) {
        Some(instant) => instant,
        None => madrid_local_to_utc(&text(old, "fecha_evento")?)?,
    };
    // Purchases of that era were all in euros when `moneda` is missing, as campaign budgets.
    let valor = match datos.get("valor") {
        Some(cantidad) => {
            let moneda = text(datos, "moneda").unwrap_or_else(|| "EUR".to_string());
            json!({ "cantidad": cantidad, "moneda": moneda })
        }
        None => Value::Null,
    };
    Some(json!({
        "id_interaccion": event.aggregate_id,
        "tipo": tipo,
        "marca_temporal": occurred_at.timestamp_millis(),
        "identidad_usuario": {
            "id_usuario": text(datos, "usuario"),
            "id_anonimo": null,
            "direccion_ip": text(datos, "ip"),
            "agente_usuario": null,
        },
        "parametros_tracking": {
            "fuente": text(datos, "fuente"),
            "medio": null,
            "campania": campania,
            "contenido": null,
            "termino": null,
            "id_afiliado": text(datos, "id_afiliado"),
        },
        "elemento_objetivo": null,
        "contexto": {
            "url_pagina": null,
            "url_referente": null,
            "informacion_dispositivo": text(datos, "dispositivo"),
        },
        "estado": "REGISTRADA",
        "id_correlacion": null,
        "valor": valor,
        "id_pedido": text(datos, "pedido"),
    }))
}

pub fn v1_1_to_v2_0(event: &SerializedEvent, old: &Map<String, Value>) -> Option<Value> {
    let empty = Map::new();
    let identidad = object(old, "identidad_usuario").unwrap_or(&empty);
    let tracking = object(old, "parametros_tracking").unwrap_or(&empty);
    let contexto = object(old, "contexto").unwrap_or(&empty);

    let id = uuid::Uuid::parse_str(&text(old, "id_interaccion").unwrap_or_default())
        .or_else(|_| uuid::Uuid::parse_str(&event.aggregate_id))
        .ok()?;
    let tipo = tipo_2_0(&text(old, "tipo")?)?;
    let campana_id = uuid::Uuid::parse_str(&text(tracking, "campania")?).ok()?;
    let occurred_at = from_epoch_millis(old.get("marca_temporal")?)?;
    let partner_id = text(tracking, "id_afiliado").map(|partner| uuid_or_derived(&partner));
    let journey_id = text(old, "id_correlacion")
        .or_else(|| text(identidad, "id_usuario"))
        .or_else(|| text(identidad, "id_anonimo"))
        .map(|key| uuid_or_derived(&key))
        .unwrap_or(id);
    let valor = match old.get("valor").and_then(Value::as_object) {
        Some(valor) => {
            let amount = minor_units(valor.get("cantidad")?)?;
            let code = currency(&text(valor, "moneda")?)?;
            money(amount, &code)
        }
        None => Value::Null,
    };
    Some(json!({
        "id": id,
        "datos": {
            "tipo": tipo,
            "campana_id": campana_id,
            "partner_id": partner_id,
            "journey_id": journey_id,
            "occurred_at": occurred_at,
            "valor": valor,
            "pedido_id": text(old, "id_pedido"),
            "contexto": {
                "usuario": {
                    "usuario_id": text(identidad, "id_usuario"),
                    "anonimo_id": text(identidad, "id_anonimo"),
                    "ip_hash": text(identidad, "direccion_ip").map(|ip| hash_ip(&ip)),
                    "user_agent": text(identidad, "agente_usuario"),
                },
                "utm": {
                    "source": text(tracking, "fuente"),
                    "medium": text(tracking, "medio"),
                    "campaign": text(tracking, "campania"),
                    "content": text(tracking, "contenido"),
                    "term": text(tracking, "termino"),
                },
                "pagina_url": text(contexto, "url_pagina"),
                "referente_url": text(contexto, "url_referente"),
                "elemento_objetivo": elemento_objetivo(old),
                "dispositivo": dispositivo(contexto),
            }
        }
    }))
}

/// The target element as one string: its element id, else its url.
fn elemento_objetivo(old: &Map<String, Value>) -> Option<String> {
    let elemento = object(old, "elemento_objetivo")?;
    text(elemento, "id_elemento").or_else(|| text(elemento, "url"))
}

/// Device information was a string in some clients and an object in others.
fn dispositivo(contexto: &Map<String, Value>) -> Option<String> {
    match contexto.get("informacion_dispositivo")? {
        Value::Object(info) if !info.is_empty() => Some(Value::Object(info.clone()).to_string()),
        _ => text(contexto, "informacion_dispositivo"),
    }
}
