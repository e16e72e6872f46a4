//! `/v1/clusters/...`: each handler is a call into `Clusters`. A queued deployment is cancelled
//! by deleting its instance.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::{created, Created};
use super::error::ApiResult;
use super::extract::{Body, Named, OrgQuery, Params};
use super::AppState;
use crate::clusters::{ClusterView, CreateCluster};
use crate::tenancy::Principal;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, delete))
}

#[utoipa::path(
    post,
    path = "/v1/clusters",
    operation_id = "clusters_create",
    tag = "clusters",
    summary = "Reserve fleet capacity for an organization (its admins)",
    request_body = CreateCluster,
    responses((status = 201, body = ClusterView), super::error::Errors)
)]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateCluster>,
) -> ApiResult<Created<ClusterView>> {
    let c = s.clusters.create(&p, b).await?;
    Ok(created(c.org_id.clone(), c))
}

#[utoipa::path(
    get,
    path = "/v1/clusters",
    operation_id = "clusters_list",
    tag = "clusters",
    summary = "The clusters of the caller's organizations, with use and queue",
    responses((status = 200, body = Vec<ClusterView>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<ClusterView>>> {
    Ok(Json(s.clusters.list(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/clusters/{cluster}",
    operation_id = "clusters_get",
    tag = "clusters",
    summary = "One cluster: its reservation, what is used, and what waits in it, in order",
    params(("cluster" = String, Path, description = "The cluster's id, or its name"), OrgQuery),
    responses((status = 200, body = ClusterView), super::error::Errors)
)]
async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<ClusterView>> {
    Ok(Json(s.clusters.get(&p, q.named(&id)).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/clusters/{cluster}",
    operation_id = "clusters_delete",
    tag = "clusters",
    summary = "End an empty cluster; its capacity is free again (its organization's admins)",
    params(("cluster" = String, Path, description = "The cluster's id, or its name"), OrgQuery),
    responses((status = 204), super::error::Errors)
)]
async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.clusters.delete(&p, q.named(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
