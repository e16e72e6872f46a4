//! `/v1/disks/...`: each handler is a call into `Disks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::audit::{created, Created};
use super::error::ApiResult;
use super::extract::{Body, Named, OrgQuery, Params};
use super::AppState;
use crate::disks::{ConvertDisk, CreateDisk, RenameDisk, ResizeDisk, TenantDisk};
use crate::tenancy::Principal;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, delete))
        .routes(routes!(resize))
        .routes(routes!(convert))
        .routes(routes!(rename))
}

#[utoipa::path(
    post,
    path = "/v1/disks",
    operation_id = "disks_create",
    tag = "disks",
    summary = "Create an empty disk image",
    request_body = CreateDisk,
    responses((status = 201, body = TenantDisk), super::error::Errors)
)]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateDisk>,
) -> ApiResult<Created<TenantDisk>> {
    let disk = s.disks.create(&p, b).await?;
    Ok(created(disk.org_id.clone(), disk))
}

#[utoipa::path(
    get,
    path = "/v1/disks",
    operation_id = "disks_list",
    tag = "disks",
    summary = "The disks of the caller's organizations",
    responses((status = 200, body = Vec<TenantDisk>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantDisk>>> {
    Ok(Json(s.disks.list(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/disks/{disk}",
    operation_id = "disks_get_one",
    tag = "disks",
    summary = "One disk: format and sizes",
    params(("disk" = String, Path, description = "The disk's id or name"), OrgQuery),
    responses((status = 200, body = TenantDisk), super::error::Errors)
)]
async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantDisk>> {
    Ok(Json(s.disks.get(&p, q.named(&disk)).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/disks/{disk}",
    operation_id = "disks_delete",
    tag = "disks",
    summary = "Delete a disk",
    params(("disk" = String, Path, description = "The disk's id or name"), OrgQuery),
    responses((status = 204), super::error::Errors)
)]
async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.disks.delete(&p, q.named(&disk)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/disks/{disk}/resize",
    operation_id = "disks_resize",
    tag = "disks",
    summary = "Resize; shrinking only with allow_shrink",
    params(("disk" = String, Path, description = "The disk's id or name"), OrgQuery),
    request_body = ResizeDisk,
    responses((status = 200, body = TenantDisk), super::error::Errors)
)]
async fn resize(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<ResizeDisk>,
) -> ApiResult<Json<TenantDisk>> {
    Ok(Json(s.disks.resize(&p, q.named(&disk), b).await?))
}

#[utoipa::path(
    post,
    path = "/v1/disks/{disk}/convert",
    operation_id = "disks_convert",
    tag = "disks",
    summary = "Copy into another format as a new disk",
    params(("disk" = String, Path, description = "The disk's id or name"), OrgQuery),
    request_body = ConvertDisk,
    responses((status = 201, body = TenantDisk), super::error::Errors)
)]
async fn convert(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<ConvertDisk>,
) -> ApiResult<Created<TenantDisk>> {
    let copy = s.disks.convert(&p, q.named(&disk), b).await?;
    Ok(created(copy.org_id.clone(), copy))
}

#[utoipa::path(
    post,
    path = "/v1/disks/{disk}/rename",
    operation_id = "disks_rename",
    tag = "disks",
    summary = "Rename a disk",
    params(("disk" = String, Path, description = "The disk's id or name"), OrgQuery),
    request_body = RenameDisk,
    responses((status = 200, body = TenantDisk), super::error::Errors)
)]
async fn rename(
    State(s): State<AppState>,
    p: Principal,
    Path(disk): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<RenameDisk>,
) -> ApiResult<Json<TenantDisk>> {
    Ok(Json(s.disks.rename(&p, q.named(&disk), b).await?))
}
