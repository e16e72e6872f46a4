//! The axum application.

mod admin;
mod audit;
mod auth;
mod buckets;
mod capabilities;
mod disks;
pub mod error;
mod extract;
mod functions;
mod instances;
mod metrics;
mod orgs;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use nubes::Error;

use crate::accounts::Accounts;
use crate::admin::Admin;
use crate::instances::Instances;
use crate::orgs::Orgs;
pub use error::{ApiError, ApiResult};
pub use extract::Body;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub accounts: Arc<Accounts>,
    pub orgs: Orgs,
    pub instances: Instances,
    pub buckets: crate::buckets::Buckets,
    pub disks: crate::disks::Disks,
    pub functions: crate::functions::Functions,
    pub admin: Admin,
    pub metrics: Arc<metrics::Metrics>,
}

/// The whole REST API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::scrape))
        .merge(capabilities::routes())
        .merge(auth::routes())
        .merge(orgs::routes())
        .merge(instances::routes())
        .merge(disks::routes())
        .merge(buckets::routes())
        .merge(functions::routes())
        .merge(admin::routes())
        .fallback(|| async { ApiError(Error::not_found("no such route")) })
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
