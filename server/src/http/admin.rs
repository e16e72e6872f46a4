//! `/v1/admin/...`: platform-wide views, for platform admins only.

use axum::extract::State;
use axum::Json;

use super::error::ApiResult;
use super::extract::Params;
use super::AppState;
use crate::admin::{AdminInstance, AdminUser, QueuedInstance, UsersQuery};
use crate::clusters::ClusterView;
use crate::db::{AuditEntry, AuditFilter};
use crate::tenancy::Principal;
pub use nubes_api::admin::AuditQuery;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users))
        .routes(routes!(instances))
        .routes(routes!(clusters))
        .routes(routes!(queue))
        .routes(routes!(audit))
}

#[utoipa::path(
    get,
    path = "/v1/admin/users",
    operation_id = "admin_users",
    tag = "admin",
    summary = "Users a page at a time, with their plans and balances (platform admins)",
    params(UsersQuery),
    responses((status = 200, body = Vec<AdminUser>), super::error::Errors)
)]
async fn users(
    State(s): State<AppState>,
    p: Principal,
    Params(q): Params<UsersQuery>,
) -> ApiResult<Json<Vec<AdminUser>>> {
    Ok(Json(s.admin.users(&p, &q).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/instances",
    operation_id = "admin_instances",
    tag = "admin",
    summary = "Every instance, with its owner and, on a fleet, its agent (platform admins)",
    responses((status = 200, body = Vec<AdminInstance>), super::error::Errors)
)]
async fn instances(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<AdminInstance>>> {
    Ok(Json(s.admin.instances(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/clusters",
    operation_id = "admin_clusters",
    tag = "admin",
    summary = "Every organization's clusters, with use and queue (platform admins)",
    responses((status = 200, body = Vec<ClusterView>), super::error::Errors)
)]
async fn clusters(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<ClusterView>>> {
    Ok(Json(s.clusters.all(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/queue",
    operation_id = "admin_queue",
    tag = "admin",
    summary = "Instances waiting for the fleet's capacity, in the order they will start (platform admins)",
    description = "The head of the queue, at most 500, highest priority first; instances waiting \
        in a cluster name it. Empty where the server runs no fleet.",
    responses((status = 200, body = Vec<QueuedInstance>), super::error::Errors)
)]
async fn queue(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<QueuedInstance>>> {
    Ok(Json(s.admin.queue(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    operation_id = "admin_audit",
    tag = "admin",
    summary = "The audit log, newest first, filtered (platform admins)",
    params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), super::error::Errors)
)]
async fn audit(
    State(s): State<AppState>,
    p: Principal,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    let filter = AuditFilter {
        user_id: q.user_id,
        org_id: q.org_id,
        action_prefix: q.action,
        limit: q.limit.unwrap_or(100).clamp(1, 1000) as i64,
    };
    Ok(Json(s.admin.audit(&p, filter).await?))
}
