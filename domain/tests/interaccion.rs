//! The Interaccion aggregate's rules, one test per rule, as given/when/then.

use alpes_domain::interaccion::{
    ContextoInteraccion, DatosInteraccion, EstadoInteraccion, IdentidadUsuario, Interaccion,
    InteraccionCommand, InteraccionError, InteraccionEvent, ParametrosUtm,
};
use alpes_domain::{Currency, ErrorKind, Money, RuleViolation, TipoInteraccion};
use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use uuid::Uuid;

type InteraccionTest = TestFramework<Interaccion>;

const SHA256_HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn interaccion_id() -> Uuid {
    Uuid::from_u128(0x1000)
}

fn occurred_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 10, 30, 0).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn click() -> DatosInteraccion {
    DatosInteraccion {
        tipo: TipoInteraccion::Click,
        campana_id: Uuid::from_u128(0xCA),
        partner_id: Some(Uuid::from_u128(0xBA)),
        journey_id: Uuid::from_u128(0x70),
        occurred_at: occurred_at(),
        valor: None,
        pedido_id: None,
        contexto: ContextoInteraccion {
            usuario: IdentidadUsuario {
                usuario_id: None,
                anonimo_id: Some("anon-42".to_string()),
                ip_hash: Some(SHA256_HEX.to_string()),
                user_agent: Some("Mozilla/5.0".to_string()),
            },
            utm: ParametrosUtm {
                source: Some("instagram".to_string()),
                medium: Some("social".to_string()),
                ..ParametrosUtm::default()
            },
            pagina_url: Some("https://tienda.example/zapatillas".to_string()),
            ..ContextoInteraccion::default()
        },
    }
}

fn compra() -> DatosInteraccion {
    DatosInteraccion {
        tipo: TipoInteraccion::Compra,
        valor: Some(eur(12_990)),
        pedido_id: Some("PED-2025-0001".to_string()),
        ..click()
    }
}

fn lead() -> DatosInteraccion {
    DatosInteraccion {
        tipo: TipoInteraccion::Lead,
        ..click()
    }
}

fn registrar(datos: DatosInteraccion) -> InteraccionCommand {
    InteraccionCommand::RegistrarInteraccion {
        id: interaccion_id(),
        datos,
    }
}

fn registrada(datos: DatosInteraccion) -> InteraccionEvent {
    InteraccionEvent::InteraccionRegistrada {
        id: interaccion_id(),
        datos,
    }
}

fn descartar(motivo: &str) -> InteraccionCommand {
    InteraccionCommand::DescartarInteraccion {
        motivo: motivo.to_string(),
    }
}

fn descartada(motivo: &str) -> InteraccionEvent {
    InteraccionEvent::InteraccionDescartada {
        motivo: motivo.to_string(),
    }
}

fn con_ip_hash(ip_hash: &str) -> DatosInteraccion {
    let mut datos = click();
    datos.contexto.usuario.ip_hash = Some(ip_hash.to_string());
    datos
}

fn assert_registrar_rejected(datos: DatosInteraccion, esperado: InteraccionError) {
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(registrar(datos))
        .then_expect_error(esperado);
}

// RegistrarInteraccion

#[test]
fn a_valid_interaccion_is_registered() {
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(registrar(click()))
        .then_expect_events(vec![registrada(click())]);
}

#[test]
fn a_compra_with_valor_and_pedido_id_is_registered() {
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(registrar(compra()))
        .then_expect_events(vec![registrada(compra())]);
}

#[test]
fn lead_and_registro_may_have_no_valor() {
    let registro = DatosInteraccion {
        tipo: TipoInteraccion::Registro,
        ..click()
    };
    for datos in [lead(), registro] {
        InteraccionTest::with(())
            .given_no_previous_events()
            .when(registrar(datos.clone()))
            .then_expect_events(vec![registrada(datos)]);
    }
}

#[test]
fn a_lead_may_have_valor_and_pedido_id() {
    let datos = DatosInteraccion {
        valor: Some(eur(500)),
        pedido_id: Some("FORM-7".to_string()),
        ..lead()
    };
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(registrar(datos.clone()))
        .then_expect_events(vec![registrada(datos)]);
}

#[test]
fn organic_traffic_has_no_partner() {
    let datos = DatosInteraccion {
        partner_id: None,
        ..click()
    };
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(registrar(datos.clone()))
        .then_expect_events(vec![registrada(datos)]);
}

#[test]
fn registrar_interaccion_twice_is_already_done() {
    InteraccionTest::with(())
        .given(vec![registrada(click())])
        .when(registrar(click()))
        .then_expect_events(vec![]);
}

#[test]
fn registrar_interaccion_again_is_already_done_even_with_other_or_invalid_datos() {
    let invalida = DatosInteraccion {
        valor: None,
        ..compra()
    };
    InteraccionTest::with(())
        .given(vec![registrada(click())])
        .when(registrar(invalida))
        .then_expect_events(vec![]);
}

#[test]
fn registrar_interaccion_does_not_revive_a_descartada_one() {
    InteraccionTest::with(())
        .given(vec![registrada(click()), descartada("fraude")])
        .when(registrar(click()))
        .then_expect_events(vec![]);
}

#[test]
fn compra_requires_valor() {
    let datos = DatosInteraccion {
        valor: None,
        ..compra()
    };
    assert_registrar_rejected(datos, InteraccionError::CompraSinValor);
}

#[test]
fn compra_valor_must_be_positive() {
    let datos = DatosInteraccion {
        valor: Some(eur(0)),
        ..compra()
    };
    assert_registrar_rejected(
        datos,
        InteraccionError::ValorCompraNoPositivo { valor: eur(0) },
    );
}

#[test]
fn no_valor_may_be_negative() {
    for base in [compra(), lead(), click()] {
        let datos = DatosInteraccion {
            valor: Some(eur(-1)),
            pedido_id: None,
            ..base
        };
        assert_registrar_rejected(datos, InteraccionError::ValorNegativo { valor: eur(-1) });
    }
}

#[test]
fn compra_requires_a_non_blank_pedido_id() {
    for pedido_id in [None, Some(""), Some("   ")] {
        let datos = DatosInteraccion {
            pedido_id: pedido_id.map(str::to_string),
            ..compra()
        };
        assert_registrar_rejected(datos, InteraccionError::CompraSinPedido);
    }
}

#[test]
fn an_interaccion_that_is_not_a_conversion_has_no_pedido_id() {
    for tipo in [
        TipoInteraccion::Vista,
        TipoInteraccion::Click,
        TipoInteraccion::Engagement,
    ] {
        let datos = DatosInteraccion {
            tipo,
            pedido_id: Some("PED-1".to_string()),
            ..click()
        };
        assert_registrar_rejected(datos, InteraccionError::PedidoEnNoConversion { tipo });
    }
}

#[test]
fn text_fields_that_are_present_must_not_be_blank() {
    type Setter = fn(&mut DatosInteraccion, Option<String>);
    let campos: [(&str, Setter); 14] = [
        ("pedido_id", |d, v| d.pedido_id = v),
        ("usuario.usuario_id", |d, v| {
            d.contexto.usuario.usuario_id = v
        }),
        ("usuario.anonimo_id", |d, v| {
            d.contexto.usuario.anonimo_id = v
        }),
        ("usuario.ip_hash", |d, v| d.contexto.usuario.ip_hash = v),
        ("usuario.user_agent", |d, v| {
            d.contexto.usuario.user_agent = v
        }),
        ("utm.source", |d, v| d.contexto.utm.source = v),
        ("utm.medium", |d, v| d.contexto.utm.medium = v),
        ("utm.campaign", |d, v| d.contexto.utm.campaign = v),
        ("utm.content", |d, v| d.contexto.utm.content = v),
        ("utm.term", |d, v| d.contexto.utm.term = v),
        ("pagina_url", |d, v| d.contexto.pagina_url = v),
        ("referente_url", |d, v| d.contexto.referente_url = v),
        ("elemento_objetivo", |d, v| d.contexto.elemento_objetivo = v),
        ("dispositivo", |d, v| d.contexto.dispositivo = v),
    ];
    for (campo, set) in campos {
        for blank in ["", " \t\n"] {
            // A Lead may carry a pedido_id, so every field is allowed to be present.
            let mut datos = lead();
            set(&mut datos, Some(blank.to_string()));
            assert_registrar_rejected(datos, InteraccionError::CampoVacio { campo });
        }
    }
}

#[test]
fn text_fields_may_be_missing() {
    let datos = DatosInteraccion {
        contexto: ContextoInteraccion::default(),
        ..click()
    };
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(registrar(datos.clone()))
        .then_expect_events(vec![registrada(datos)]);
}

#[test]
fn the_ip_must_arrive_hashed() {
    for ip in [
        "192.168.1.10",
        "8.8.8.8",
        " 10.0.0.1 ",
        "10.0.0.1:8080",
        "010.000.000.001",
        "::1",
        "2001:db8::1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "[2001:db8::1]:443",
        "fe80::1%eth0",
        "::ffff:192.0.2.128",
    ] {
        assert_registrar_rejected(con_ip_hash(ip), InteraccionError::IpSinHashear);
    }
}

#[test]
fn ip_hash_must_be_a_hex_digest() {
    let demasiado_largo = "a".repeat(129);
    for ip_hash in [
        "no-es-un-hash",
        "abc123",
        // 31 hex digits: shorter than any digest.
        "0123456789abcdef0123456789abcde",
        // 64 characters, one of them not hex.
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g",
        demasiado_largo.as_str(),
    ] {
        assert_registrar_rejected(con_ip_hash(ip_hash), InteraccionError::IpHashInvalido);
    }
}

#[test]
fn ip_hash_accepts_md5_to_sha512_digests_in_any_case() {
    let sha512 = "ab".repeat(64);
    for ip_hash in [
        "d41d8cd98f00b204e9800998ecf8427e",
        SHA256_HEX,
        "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
        sha512.as_str(),
    ] {
        let datos = con_ip_hash(ip_hash);
        InteraccionTest::with(())
            .given_no_previous_events()
            .when(registrar(datos.clone()))
            .then_expect_events(vec![registrada(datos)]);
    }
}

// DescartarInteraccion

#[test]
fn descartar_interaccion_discards_a_registrada_one() {
    InteraccionTest::with(())
        .given(vec![registrada(compra())])
        .when(descartar("fraude: clics desde la misma IP"))
        .then_expect_events(vec![descartada("fraude: clics desde la misma IP")]);
}

#[test]
fn descartar_interaccion_that_does_not_exist_is_no_existe() {
    InteraccionTest::with(())
        .given_no_previous_events()
        .when(descartar("fraude"))
        .then_expect_error(InteraccionError::NoExiste);
}

#[test]
fn descartar_interaccion_again_is_already_done() {
    InteraccionTest::with(())
        .given(vec![registrada(click()), descartada("fraude")])
        .when(descartar("fraude"))
        .then_expect_events(vec![]);
}

#[test]
fn descartar_interaccion_requires_a_motivo() {
    for motivo in ["", "   "] {
        InteraccionTest::with(())
            .given(vec![registrada(click())])
            .when(descartar(motivo))
            .then_expect_error(InteraccionError::MotivoVacio);
    }
}

// What the saga reads from the state

#[test]
fn the_state_exposes_what_the_saga_needs() {
    let mut interaccion = Interaccion::default();
    assert_eq!(interaccion.estado(), EstadoInteraccion::Nueva);
    assert_eq!(interaccion.tipo(), None);

    interaccion.apply(registrada(compra()));
    assert_eq!(interaccion.estado(), EstadoInteraccion::Registrada);
    assert_eq!(interaccion.id(), Some(interaccion_id()));
    assert_eq!(interaccion.tipo(), Some(TipoInteraccion::Compra));
    assert_eq!(interaccion.campana_id(), Some(Uuid::from_u128(0xCA)));
    assert_eq!(interaccion.partner_id(), Some(Uuid::from_u128(0xBA)));
    assert_eq!(interaccion.journey_id(), Some(Uuid::from_u128(0x70)));
    assert_eq!(interaccion.occurred_at(), Some(occurred_at()));
    assert_eq!(interaccion.valor(), Some(eur(12_990)));
    assert_eq!(interaccion.pedido_id(), Some("PED-2025-0001"));
    assert_eq!(interaccion.datos(), Some(&compra()));

    interaccion.apply(descartada("fraude"));
    assert_eq!(interaccion.estado(), EstadoInteraccion::Descartada);
    assert_eq!(interaccion.motivo_descarte(), Some("fraude"));
    assert_eq!(interaccion.campana_id(), Some(Uuid::from_u128(0xCA)));
}

#[test]
fn the_state_survives_a_snapshot() {
    let mut interaccion = Interaccion::default();
    interaccion.apply(registrada(compra()));
    let json = serde_json::to_value(&interaccion).unwrap();
    let restaurada: Interaccion = serde_json::from_value(json).unwrap();
    assert_eq!(restaurada, interaccion);
}

#[test]
fn every_error_is_classified_for_the_client() {
    let casos = [
        (InteraccionError::NoExiste, "NoExiste", ErrorKind::NotFound),
        (
            InteraccionError::CompraSinValor,
            "CompraSinValor",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::ValorCompraNoPositivo { valor: eur(0) },
            "ValorCompraNoPositivo",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::ValorNegativo { valor: eur(-1) },
            "ValorNegativo",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::CompraSinPedido,
            "CompraSinPedido",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::PedidoEnNoConversion {
                tipo: TipoInteraccion::Click,
            },
            "PedidoEnNoConversion",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::CampoVacio {
                campo: "utm.source",
            },
            "CampoVacio",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::IpSinHashear,
            "IpSinHashear",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::IpHashInvalido,
            "IpHashInvalido",
            ErrorKind::InvalidInput,
        ),
        (
            InteraccionError::MotivoVacio,
            "MotivoVacio",
            ErrorKind::InvalidInput,
        ),
    ];
    for (error, code, kind) in casos {
        assert_eq!(error.code(), code);
        assert_eq!(error.kind(), kind, "{code}");
    }
}
