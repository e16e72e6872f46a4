//! `/v1/instances/...`: each handler is a call into `Instances`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use nubes::{InstanceStats, LogOptions};
use nubes_api::instances::ConsoleQuery;
use nubes_auth::Action;

use super::audit::{created, Created};
use super::error::ApiResult;
use super::extract::{Body, Named, OrgQuery, Params, Upgrade};
use super::AppState;
use crate::instances::{CreateInstance, DryRun, ExecBody, ExecResult, TenantInstance};
use crate::tenancy::Principal;
pub use nubes_api::instances::{DeleteQuery, LogQuery, ResizeBody, StopQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(dry_run))
        .routes(routes!(get_one, delete))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(restart))
        .routes(routes!(exec, exec_stream))
        .routes(routes!(console))
        .routes(routes!(logs))
        .routes(routes!(stats))
        .routes(routes!(resize))
}

#[utoipa::path(
    post,
    path = "/v1/instances",
    operation_id = "instances_create",
    tag = "instances",
    summary = "Create and start an instance",
    request_body = CreateInstance,
    responses((status = 201, body = TenantInstance), super::error::Errors)
)]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateInstance>,
) -> ApiResult<Created<TenantInstance>> {
    let instance = s.instances.create(&p, b).await?;
    Ok(created(instance.org_id.clone(), instance))
}

#[utoipa::path(
    post,
    path = "/v1/instances/dry-run",
    operation_id = "instances_dry_run",
    tag = "instances",
    summary = "What a create would do: where it would run, whether the plan allows it, its price",
    request_body = CreateInstance,
    responses((status = 200, body = DryRun), super::error::Errors)
)]
async fn dry_run(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateInstance>,
) -> ApiResult<Json<DryRun>> {
    Ok(Json(s.instances.dry_run(&p, b).await?))
}

#[utoipa::path(
    get,
    path = "/v1/instances",
    operation_id = "instances_list",
    tag = "instances",
    summary = "The instances of the caller's organizations",
    responses((status = 200, body = Vec<TenantInstance>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantInstance>>> {
    Ok(Json(s.instances.list(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/instances/{instance}",
    operation_id = "instances_get_one",
    tag = "instances",
    summary = "One instance, with its live state",
    params(("instance" = String, Path, description = "The instance's id, or its name"), OrgQuery),
    responses((status = 200, body = TenantInstance), super::error::Errors)
)]
async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(s.instances.get(&p, q.named(&id)).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/instances/{instance}",
    operation_id = "instances_delete",
    tag = "instances",
    summary = "Delete an instance; a running one only with force",
    params(("instance" = String, Path, description = "The instance's id, or its name"), DeleteQuery),
    responses((status = 204), super::error::Errors)
)]
async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let options = nubes::DeleteOptions::new(q.force, q.keep_disks);
    s.instances.delete(&p, q.named(&id), options).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/instances/{instance}/start",
    operation_id = "instances_start",
    tag = "instances",
    summary = "Start a stopped instance",
    params(("instance" = String, Path, description = "The instance's id, or its name"), OrgQuery),
    responses((status = 200, body = TenantInstance), super::error::Errors)
)]
async fn start(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(s.instances.start(&p, q.named(&id)).await?))
}

#[utoipa::path(
    post,
    path = "/v1/instances/{instance}/stop",
    operation_id = "instances_stop",
    tag = "instances",
    summary = "Stop: ask the instance to exit, kill it after the timeout",
    params(("instance" = String, Path, description = "The instance's id, or its name"), StopQuery),
    responses((status = 200, body = TenantInstance), super::error::Errors)
)]
async fn stop(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<StopQuery>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(
        s.instances.stop(&p, q.named(&id), q.timeout()?).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/instances/{instance}/restart",
    operation_id = "instances_restart",
    tag = "instances",
    summary = "Stop, then start again",
    params(("instance" = String, Path, description = "The instance's id, or its name"), StopQuery),
    responses((status = 200, body = TenantInstance), super::error::Errors)
)]
async fn restart(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<StopQuery>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(
        s.instances.restart(&p, q.named(&id), q.timeout()?).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/instances/{instance}/exec",
    operation_id = "instances_exec",
    tag = "instances",
    summary = "Run a command in a running instance",
    params(("instance" = String, Path, description = "The instance's id, or its name"), OrgQuery),
    request_body = ExecBody,
    responses((status = 200, body = ExecResult), super::error::Errors)
)]
async fn exec(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<ExecBody>,
) -> ApiResult<Json<ExecResult>> {
    Ok(Json(s.instances.exec(&p, q.named(&id), b).await?))
}

#[utoipa::path(
    get,
    path = "/v1/instances/{instance}/exec",
    operation_id = "instances_exec_stream",
    tag = "instances",
    summary = "Run a command interactively over a WebSocket",
    description = "After the upgrade the client sends the command as a JSON text frame \
        (ExecStart), then, with `stdin_open`, stdin in binary frames (an empty one closes it). \
        The server sends output in binary frames whose first byte is the stream (1 stdout, \
        2 stderr), then one text frame, `{\"exit_code\": N}` or an error body, and closes. \
        Closing the socket ends the command; so does the caller losing the right to run it \
        (signed out, token revoked, role lowered, checked every few seconds), with an error body. \
        A client frame may hold at most 64 KiB; stdin is taken as fast as the command reads it.",
    params(("instance" = String, Path, description = "The instance's id, or its name"), OrgQuery),
    responses((status = 101, description = "Switching to the exec's stream"), super::error::Errors)
)]
async fn exec_stream(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
    Upgrade(upgrade): Upgrade,
) -> ApiResult<Response> {
    // The socket outlives this request: it names the instance by the id found here.
    let id = s.instances.may(&p, q.named(&id), Action::Operate).await?;
    let pass = s.sockets.enter(&p.user_id)?;
    Ok(
        super::exec_socket::bounded(upgrade).on_upgrade(move |socket| async move {
            super::exec_socket::serve(s, p, id, socket).await;
            drop(pass);
        }),
    )
}

#[utoipa::path(
    get,
    path = "/v1/instances/{instance}/console",
    operation_id = "instances_console",
    tag = "instances",
    summary = "Attach to a VM's serial console or screen over a WebSocket",
    description = "Attaches before the upgrade, so a refusal (not running, no such console, the \
        serial console attached elsewhere) is an HTTP answer. After it, binary frames carry the \
        console's bytes both ways, as they are: a terminal's for `serial`, RFB for `vnc` (what \
        noVNC speaks). The server closes with 1000 when the console ends (the VM stopped), \
        1011 with the reason when it fails, 4401 once the credential it was opened with lapses \
        (an access token expired, signed out, revoked: attach again with a fresh one) and 4403 \
        once the caller may no longer use it (role lowered, instance gone); both are checked \
        every few seconds. A client frame may hold at most 64 KiB.",
    params(("instance" = String, Path, description = "The instance's id, or its name"), ConsoleQuery),
    responses((status = 101, description = "Attached"), super::error::Errors)
)]
async fn console(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<ConsoleQuery>,
    Upgrade(upgrade): Upgrade,
) -> ApiResult<Response> {
    let pass = s.sockets.enter(&p.user_id)?;
    let attached = super::console_socket::attach(&s, &p, q.named(&id), q.kind).await?;
    Ok(
        super::exec_socket::bounded(upgrade).on_upgrade(move |socket| async move {
            super::console_socket::serve(s, p, socket, attached).await;
            drop(pass);
        }),
    )
}

#[utoipa::path(
    get,
    path = "/v1/instances/{instance}/logs",
    operation_id = "instances_logs",
    tag = "instances",
    summary = "Output, streamed; with follow, until the instance stops or the caller may no longer read it",
    params(("instance" = String, Path, description = "The instance's id, or its name"), LogQuery),
    responses((status = 200, body = String, content_type = "text/plain"), super::error::Errors)
)]
async fn logs(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<LogQuery>,
) -> ApiResult<Response> {
    let mut options = LogOptions::default().follow(q.follow);
    options.tail = q.tail;
    let (id, mut logs) = s.instances.logs(&p, q.named(&id), options).await?;
    // Followed, the stream lasts only as long as the caller may read the instance.
    if q.follow {
        let (s, p) = (s.clone(), p.clone());
        let ends = async move { super::access_ends(&s, &p, &id, Action::Read).await };
        logs = logs.take_until(ends).boxed();
    }
    // Chunks go out as they come, so a follower sees output while the instance writes it.
    let body = axum::body::Body::from_stream(logs.map_ok(|chunk| chunk.data));
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/instances/{instance}/resize",
    operation_id = "instances_resize",
    tag = "instances",
    summary = "Change cpus and memory",
    params(("instance" = String, Path, description = "The instance's id, or its name"), OrgQuery),
    request_body = ResizeBody,
    responses((status = 200, body = TenantInstance), super::error::Errors)
)]
async fn resize(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
    Body(b): Body<ResizeBody>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(
        s.instances.resize(&p, q.named(&id), b.request()).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/instances/{instance}/stats",
    operation_id = "instances_stats",
    tag = "instances",
    summary = "A resource usage sample",
    params(("instance" = String, Path, description = "The instance's id, or its name"), OrgQuery),
    responses((status = 200, body = nubes::InstanceStats), super::error::Errors)
)]
async fn stats(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<InstanceStats>> {
    Ok(Json(s.instances.stats(&p, q.named(&id)).await?))
}
