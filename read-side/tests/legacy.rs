//! Events of old schema versions, inserted as the first services stored them, build the
//! views like today's: the projectors read them upcast.

mod support;

use alpes_test_support::legacy::insert_fixture;
use uuid::Uuid;

use support::Env;

const CAMPANA: &str = "0b7e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
const COMPRA: &str = "5f0c6a2e-8d1b-4c3a-9e7f-1a2b3c4d5e6f";
const CLICK_1_1: &str = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";

on_both_backends!(old_events_build_the_views);

async fn old_events_build_the_views(env: Env) {
    for fixture in [
        "campana_creada_1_0.json",
        "interaccion_registrada_1_0_click.json",
        "interaccion_registrada_1_0_compra.json",
        "interaccion_registrada_1_1.json",
        "comision_reservada_1_0.json",
    ] {
        insert_fixture(&env.events_url, fixture).await;
    }
    env.project_everything().await;

    let campana = env
        .views
        .campana(Uuid::parse_str(CAMPANA).unwrap())
        .await
        .unwrap()
        .expect("the 1.0 campaign is in the view");
    assert_eq!(campana.nombre, "Verano 2024");
    assert_eq!(campana.estado, "Borrador");
    assert_eq!(
        campana.canales.0,
        vec!["instagram".to_string(), "tiktok".to_string()]
    );

    let compra = env
        .views
        .interaccion(Uuid::parse_str(COMPRA).unwrap())
        .await
        .unwrap()
        .expect("the 1.0 purchase is in the view");
    assert_eq!(compra.tipo, "Compra");
    assert_eq!(compra.valor, Some(5_990));
    assert_eq!(compra.pedido_id.as_deref(), Some("PED-2024-0001"));

    let click = env
        .views
        .interaccion(Uuid::parse_str(CLICK_1_1).unwrap())
        .await
        .unwrap()
        .expect("the 1.1 click is in the view");
    assert_eq!(click.tipo, "Click");
    assert_eq!(
        click.journey_id,
        Uuid::parse_str("4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8").unwrap()
    );
}
