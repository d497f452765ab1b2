//! The GraphQL API's contract over HTTP against the real server, on SQLite and PostgreSQL:
//! Relay pagination on keyset cursors, filters, clear errors for bad arguments, depth and
//! complexity limits, batched loads of nested objects (no N+1: every response counts its
//! calls of the views' query API), and the consistency token.

mod graphql_support;

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{json, Value};
use uuid::Uuid;

use graphql_support::{errors_of, nodes, TestApp};

on_both_stores!(&[] =>
    pagination_walks_every_row_once_while_rows_arrive,
    bad_arguments_are_clear_errors,
    nested_objects_of_a_list_load_in_one_query_each,
    get_opens_the_graphiql_playground,
);

mod limited {
    use super::*;

    on_both_stores!(&[
        "--graphql-max-depth", "5",
        "--graphql-max-complexity", "200",
        "--consistency-timeout-ms", "300",
    ] =>
        depth_and_complexity_limits_are_clear_errors,
        a_consistency_token_waits_for_the_views,
    );
}

const PAGE: &str = r#"query($campana: UUID!, $after: String) {
  interacciones(filter: {campanaId: $campana}, first: 7, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

async fn clicks(app: &TestApp, campana: Uuid, count: usize) -> Vec<Uuid> {
    let batch: Vec<Value> = (0..count)
        .map(|_| {
            json!({"tipo": "Click", "campana_id": campana, "journey_id": Uuid::new_v4(),
                   "partner_id": Uuid::new_v4()})
        })
        .collect();
    let registered = app.post("/api/v1/interacciones", &json!(batch)).await;
    registered["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn pagination_walks_every_row_once_while_rows_arrive(app: &TestApp) {
    let campana = Uuid::new_v4();
    let registered: HashSet<Uuid> = clicks(app, campana, 25).await.into_iter().collect();
    let count = json!({"campana": campana});
    app.eventually(
        "25 interactions in the view",
        r#"query($campana: UUID!) { interacciones(filter: {campanaId: $campana}, first: 100) {
            edges { cursor } } }"#,
        count,
        |data| nodes(&data["interacciones"]).len() == 25,
    )
    .await;

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = app
            .graphql(PAGE, json!({"campana": campana, "after": after}))
            .await;
        let connection = &data["interacciones"];
        let edges = connection["edges"].as_array().unwrap();
        for edge in edges {
            seen.push(
                edge["node"]["id"]
                    .as_str()
                    .unwrap()
                    .parse::<Uuid>()
                    .unwrap(),
            );
        }
        let info = &connection["pageInfo"];
        assert_eq!(info["hasPreviousPage"], after.is_some());
        assert_eq!(info["startCursor"], edges[0]["cursor"]);
        assert_eq!(info["endCursor"], edges[edges.len() - 1]["cursor"]);
        pages += 1;
        if pages == 1 {
            // Rows created mid-walk sort before the first page: the walk neither repeats
            // nor skips a row because of them.
            clicks(app, campana, 3).await;
        }
        if info["hasNextPage"] == false {
            break;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_string());
    }
    assert_eq!(pages, 4, "7 + 7 + 7 + 4");
    assert_eq!(seen.len(), 25, "no row repeated");
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), registered);
}

async fn bad_arguments_are_clear_errors(app: &TestApp) {
    let cases: Vec<(&str, &str, &str)> = vec![
        (r#"{ campana(id: "42") { id } }"#, "UUID", ""),
        (
            r#"{ interacciones(after: "not-a-cursor") { edges { cursor } } }"#,
            "invalid cursor 'not-a-cursor'",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ comisiones(first: 0) { edges { cursor } } }"#,
            "first must be between 1 and 1000, not 0",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ campanas(first: 5000) { edges { cursor } } }"#,
            "first must be between 1 and 1000, not 5000",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ journeys(first: -3) { edges { cursor } } }"#,
            "not -3",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ estadisticasDiarias(campanaId: "7d3c1f9e-1d2b-4c8e-9a6f-3b2e1d0c9f8a",
                 desde: "2026-05-02", hasta: "2026-05-01") { dia } }"#,
            "desde (2026-05-02) is after hasta (2026-05-01)",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ estadisticasDiarias(campanaId: "7d3c1f9e-1d2b-4c8e-9a6f-3b2e1d0c9f8a",
                 desde: "2025-01-01", hasta: "2026-05-01") { dia } }"#,
            "at most 366",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ interacciones(filter: {desde: "2026-05-02T00:00:00Z",
                 hasta: "2026-05-01T00:00:00Z"}) { edges { cursor } } }"#,
            "is after filter.hasta",
            "BAD_USER_INPUT",
        ),
        (
            r#"{ campanas(filter: {estado: ABIERTA}) { edges { cursor } } }"#,
            "ABIERTA",
            "",
        ),
        (
            r#"{ comisiones(filter: {partnerId: "nope"}) { edges { cursor } } }"#,
            "UUID",
            "",
        ),
    ];
    for (query, message, code) in cases {
        let errors = app.graphql_errors(query, json!({})).await;
        assert_eq!(errors.len(), 1, "{query}: {errors:?}");
        let (text, got_code) = &errors[0];
        assert!(text.contains(message), "{query}: {text}");
        if !code.is_empty() {
            assert_eq!(got_code, code, "{query}: {text}");
        }
    }
    // An id nobody has is not an error: null.
    let data = app
        .graphql(
            r#"{ campana(id: "7d3c1f9e-1d2b-4c8e-9a6f-3b2e1d0c9f8a") { id }
                 journey(id: "7d3c1f9e-1d2b-4c8e-9a6f-3b2e1d0c9f8a") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data, json!({"campana": null, "journey": null}));
}

async fn view_queries(app: &TestApp, query: &str, variables: Value) -> (Value, u64) {
    let response = app.graphql_response(query, variables).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let calls = response["extensions"]["viewQueries"]
        .as_u64()
        .unwrap_or_else(|| panic!("no extensions.viewQueries: {response:#}"));
    (response["data"].clone(), calls)
}

async fn nested_objects_of_a_list_load_in_one_query_each(app: &TestApp) {
    let mut campanas = Vec::new();
    for index in 0..4 {
        let campana = app
            .campana_activa(&format!("Campaña {index}"), 1_000_000)
            .await;
        for _ in 0..3 {
            app.click(campana, Uuid::new_v4(), Some(Uuid::new_v4()))
                .await;
        }
        campanas.push(campana);
    }
    app.eventually(
        "12 journeys and their campaigns' statistics",
        "{ journeys(first: 100) { edges { node { id } } }
           campanas { edges { node { estadisticas { clicks } } } } }",
        json!({}),
        |data| {
            nodes(&data["journeys"]).len() == 12
                && nodes(&data["campanas"])
                    .iter()
                    .all(|node| node["estadisticas"]["clicks"] == 3)
        },
    )
    .await;

    // A list, each row's campaign, each campaign's statistics: three calls, whatever the
    // number of rows (one per row would be 1 + 12 + 12).
    let list = r#"query($first: Int!) { interacciones(first: $first) { edges { node {
        id campana { nombre estadisticas { clicks } } } } } }"#;
    let (data, calls) = view_queries(app, list, json!({"first": 12})).await;
    let rows = nodes(&data["interacciones"]);
    assert_eq!(rows.len(), 12);
    assert!(rows
        .iter()
        .all(|row| row["campana"]["estadisticas"]["clicks"] == 3));
    assert_eq!(
        calls, 3,
        "one list query, one campaign batch, one statistics batch"
    );
    let (_, calls) = view_queries(app, list, json!({"first": 2})).await;
    assert_eq!(calls, 3, "the same for 2 rows");

    // Journeys → their interactions → the interactions' campaigns.
    let (data, calls) = view_queries(
        app,
        "{ journeys(first: 12) { edges { node { interacciones { tipo campana { id } } } } } }",
        json!({}),
    )
    .await;
    let journeys = nodes(&data["journeys"]);
    assert_eq!(journeys.len(), 12);
    let named: HashSet<String> = journeys
        .iter()
        .flat_map(|journey| journey["interacciones"].as_array().unwrap())
        .map(|interaccion| interaccion["campana"]["id"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = campanas.iter().map(Uuid::to_string).collect();
    assert_eq!(named, expected);
    assert_eq!(calls, 3, "journeys, their interactions, the campaigns");
}

async fn depth_and_complexity_limits_are_clear_errors(app: &TestApp) {
    let deep = r#"{ comisiones(first: 1) { edges { node { campana { estadisticas {
        ratios { cpc { amount } } } } } } } }"#;
    let errors = app.graphql_errors(deep, json!({})).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, "QUERY_TOO_DEEP");
    assert!(
        errors[0].0.contains("the limit is 5 (--graphql-max-depth)"),
        "{errors:?}"
    );

    let complex = "{ comisiones(first: 100) { edges { cursor node { id } } } }";
    let errors = app.graphql_errors(complex, json!({})).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, "QUERY_TOO_COMPLEX");
    assert!(
        errors[0]
            .0
            .contains("the limit is 200 (--graphql-max-complexity)"),
        "{errors:?}"
    );

    // Within both limits.
    app.graphql(
        "{ comisiones(first: 20) { edges { cursor node { id } } } }",
        json!({}),
    )
    .await;
}

async fn a_consistency_token_waits_for_the_views(app: &TestApp) {
    // Read your own write: the token a command answers with is enough to see its effect
    // at once.
    let journey = Uuid::new_v4();
    let registered = app
        .client
        .post(app.url("/api/v1/interacciones"))
        .json(&json!({"tipo": "Click", "campana_id": Uuid::new_v4(), "journey_id": journey}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let header = registered.headers()["x-consistency-token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = registered.json().await.unwrap();
    let click: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let token = body["consistency"].as_str().unwrap().to_string();
    assert_eq!(header, token);
    assert_eq!(token, app.position_of(click).await.to_string());
    let response = app
        .graphql_with(
            r#"query($journey: UUID!) { interacciones(filter: {journeyId: $journey}) {
                edges { node { id } } } journey(id: $journey) { totalInteracciones } }"#,
            json!({"journey": journey}),
            Some(&token),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response:#}");
    assert_eq!(
        nodes(&response["data"]["interacciones"]),
        vec![&json!({"id": click})]
    );
    assert_eq!(response["data"]["journey"]["totalInteracciones"], 1);

    // Malformed.
    let response = app
        .graphql_with("{ projections { name } }", json!({}), Some("yesterday"))
        .await;
    let errors = errors_of(&response);
    assert_eq!(errors.len(), 1, "{response:#}");
    assert_eq!(errors[0].1, "INVALID_CONSISTENCY_TOKEN");
    assert!(errors[0].0.contains("'yesterday'"), "{errors:?}");
    assert!(errors[0].0.contains("HIGH:LOW"), "{errors:?}");

    // A position the views never reach: bounded by --consistency-timeout-ms.
    let started = Instant::now();
    let response = app
        .graphql_with(
            "{ projections { name } }",
            json!({}),
            Some("999999999999:0"),
        )
        .await;
    let waited = started.elapsed();
    let errors = errors_of(&response);
    assert_eq!(errors.len(), 1, "{response:#}");
    assert_eq!(errors[0].1, "CONSISTENCY_TIMEOUT");
    assert!(errors[0].0.contains("999999999999:0"), "{errors:?}");
    assert!(errors[0].0.contains("300 ms"), "{errors:?}");
    assert!(response["data"].is_null(), "{response:#}");
    assert!(waited.as_millis() >= 300, "{waited:?}");
}

async fn get_opens_the_graphiql_playground(app: &TestApp) {
    let response = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    assert!(page.contains("graphiql"), "{page}");
    assert!(
        page.contains("/graphql/ws"),
        "subscriptions endpoint: {page}"
    );
}
