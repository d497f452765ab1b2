//! Every view after the saga's scenarios, read through GraphQL over HTTP from the real
//! server (REST commands in, saga and projectors running, GraphQL out), on SQLite and
//! PostgreSQL: a commission reserved, a conversion nobody is credited for, a budget too
//! small, and fraud reported after attribution.

mod graphql_support;

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use graphql_support::{nodes, TestApp};

on_both_stores!(&[] =>
    every_view_after_the_saga_scenarios,
);

const JOURNEY: &str = r#"query($id: UUID!) {
  journey(id: $id) {
    id estado campanaId totalInteracciones conversiones creditos comisionesReservadas descartadas
    pasos { n paso evento comando resultado }
    interacciones { id tipo descartada }
  }
}"#;

async fn journey_in(app: &TestApp, id: Uuid, estados: &[&str]) -> Value {
    app.eventually(
        &format!("journey {id} in {estados:?}"),
        JOURNEY,
        json!({"id": id}),
        |data| {
            data["journey"]["estado"]
                .as_str()
                .is_some_and(|estado| estados.contains(&estado))
        },
    )
    .await["journey"]
        .clone()
}

async fn every_view_after_the_saga_scenarios(app: &TestApp) {
    // Happy path: a partner's click, then a purchase of 59.90: 5.99 reserved.
    let verano = app.campana_activa("Verano", 1_000_000).await;
    let (p1, j1) = (Uuid::new_v4(), Uuid::new_v4());
    app.click(verano, j1, Some(p1)).await;
    let compra1 = app.compra(verano, j1, 5_990).await;
    // Not attributed: a purchase with no partner's touchpoint before it.
    let j2 = Uuid::new_v4();
    let compra2 = app.compra(verano, j2, 2_000).await;
    // Budget too small: 1.00 EUR cannot hold a 5.99 commission.
    let pequena = app.campana_activa("Pequeña", 100).await;
    let (p2, j3) = (Uuid::new_v4(), Uuid::new_v4());
    app.click(pequena, j3, Some(p2)).await;
    app.compra(pequena, j3, 5_990).await;
    // Fraud reverted: attributed (10.00 reserved), then reported.
    let (p3, j4) = (Uuid::new_v4(), Uuid::new_v4());
    app.click(verano, j4, Some(p3)).await;
    let compra4 = app.compra(verano, j4, 10_000).await;

    let completed = journey_in(app, j1, &["completed"]).await;
    journey_in(app, j4, &["completed"]).await;
    let report = json!({"motivo": "tarjeta robada", "reportado_por": "equipo-riesgo"});
    app.post(&format!("/api/v1/atribuciones/{compra4}/fraude"), &report)
        .await;

    // Journeys: the saga log of each scenario.
    assert_eq!(completed["campanaId"], json!(verano));
    assert_eq!(completed["totalInteracciones"], 2);
    assert_eq!(completed["comisionesReservadas"], 1);
    let eventos: Vec<&str> = completed["pasos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|paso| paso["evento"].as_str().unwrap())
        .collect();
    assert!(eventos.contains(&"ConversionAtribuida"), "{eventos:?}");
    assert!(eventos.contains(&"ComisionReservada"), "{eventos:?}");
    assert_eq!(completed["interacciones"].as_array().unwrap().len(), 2);
    let not_attributed = journey_in(app, j2, &["not_attributed"]).await;
    assert_eq!(not_attributed["comisionesReservadas"], 0);
    let budget = journey_in(app, j3, &["reverted"]).await;
    assert_eq!(budget["comisionesReservadas"], 0, "{budget:#}");
    journey_in(app, j4, &["reverted"]).await;
    let fraud = app
        .eventually(
            "the fraud's interactions discarded",
            JOURNEY,
            json!({"id": j4}),
            |data| data["journey"]["descartadas"] == 2,
        )
        .await["journey"]
        .clone();
    assert!(
        fraud["interacciones"]
            .as_array()
            .unwrap()
            .iter()
            .all(|interaccion| interaccion["descartada"] == true),
        "{fraud:#}"
    );

    // Attributions: one per purchase, in the state its scenario left it.
    let data = app
        .graphql(
            r#"query($verano: UUID!, $pequena: UUID!, $p1: UUID!) {
              verano: atribuciones(filter: {campanaId: $verano}) { edges { node {
                conversionId estado modelo motivoNoAtribucion motivoReversion fraudeOrigen
                fraudeReportadoPor valor { amount currency } creditos { partnerId monto { amount } }
                campana { nombre } } } }
              pequena: atribuciones(filter: {campanaId: $pequena}) { edges { node {
                estado motivoReversion creditos { partnerId } } } }
              revertidas: atribuciones(filter: {estado: REVERTIDA}) { edges { node { conversionId } } }
              deP1: atribuciones(filter: {partnerId: $p1}) { edges { node { conversionId } } }
            }"#,
            json!({"verano": verano, "pequena": pequena, "p1": p1}),
        )
        .await;
    let by_conversion = |id: Uuid| -> Value {
        nodes(&data["verano"])
            .into_iter()
            .find(|node| node["conversionId"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no attribution of {id}: {data:#}"))
    };
    let happy = by_conversion(compra1);
    assert_eq!(happy["estado"], "Atribuida");
    assert_eq!(happy["modelo"], "UltimoClick");
    assert_eq!(
        happy["valor"],
        json!({"amount": "59.90", "currency": "EUR"})
    );
    assert_eq!(happy["creditos"][0]["partnerId"], json!(p1));
    assert_eq!(happy["creditos"][0]["monto"]["amount"], "59.90");
    assert_eq!(happy["campana"]["nombre"], "Verano");
    assert_eq!(by_conversion(compra2)["estado"], "NoAtribuida");
    assert_eq!(
        by_conversion(compra2)["motivoNoAtribucion"],
        "SinTouchpointEnVentana"
    );
    let reported = by_conversion(compra4);
    assert_eq!(reported["estado"], "Revertida");
    assert_eq!(reported["motivoReversion"], "Fraude");
    assert_eq!(reported["fraudeOrigen"], "Reportado");
    assert_eq!(reported["fraudeReportadoPor"], "equipo-riesgo");
    let small = nodes(&data["pequena"]);
    assert_eq!(small.len(), 1);
    assert_eq!(small[0]["estado"], "Revertida");
    assert_eq!(small[0]["motivoReversion"], "PresupuestoInsuficiente");
    assert_eq!(nodes(&data["revertidas"]).len(), 2);
    assert_eq!(nodes(&data["deP1"]).len(), 1);

    // Commissions and partner balances.
    let data = app
        .eventually(
            "the fraud's commission reverted",
            r#"query($p1: UUID!, $p3: UUID!) {
              p1: partner(id: $p1) {
                saldos { moneda comisiones reservado { amount currency } revertido { amount } }
                comisiones { edges { cursor node { estado monto { amount currency } partnerId
                  campana { nombre reservado { amount } } } } pageInfo { hasNextPage } }
              }
              p3: partner(id: $p3) { saldos { reservado { amount } revertido { amount } }
                comisiones(filter: {estado: REVERTIDA}) { edges { node { estado motivoReversion } } } }
              reservadas: comisiones(filter: {estado: RESERVADA}) { edges { node { partnerId } } }
              nadie: partner(id: "00000000-0000-0000-0000-000000000001") { id }
            }"#,
            json!({"p1": p1, "p3": p3}),
            |data| nodes(&data["p3"]["comisiones"]).len() == 1,
        )
        .await;
    assert_eq!(
        data["p1"]["saldos"],
        json!([{"moneda": "EUR", "comisiones": 1,
                "reservado": {"amount": "5.99", "currency": "EUR"},
                "revertido": {"amount": "0.00"}}])
    );
    let p1_comisiones = nodes(&data["p1"]["comisiones"]);
    assert_eq!(p1_comisiones.len(), 1);
    assert_eq!(p1_comisiones[0]["estado"], "Reservada");
    assert_eq!(
        p1_comisiones[0]["monto"],
        json!({"amount": "5.99", "currency": "EUR"})
    );
    assert_eq!(p1_comisiones[0]["campana"]["nombre"], "Verano");
    assert_eq!(data["p1"]["comisiones"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(
        data["p3"]["saldos"][0],
        json!({"reservado": {"amount": "0.00"}, "revertido": {"amount": "10.00"}})
    );
    let motivo = &nodes(&data["p3"]["comisiones"])[0]["motivoReversion"];
    assert!(
        motivo.as_str().unwrap().contains("tarjeta robada"),
        "{motivo}"
    );
    let reservadas: Vec<&Value> = nodes(&data["reservadas"]);
    assert_eq!(reservadas.len(), 1, "{data:#}");
    assert_eq!(data["nadie"], Value::Null);

    // Marketing: the campaigns, their statistics and the dashboard's totals.
    let data = app
        .eventually(
            "the fraud's budget released",
            r#"query($verano: UUID!, $pequena: UUID!) {
              verano: campana(id: $verano) { nombre estado tipo presupuesto { amount currency }
                reservado { amount } disponible { amount } reglasResumen
                estadisticas { clicks compras descartadas conversiones conversionesAtribuidas
                  conversionesNoAtribuidas conversionesRevertidas fraudesDetectados
                  ingresosAtribuidos { amount } comisionesReservadas montoReservado { amount }
                  comisionesRevertidas montoRevertido { amount } costo { amount }
                  ratios { cpc { amount } tasaConversionBps } } }
              pequena: estadisticasCampana(campanaId: $pequena) { reservasInsuficientes
                presupuesto { amount } presupuestoDisponible { amount } conversionesRevertidas }
              activas: campanas(filter: {estado: ACTIVA, nombreContiene: "verano"}) {
                edges { node { id } } }
              resumenMarketing { moneda campanas clicks presupuesto { amount }
                campanasPorEstado { estado campanas } }
              estadisticasComisiones { campanas reservadas monto_reservado: montoReservado { amount }
                revertidas montoRevertido { amount } }
            }"#,
            json!({"verano": verano, "pequena": pequena}),
            |data| data["verano"]["reservado"]["amount"] == "5.99",
        )
        .await;
    let verano_view = &data["verano"];
    assert_eq!(verano_view["nombre"], "Verano");
    assert_eq!(verano_view["estado"], "Activa");
    assert_eq!(
        verano_view["presupuesto"],
        json!({"amount": "10000.00", "currency": "EUR"})
    );
    assert_eq!(verano_view["disponible"]["amount"], "9994.01");
    let stats = &verano_view["estadisticas"];
    assert_eq!(
        stats["clicks"], 1,
        "the fraud's click is discarded: {stats:#}"
    );
    assert_eq!(stats["compras"], 2, "{stats:#}");
    assert_eq!(stats["descartadas"], 2, "{stats:#}");
    assert_eq!(stats["conversionesAtribuidas"], 1, "{stats:#}");
    assert_eq!(stats["conversionesNoAtribuidas"], 1, "{stats:#}");
    assert_eq!(stats["conversionesRevertidas"], 1, "{stats:#}");
    assert_eq!(stats["fraudesDetectados"], 1, "{stats:#}");
    assert_eq!(stats["ingresosAtribuidos"]["amount"], "59.90", "{stats:#}");
    assert_eq!(stats["comisionesReservadas"], 1);
    assert_eq!(stats["montoReservado"]["amount"], "5.99");
    assert_eq!(stats["comisionesRevertidas"], 1);
    assert_eq!(stats["montoRevertido"]["amount"], "10.00");
    assert_eq!(stats["costo"]["amount"], "5.99");
    assert_eq!(stats["ratios"]["cpc"]["amount"], "5.99");
    let pequena_stats = &data["pequena"];
    assert_eq!(
        pequena_stats["reservasInsuficientes"], 1,
        "{pequena_stats:#}"
    );
    assert_eq!(pequena_stats["presupuestoDisponible"]["amount"], "1.00");
    assert_eq!(pequena_stats["conversionesRevertidas"], 1);
    assert_eq!(nodes(&data["activas"]), vec![&json!({"id": verano})]);
    let resumen = &data["resumenMarketing"][0];
    assert_eq!(resumen["moneda"], "EUR");
    assert_eq!(resumen["campanas"], 2);
    assert_eq!(resumen["presupuesto"]["amount"], "10001.00");
    assert_eq!(
        resumen["campanasPorEstado"],
        json!([{"estado": "Activa", "campanas": 2}])
    );
    let totales = &data["estadisticasComisiones"][0];
    assert_eq!(totales["reservadas"], 1, "{totales:#}");
    assert_eq!(totales["revertidas"], 1, "{totales:#}");

    // Tracking: interactions (discarded ones flagged) and the daily statistics.
    let today = Utc::now().date_naive();
    let data = app
        .graphql(
            r#"query($verano: UUID!, $j4: UUID!, $today: NaiveDate!) {
              todas: interacciones(filter: {campanaId: $verano}) { edges { node { id tipo } } }
              descartadas: interacciones(filter: {campanaId: $verano, descartada: true}) {
                edges { node { journeyId motivoDescarte } } }
              compras: interacciones(filter: {campanaId: $verano, tipo: COMPRA}) {
                edges { node { valor { amount currency } pedidoId } } }
              delJourney: interacciones(filter: {journeyId: $j4}) { edges { node { id } } }
              diarias: estadisticasDiarias(campanaId: $verano, desde: $today, hasta: $today) {
                dia tipo registradas descartadas validas valor { amount } }
            }"#,
            json!({"verano": verano, "j4": j4, "today": today}),
        )
        .await;
    assert_eq!(nodes(&data["todas"]).len(), 5, "{data:#}");
    let descartadas = nodes(&data["descartadas"]);
    assert_eq!(descartadas.len(), 2);
    assert!(descartadas
        .iter()
        .all(|node| node["journeyId"] == json!(j4)));
    assert_eq!(nodes(&data["compras"]).len(), 3);
    assert_eq!(nodes(&data["delJourney"]).len(), 2);
    let diarias = data["diarias"].as_array().unwrap();
    let compras_hoy = diarias
        .iter()
        .find(|row| row["tipo"] == "Compra")
        .unwrap_or_else(|| panic!("no purchases today: {data:#}"));
    assert_eq!(compras_hoy["registradas"], 3);
    assert_eq!(compras_hoy["descartadas"], 1);
    assert_eq!(compras_hoy["validas"], 2);
    assert_eq!(compras_hoy["valor"]["amount"], "79.90");

    // The projections: all five, caught up.
    let data = app
        .eventually(
            "every projection caught up",
            "{ projections { name position lag status } }",
            json!({}),
            |data| {
                data["projections"]
                    .as_array()
                    .is_some_and(|all| all.iter().all(|p| p["lag"] == 0))
            },
        )
        .await;
    let names: Vec<&str> = data["projections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|projection| projection["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["marketing", "tracking", "atribucion", "comisiones", "saga"]
    );
    let head = app.head().await.to_string();
    assert!(
        data["projections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|projection| projection["status"] == "caught up"
                && projection["position"] == json!(head)),
        "{data:#} (head {head})"
    );
}
