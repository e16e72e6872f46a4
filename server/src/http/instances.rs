//! `/v1/instances/...`: each handler is a call into `Instances`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::TryStreamExt;
use nubes::{InstanceStats, LogOptions, ResizeRequest};
use serde::Deserialize;

use super::audit::AuditOrg;
use super::error::{ApiError, ApiResult};
use super::extract::{Body, Params};
use super::AppState;
use crate::accounts::Principal;
use crate::instances::{CreateInstance, ExecBody, ExecResult, TenantInstance};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StopQuery {
    /// Seconds to wait before killing; 10 when unset, at most 300.
    timeout_secs: Option<u64>,
}

impl StopQuery {
    fn timeout(&self) -> Result<std::time::Duration, ApiError> {
        match self.timeout_secs.unwrap_or(10) {
            s @ 0..=300 => Ok(std::time::Duration::from_secs(s)),
            _ => Err(ApiError(nubes::Error::invalid_input(
                "timeout_secs must be between 0 and 300",
            ))),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    tail: Option<u64>,
    #[serde(default)]
    follow: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResizeBody {
    cpus: Option<f64>,
    /// Bytes.
    memory: Option<u64>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/instances", post(create).get(list))
        .route("/v1/instances/{id}", get(get_one).delete(delete))
        .route("/v1/instances/{id}/start", post(start))
        .route("/v1/instances/{id}/stop", post(stop))
        .route("/v1/instances/{id}/restart", post(restart))
        .route("/v1/instances/{id}/exec", post(exec))
        .route("/v1/instances/{id}/logs", get(logs))
        .route("/v1/instances/{id}/stats", get(stats))
        .route("/v1/instances/{id}/resize", post(resize))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<CreateInstance>,
) -> ApiResult<(StatusCode, Extension<AuditOrg>, Json<TenantInstance>)> {
    let created = s.instances.create(&p, b).await?;
    Ok((
        StatusCode::CREATED,
        Extension(AuditOrg(created.org_id.clone())),
        Json(created),
    ))
}

async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TenantInstance>>> {
    Ok(Json(s.instances.list(&p).await?))
}

async fn get_one(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(s.instances.get(&p, &id).await?))
}

async fn delete(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<DeleteQuery>,
) -> ApiResult<StatusCode> {
    s.instances.delete(&p, &id, q.force).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn start(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(s.instances.start(&p, &id).await?))
}

async fn stop(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<StopQuery>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(s.instances.stop(&p, &id, q.timeout()?).await?))
}

async fn restart(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<StopQuery>,
) -> ApiResult<Json<TenantInstance>> {
    Ok(Json(s.instances.restart(&p, &id, q.timeout()?).await?))
}

async fn exec(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Body(b): Body<ExecBody>,
) -> ApiResult<Json<ExecResult>> {
    Ok(Json(s.instances.exec(&p, &id, b).await?))
}

async fn logs(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Params(q): Params<LogQuery>,
) -> ApiResult<Response> {
    let mut options = LogOptions::default().follow(q.follow);
    options.tail = q.tail;
    let logs = s.instances.logs(&p, &id, options).await?;
    // Chunks go out as they come, so a follower sees output while the instance writes it.
    let body = axum::body::Body::from_stream(logs.map_ok(|chunk| chunk.data));
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

async fn resize(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Body(b): Body<ResizeBody>,
) -> ApiResult<Json<TenantInstance>> {
    let mut request = ResizeRequest::default();
    request.cpus = b.cpus;
    request.memory = b.memory;
    Ok(Json(s.instances.resize(&p, &id, request).await?))
}

async fn stats(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<InstanceStats>> {
    Ok(Json(s.instances.stats(&p, &id).await?))
}
