//! `/v1/orgs/...`: each handler is a call into `Orgs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use nubes_auth::Role;
use serde::Deserialize;

use super::audit::AuditOrg;
use super::error::ApiResult;
use super::extract::Body;
use super::AppState;
use crate::accounts::Principal;
use crate::orgs::{Invite, Member, Org};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrg {
    name: String,
}

fn default_role() -> Role {
    Role::Member
}

fn default_hours() -> u64 {
    72
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInvite {
    #[serde(default = "default_role")]
    role: Role,
    #[serde(default = "default_hours")]
    expires_in_hours: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Join {
    code: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: Role,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs", post(create).get(list))
        .route("/v1/orgs/join", post(join))
        .route("/v1/orgs/{org}/members", get(members))
        .route("/v1/orgs/{org}/members/{user}", put(set_role))
        .route("/v1/orgs/{org}/invites", post(create_invite).get(invites))
        .route("/v1/orgs/{org}/invites/{invite}", delete(revoke_invite))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<NewOrg>,
) -> ApiResult<(StatusCode, Extension<AuditOrg>, Json<Org>)> {
    let org = s.orgs.create(&p, &b.name).await?;
    Ok((
        StatusCode::CREATED,
        Extension(AuditOrg(org.id.clone())),
        Json(org),
    ))
}

async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<Org>>> {
    Ok(Json(s.orgs.list(&p).await?))
}

async fn join(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<Join>,
) -> ApiResult<Json<Org>> {
    Ok(Json(s.orgs.join(&p, &b.code).await?))
}

async fn members(
    State(s): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(s.orgs.members(&p, &org).await?))
}

async fn set_role(
    State(s): State<AppState>,
    p: Principal,
    Path((org, user)): Path<(String, String)>,
    Body(b): Body<RoleChange>,
) -> ApiResult<Json<Member>> {
    Ok(Json(s.orgs.set_role(&p, &org, &user, b.role).await?))
}

async fn create_invite(
    State(s): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    Body(b): Body<NewInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.orgs
                .create_invite(&p, &org, b.role, b.expires_in_hours)
                .await?,
        ),
    ))
}

async fn invites(
    State(s): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    Ok(Json(s.orgs.invites(&p, &org).await?))
}

async fn revoke_invite(
    State(s): State<AppState>,
    p: Principal,
    Path((org, invite)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.orgs.revoke_invite(&p, &org, &invite).await?;
    Ok(StatusCode::NO_CONTENT)
}
