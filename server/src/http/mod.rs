//! The axum application.

mod auth;
pub mod error;
mod extract;
mod instances;
mod orgs;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use nubes::Error;

use crate::accounts::Accounts;
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
}

/// The whole REST API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(auth::routes())
        .merge(orgs::routes())
        .merge(instances::routes())
        .fallback(|| async { ApiError(Error::not_found("no such route")) })
        .with_state(state)
}
