//! `GET /v1/capabilities`: what each service of this server can do, so clients (the remote
//! provider) refuse what it cannot before asking. A service the server has no provider for is
//! `null`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use nubes::{ComputeCapability, DiskCapability, FunctionCapability, StorageCapability};
use serde::Serialize;

use super::AppState;

#[derive(Debug, Serialize)]
pub struct Capabilities {
    pub compute: Option<ComputeCapability>,
    pub storage: Option<StorageCapability>,
    pub disk: Option<DiskCapability>,
    pub function: Option<FunctionCapability>,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/capabilities", get(capabilities))
}

async fn capabilities(State(s): State<AppState>) -> Json<Capabilities> {
    Json(Capabilities {
        compute: s.instances.capability(),
        storage: s.buckets.capability(),
        disk: s.disks.capability(),
        function: s.functions.capability(),
    })
}
