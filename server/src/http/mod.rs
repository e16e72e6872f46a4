//! The axum application.

mod auth;
pub mod error;
mod extract;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use nubes::Error;

use crate::accounts::Accounts;
pub use error::{ApiError, ApiResult};
pub use extract::Body;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub accounts: Arc<Accounts>,
}

/// The whole REST API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(auth::routes())
        .fallback(|| async { ApiError(Error::not_found("no such route")) })
        .with_state(state)
}
