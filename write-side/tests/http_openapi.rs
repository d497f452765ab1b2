//! The served OpenAPI document is the committed docs/openapi.json, so they never drift.
//! `ALPES_REGENERATE_OPENAPI=1 cargo test -p alpes-write --test http_openapi` rewrites the
//! file from the code.

mod http_support;

use std::path::PathBuf;

use serde_json::Value;

use http_support::{spawn_app, Backend};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");

    let path = committed_path();
    if std::env::var("ALPES_REGENERATE_OPENAPI").as_deref() == Ok("1") {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        eprintln!("regenerated {}", path.display());
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "{}: {error}; regenerate it with ALPES_REGENERATE_OPENAPI=1",
                path.display()
            )
        }))
        .unwrap();
    assert!(
        served == committed,
        "docs/openapi.json differs from the served document; regenerate it with \
         ALPES_REGENERATE_OPENAPI=1 cargo test -p alpes-write --test http_openapi"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_route_is_documented_with_its_problems() {
    let document = alpes_write::http::openapi::document();
    let json = serde_json::to_value(&document).unwrap();
    let paths = json["paths"].as_object().unwrap();
    for path in [
        "/api/v1/campanas",
        "/api/v1/campanas/{id}/activar",
        "/api/v1/campanas/{id}/pausar",
        "/api/v1/campanas/{id}/finalizar",
        "/api/v1/campanas/{id}/cancelar",
        "/api/v1/campanas/{id}/reglas-comision",
        "/api/v1/campanas/{id}/presupuesto/ampliar",
        "/api/v1/interacciones",
        "/api/v1/interacciones/{id}/descartar",
        "/api/v1/atribuciones/{id}/fraude",
        "/api/v1/comisiones/{id}/aprobar",
        "/api/v1/comisiones/{id}/pagar",
        "/api/v1/comisiones/{id}/revertir",
        "/api/v1/comisiones/lotes",
    ] {
        let operation = paths[path]
            .as_object()
            .and_then(|methods| methods.values().next())
            .unwrap_or_else(|| panic!("{path} is not documented"));
        let has_idempotency_key = operation["parameters"]
            .as_array()
            .is_some_and(|parameters| parameters.iter().any(|p| p["name"] == "Idempotency-Key"));
        assert!(has_idempotency_key, "{path} documents Idempotency-Key");
        let problems = operation["responses"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(status, _)| status.starts_with('4'))
            .all(|(_, response)| response["content"]["application/problem+json"].is_object());
        assert!(problems, "{path}: every 4xx is problem+json");
    }
}
