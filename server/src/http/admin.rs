//! `/v1/admin/...`: platform-wide views, for platform admins only.

use axum::extract::State;
use axum::Json;

use super::error::ApiResult;
use super::extract::Params;
use super::AppState;
use crate::admin::{AdminInstance, AdminUser};
use crate::db::{AuditEntry, AuditFilter};
use crate::tenancy::Principal;
pub use nubes_api::admin::AuditQuery;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users))
        .routes(routes!(instances))
        .routes(routes!(audit))
}

#[utoipa::path(
    get,
    path = "/v1/admin/users",
    operation_id = "admin_users",
    tag = "admin",
    summary = "Every user (platform admins)",
    responses((status = 200, body = Vec<AdminUser>), super::error::Errors)
)]
async fn users(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<AdminUser>>> {
    Ok(Json(s.admin.users(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/instances",
    operation_id = "admin_instances",
    tag = "admin",
    summary = "Every instance (platform admins)",
    responses((status = 200, body = Vec<AdminInstance>), super::error::Errors)
)]
async fn instances(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<AdminInstance>>> {
    Ok(Json(s.admin.instances(&p).await?))
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
