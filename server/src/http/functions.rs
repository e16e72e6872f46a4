//! `/v1/functions/...`: each handler is a call into `Functions`. An invocation's payload is the
//! raw request body.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::audit::{created, Created};
use super::error::ApiResult;
use super::extract::{Body, Named, OrgQuery, Params, Payload};
use super::AppState;
use crate::functions::{DeployFunction, Invocation, TenantFunction};
use crate::tenancy::Principal;
use nubes::AsyncInvocation;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, deploy))
        .routes(routes!(get_one, delete))
        .routes(routes!(invoke))
        .routes(routes!(invoke_async))
}

#[utoipa::path(
    post,
    path = "/v1/functions/{function}/invocations",
    operation_id = "functions_invoke_async",
    tag = "functions",
    summary = "Start the function once with the request body as its payload, without waiting",
    description = "Answers at once with the invocation's id; the invocation counts against the \
        caller's running invocations until it ends and is billed for the time it ran.",
    params(("function" = String, Path, description = "The function's id or name"), OrgQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = AsyncInvocation), super::error::Errors)
)]
async fn invoke_async(
    State(s): State<AppState>,
    p: Principal,
    Path(function): Path<String>,
    Params(q): Params<OrgQuery>,
    Payload(payload): Payload,
) -> ApiResult<(StatusCode, Json<AsyncInvocation>)> {
    let started = s
        .functions
        .invoke_async(&p, q.named(&function), payload)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

#[utoipa::path(
    post,
    path = "/v1/functions",
    operation_id = "functions_deploy",
    tag = "functions",
    summary = "Deploy a function",
    request_body = DeployFunction,
    responses((status = 201, body = TenantFunction), super::error::Errors)
)]
async fn deploy(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<DeployFunction>,
) -> ApiResult<Created<TenantFunction>> {
    let deployed = s.functions.deploy(&p, b).await?;
    Ok(created(deployed.org_id.clone(), deployed))
}

#[utoipa::path(
    get,
    path = "/v1/functions",
    operation_id = "functions_list",
    tag = "functions",
    summary = "The functions of the caller's organizations",
    responses((status = 200, body = Vec<TenantFunction>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantFunction>>> {
    Ok(Json(s.functions.list(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/functions/{function}",
    operation_id = "functions_get_one",
    tag = "functions",
    summary = "One function",
    params(("function" = String, Path, description = "The function's id or name"), OrgQuery),
    responses((status = 200, body = TenantFunction), super::error::Errors)
)]
async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(function): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantFunction>> {
    Ok(Json(s.functions.get(&p, q.named(&function)).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/functions/{function}",
    operation_id = "functions_delete",
    tag = "functions",
    summary = "Delete a function",
    params(("function" = String, Path, description = "The function's id or name"), OrgQuery),
    responses((status = 204), super::error::Errors)
)]
async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(function): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<StatusCode> {
    s.functions.delete(&p, q.named(&function)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/functions/{function}/invoke",
    operation_id = "functions_invoke",
    tag = "functions",
    summary = "Run the function once with the request body as its payload",
    params(("function" = String, Path, description = "The function's id or name"), OrgQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = Invocation), super::error::Errors)
)]
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
