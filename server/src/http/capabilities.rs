//! `GET /v1/capabilities`: what each service of this server can do, so clients (the remote
//! provider) refuse what it cannot before asking. A service the server has no provider for is
//! `null`.

use axum::extract::State;
use axum::Json;

use super::AppState;
pub use nubes_api::Capabilities;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(capabilities))
}

#[utoipa::path(
    get,
    path = "/v1/capabilities",
    operation_id = "capabilities_capabilities",
    tag = "capabilities",
    summary = "Which services this server has and what each can do",
    responses((status = 200, body = Capabilities), super::error::Errors),
    security(())
)]
async fn capabilities(State(s): State<AppState>) -> Json<Capabilities> {
    Json(Capabilities {
        compute: s.instances.capability(),
        storage: s.buckets.capability(),
        disk: s.disks.capability(),
        function: s.functions.capability(),
    })
}
