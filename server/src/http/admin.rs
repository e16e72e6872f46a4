//! `/v1/admin/...`: platform-wide views, for platform admins only.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::Params;
use super::AppState;
use crate::accounts::Principal;
use crate::admin::{AdminInstance, AdminUser};
use crate::db::{AuditEntry, AuditFilter};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    user_id: Option<String>,
    org_id: Option<String>,
    /// Entries whose action starts with this, like `POST /v1/instances`.
    action: Option<String>,
    limit: Option<u32>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/users", get(users))
        .route("/v1/admin/instances", get(instances))
        .route("/v1/admin/audit", get(audit))
}

async fn users(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<AdminUser>>> {
    Ok(Json(s.admin.users(&p).await?))
}

async fn instances(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<AdminInstance>>> {
    Ok(Json(s.admin.instances(&p).await?))
}

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
