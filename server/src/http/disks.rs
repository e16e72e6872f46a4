//! `/v1/disks/...`: each handler is a call into `Disks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::audit::AuditOrg;
use super::error::ApiResult;
use super::extract::{Body, OrgQuery, Params};
use super::AppState;
use crate::accounts::Principal;
use crate::disks::{ConvertDisk, CreateDisk, RenameDisk, ResizeDisk, TenantDisk};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/disks", get(list).post(create))
        .route("/v1/disks/{disk}", get(get_one).delete(delete))
        .route("/v1/disks/{disk}/resize", post(resize))
        .route("/v1/disks/{disk}/convert", post(convert))
        .route("/v1/disks/{disk}/rename", post(rename))
}

type Created = (StatusCode, Extension<AuditOrg>, Json<TenantDisk>);

fn created(disk: TenantDisk) -> Created {
    (
        StatusCode::CREATED,
        Extension(AuditOrg(disk.org_id.clone())),
        Json(disk),
    )
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateDisk>,
) -> ApiResult<Created> {
    Ok(created(s.disks.create(&p, b).await?))
}

async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantDisk>>> {
    Ok(Json(s.disks.list(&p).await?))
}

async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantDisk>> {
    Ok(Json(s.disks.get(&p, q.named(&disk)).await?))
}

async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.disks.delete(&p, q.named(&disk)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resize(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<ResizeDisk>,
) -> ApiResult<Json<TenantDisk>> {
    Ok(Json(s.disks.resize(&p, q.named(&disk), b).await?))
}

async fn convert(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<ConvertDisk>,
) -> ApiResult<Created> {
    Ok(created(s.disks.convert(&p, q.named(&disk), b).await?))
}

async fn rename(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<RenameDisk>,
) -> ApiResult<Json<TenantDisk>> {
    Ok(Json(s.disks.rename(&p, q.named(&disk), b).await?))
}
