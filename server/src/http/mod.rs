//! The axum application.

mod admin;
mod agents;
mod audit;
mod auth;
mod billing;
mod buckets;
mod capabilities;
mod clusters;
mod console_socket;
mod disks;
pub mod error;
mod events;
mod exec_socket;
mod extract;
mod functions;
mod instances;
mod metrics;
mod openapi;
mod orgs;
mod web;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::accounts::Accounts;
use crate::admin::Admin;
use crate::instances::Instances;
use crate::orgs::Orgs;
pub use error::{ApiError, ApiResult};
pub use extract::Body;

/// What every handler can reach. Cloned for every extractor and middleware of every request, so
/// it is one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// How often a long-lived connection (an event stream, an interactive exec) checks that the
/// credential it was opened with still holds.
pub const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Returns once `p`'s credential no longer holds (a logout, a revoked token, its expiry).
pub async fn session_ends(s: &AppState, p: &crate::tenancy::Principal) {
    loop {
        tokio::time::sleep(SESSION_CHECK).await;
        if !s.accounts.still_valid(p).await {
            return;
        }
    }
}

/// Returns once `p`'s credential no longer holds or they may no longer `action` instance
/// `id` (their role was lowered, they left its organization, it was deleted), saying which:
/// what a connection into an instance asks while it lasts, not only when it opened.
pub async fn access_ends(
    s: &AppState,
    p: &crate::tenancy::Principal,
    id: &str,
    action: nubes_auth::Action,
) -> nubes::Error {
    loop {
        tokio::time::sleep(SESSION_CHECK).await;
        if !s.accounts.still_valid(p).await {
            return nubes::Error::new(
                nubes::ErrorKind::Unauthenticated,
                "the credential this connection was opened with no longer holds",
            );
        }
        if !s.instances.still_allowed(p, id, action).await {
            return nubes::Error::new(
                nubes::ErrorKind::PermissionDenied,
                "the instance is gone or your access to it was withdrawn",
            );
        }
    }
}

/// The services behind the API.
#[derive(Debug)]
pub struct Services {
    pub accounts: Arc<Accounts>,
    pub orgs: Orgs,
    pub instances: Instances,
    pub buckets: crate::buckets::Buckets,
    pub disks: crate::disks::Disks,
    pub functions: crate::functions::Functions,
    pub admin: Admin,
    pub agents: crate::agents::Agents,
    pub billing: crate::billing::Billing,
    /// Metering, when the server bills.
    pub metering: Option<crate::metering::Metering>,
    pub clusters: crate::clusters::Clusters,
    pub events: crate::events::Events,
    pub metrics: Arc<metrics::Metrics>,
    /// WebSockets (events, interactive execs) open per user.
    pub sockets: crate::gates::Gate,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<crate::listen::Cidr>>,
    pub connections_per_address: usize,
    /// Swagger UI's files (the `swagger-ui-dist` npm package's folder); none loads them from a CDN.
    pub swagger_ui_dir: Option<std::path::PathBuf>,
    /// The dashboard's built files (`web/dist`), served at `/`; none serves no dashboard.
    pub web_dir: Option<std::path::PathBuf>,
}

/// The routes the OpenAPI document describes, and the document.
fn documented() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(capabilities::routes())
        .merge(auth::routes())
        .merge(orgs::routes())
        .merge(instances::routes())
        .merge(disks::routes())
        .merge(buckets::routes())
        .merge(functions::routes())
        .merge(admin::routes())
        .merge(agents::routes())
        .merge(events::routes())
        .merge(clusters::routes())
        .merge(billing::routes())
        .split_for_parts()
}

/// The API's OpenAPI document, as `/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented().1
}

/// The whole REST API.
pub fn app(state: AppState) -> Router {
    let (api, doc) = documented();
    let docs = openapi::Docs::new(&doc, state.swagger_ui_dir.clone());
    let dashboard = web::Web::new(state.web_dir.clone());
    Router::new()
        .route("/healthz", get(openapi::healthz))
        .route("/metrics", get(metrics::scrape))
        .merge(api)
        .merge(openapi::routes(docs))
        .fallback(move |method: axum::http::Method, uri: axum::http::Uri| {
            let dashboard = dashboard.clone();
            async move { dashboard.fallback(&method, &uri).await }
        })
        .method_not_allowed_fallback(|| async {
            let body =
                nubes_api::ErrorBody::new("invalid_input", "this route does not take that method");
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::measure,
        ))
        .with_state(state)
}
