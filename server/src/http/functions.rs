//! `/v1/functions/...`: each handler is a call into `Functions`. An invocation's payload is the
//! raw request body.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::audit::AuditOrg;
use super::error::ApiResult;
use super::extract::{Body, OrgQuery, Params, Payload};
use super::AppState;
use crate::accounts::Principal;
use crate::functions::{DeployFunction, Invocation, TenantFunction};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/functions", get(list).post(deploy))
        .route("/v1/functions/{function}", get(get_one).delete(delete))
        .route("/v1/functions/{function}/invoke", post(invoke))
}

async fn deploy(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<DeployFunction>,
) -> ApiResult<(StatusCode, Extension<AuditOrg>, Json<TenantFunction>)> {
    let deployed = s.functions.deploy(&p, b).await?;
    Ok((
        StatusCode::CREATED,
        Extension(AuditOrg(deployed.org_id.clone())),
        Json(deployed),
    ))
}

async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantFunction>>> {
    Ok(Json(s.functions.list(&p).await?))
}

async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(function): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantFunction>> {
    Ok(Json(s.functions.get(&p, q.named(&function)).await?))
}

async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(function): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.functions.delete(&p, q.named(&function)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn invoke(
    State(s): State<AppState>,
    p: Principal,
    Path(function): Path<String>,
    Params(q): Params<OrgQuery>,
    Payload(payload): Payload,
) -> ApiResult<Json<Invocation>> {
    Ok(Json(
        s.functions.invoke(&p, q.named(&function), payload).await?,
    ))
}
