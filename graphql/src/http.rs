//! The HTTP routes of the API.

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, Response, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;

use crate::consistency;
use crate::context::{Db, ReadContext};
use crate::service::GraphqlService;

/// The header carrying a consistency token (`HIGH:LOW`).
pub const CONSISTENCY_HEADER: &str = "x-consistency-token";

type Api = GraphqlService;

/// `POST /graphql` (queries), `GET /graphql` (GraphiQL) and `GET /graphql/ws`
/// (subscriptions over WebSocket).
pub fn router(context: ReadContext) -> Router {
    let api = GraphqlService::new(context);
    Router::new()
        .route("/graphql", get(graphiql).post(execute))
        .route("/graphql/ws", get(subscribe))
        .with_state(api)
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn execute(
    State(api): State<Api>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    if let Some(token) = headers.get(CONSISTENCY_HEADER) {
        if let Err(error) = wait_for_token(&api, token).await {
            return Response::from_errors(vec![error]).into();
        }
    }
    let request = request.into_inner().data(Db::new(&api.context.views));
    api.schema.execute(request).await.into()
}

async fn wait_for_token(api: &Api, token: &axum::http::HeaderValue) -> Result<(), ServerError> {
    let as_error = |error: async_graphql::Error| error.into_server_error(Default::default());
    let position = consistency::parse_header(token.as_bytes()).map_err(as_error)?;
    consistency::wait_for(
        &api.context.views,
        position,
        api.context.settings.consistency_timeout,
    )
    .await
    .map_err(as_error)
}

async fn subscribe(
    State(api): State<Api>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let mut data = Data::default();
            data.insert(Db::new(&api.context.views));
            GraphQLWebSocket::new(stream, api.schema.clone(), protocol)
                .with_data(data)
                .serve()
        })
}
