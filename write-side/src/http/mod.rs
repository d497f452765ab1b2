//! The REST command API (axum, under `/api/v1`): one route per command, grouped by service,
//! one module per service; [`error`] is the one error type and its problem+json mapping,
//! [`idempotency`] the `Idempotency-Key` middleware, [`openapi`] the generated document.
//!
//! A process serves the routes of the services it runs only: the others are absent (404).
//!
//! ```no_run
//! # async fn run(backend: alpes_event_store::EventStoreBackend) -> Result<(), Box<dyn std::error::Error>> {
//! use alpes_write::http::{HttpServer, WriteApi};
//! use alpes_write::{CommandServices, Service};
//! let commands = CommandServices::new(&backend, Default::default());
//! let api = WriteApi::open(&backend, commands, &Service::ALL, None).await?;
//! let server = HttpServer::bind("127.0.0.1:8080", api).await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! server.run(shutdown).await?; // returns once `shutdown` is cancelled and requests drained
//! # Ok(()) }
//! ```

pub mod atribuciones;
pub mod campanas;
pub mod comisiones;
pub mod database;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod interacciones;
pub mod lotes;
pub mod observability;
pub mod openapi;
pub mod types;

use std::net::SocketAddr;
use std::sync::Arc;

use alpes_event_store::{ConsumerRunner, EventLog, EventStoreBackend, StoreError};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;

use crate::{CommandServices, Service};
use database::SqlDatabase;
use error::{ApiError, Problem};
use idempotency::IdempotencyStore;
use lotes::KnownCommissions;

/// The largest request body accepted (a batch of 1,000 interactions fits with room).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What every handler shares. axum clones the state into a route's service some twenty
/// times per request, so it is one `Arc` (fields read through `Deref`).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The services and stores behind [`AppState`].
pub struct SharedState {
    /// Executes the commands.
    pub commands: CommandServices,
    /// The global log (readiness).
    pub log: Arc<dyn EventLog>,
    /// The write side's SQL database (readiness).
    pub database: SqlDatabase,
    /// The commissions known to the comisiones service; `None` when it does not run here.
    pub known_commissions: Option<KnownCommissions>,
}

/// The command API of the services one process runs, ready to be served.
#[derive(Clone)]
pub struct WriteApi {
    state: AppState,
    idempotency: IdempotencyStore,
    services: Vec<Service>,
    backend: EventStoreBackend,
}

impl WriteApi {
    /// The API of `services` over `backend`. Its own tables live in the event store's
    /// database, or in the SQL database at `views_url` when the events are in EventStoreDB.
    pub async fn open(
        backend: &EventStoreBackend,
        commands: CommandServices,
        services: &[Service],
        views_url: Option<&str>,
    ) -> Result<WriteApi, StoreError> {
        let database = SqlDatabase::for_backend(backend, views_url).await?;
        let known_commissions = services
            .contains(&Service::Comisiones)
            .then(|| KnownCommissions::new(database.clone()));
        Ok(WriteApi {
            state: AppState(Arc::new(SharedState {
                commands,
                log: backend.log(),
                database: database.clone(),
                known_commissions,
            })),
            idempotency: IdempotencyStore::new(database),
            services: services.to_vec(),
            backend: backend.clone(),
        })
    }

    /// The services whose routes are served.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The shared state (commands, log, SQL database).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The router: `/health`, `/ready`, `/api/v1/openapi.json` and the command routes of
    /// the services run.
    pub fn router(&self) -> Router {
        self.router_with(Router::new())
    }

    /// [`WriteApi::router`] plus `extra` routes of the same process (GraphQL, metrics),
    /// which share its request-id and tracing layers.
    pub fn router_with(&self, extra: Router) -> Router {
        let mut commands = Router::new();
        for service in &self.services {
            commands = commands.merge(match service {
                Service::Marketing => campanas::routes(),
                Service::Tracking => interacciones::routes(),
                Service::Atribucion => atribuciones::routes(),
                Service::Comisiones => comisiones::routes(),
            });
        }
        // axum refuses a route layer on a router without routes.
        if !self.services.is_empty() {
            commands = commands
                .route_layer(middleware::from_fn_with_state(
                    self.idempotency.clone(),
                    idempotency::idempotent,
                ))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        }
        let api = commands.route("/openapi.json", get(openapi::serve_document));
        let request_id = HeaderName::from_static(observability::REQUEST_ID);
        Router::new()
            .route("/health", get(health))
            .route("/ready", get(ready))
            .nest("/api/v1", api)
            .fallback(route_not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self.state.clone())
            .merge(extra)
            .layer(middleware::from_fn(observability::record_request))
            .layer(PropagateRequestIdLayer::new(request_id.clone()))
            .layer(TraceLayer::new_for_http().make_span_with(observability::request_span))
            .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    }

    /// Starts what runs beside the routes until `shutdown`: the purge of old idempotency
    /// keys and, with the comisiones service, the consumer of `comisiones_conocidas`.
    pub fn spawn_background(&self, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(
            self.idempotency
                .clone()
                .purge_periodically(shutdown.clone()),
        )];
        if let Some(known) = &self.state.known_commissions {
            let runner = ConsumerRunner::new(
                Arc::new(known.clone()),
                self.backend.log(),
                self.backend.leases(),
            );
            tasks.push(runner.spawn(shutdown.clone()));
        }
        tasks
    }
}

/// A bound listener and the API it serves.
pub struct HttpServer {
    listener: TcpListener,
    api: WriteApi,
    extra: Router,
}

impl HttpServer {
    /// Binds `address` (port 0: any free port).
    pub async fn bind(address: impl ToSocketAddrs, api: WriteApi) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        Ok(HttpServer {
            listener,
            api,
            extra: Router::new(),
        })
    }

    /// Serves `routes` beside the command API (they must not overlap it).
    pub fn with_routes(mut self, routes: Router) -> Self {
        self.extra = self.extra.merge(routes);
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, finishes the requests in
    /// flight, and waits for the background tasks to finish their current batch.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let background = self.api.spawn_background(&shutdown);
        tracing::info!(
            address = %self.listener.local_addr()?,
            services = ?self.api.services(),
            "serving the command API"
        );
        let served = axum::serve(self.listener, self.api.router_with(self.extra))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await;
        // If serving failed the background tasks must stop too.
        shutdown.cancel();
        for task in background {
            if let Err(error) = task.await {
                tracing::error!(%error, "a background task of the command API failed");
            }
        }
        tracing::info!("command API stopped");
        served
    }
}

/// The answer of `/health` and `/ready`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthStatus {
    /// `ok`.
    pub status: String,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "Health",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = HealthStatus))
)]
pub async fn health() -> Json<HealthStatus> {
    Json(HealthStatus {
        status: "ok".to_string(),
    })
}

/// The event store and the SQL database answer.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "Ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to take commands", body = HealthStatus),
        (status = 503, description = "A store does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<HealthStatus>, ApiError> {
    state
        .log
        .head()
        .await
        .map_err(|error| ApiError::store(format!("readiness: the event log: {error}")))?;
    state
        .database
        .ping()
        .await
        .map_err(|error| ApiError::store(format!("readiness: the SQL database: {error}")))?;
    Ok(Json(HealthStatus {
        status: "ok".to_string(),
    }))
}

async fn route_not_found() -> Response {
    ApiError::RouteNotFound.into_response()
}

async fn method_not_allowed() -> Response {
    let mut response = ApiError::MethodNotAllowed.into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
