//! `/v1/orgs/...`: each handler is a call into `Orgs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::audit::{created, Created};
use super::error::ApiResult;
use super::extract::Body;
use super::AppState;
use crate::orgs::{Invite, Member, Org};
use crate::tenancy::Principal;
pub use nubes_api::orgs::{Join, NewInvite, NewOrg, RoleChange};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(join))
        .routes(routes!(members))
        .routes(routes!(set_role))
        .routes(routes!(create_invite, invites))
        .routes(routes!(revoke_invite))
}

#[utoipa::path(
    post,
    path = "/v1/orgs",
    operation_id = "orgs_create",
    tag = "orgs",
    summary = "Create an organization; the caller is its admin",
    request_body = NewOrg,
    responses((status = 201, body = Org), super::error::Errors)
)]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<NewOrg>,
) -> ApiResult<Created<Org>> {
    let org = s.orgs.create(&p, &b.name).await?;
    Ok(created(org.id.clone(), org))
}

#[utoipa::path(
    get,
    path = "/v1/orgs",
    operation_id = "orgs_list",
    tag = "orgs",
    summary = "The organizations the caller belongs to",
    responses((status = 200, body = Vec<Org>), super::error::Errors)
)]
async fn list(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<Org>>> {
    Ok(Json(s.orgs.list(&p).await?))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/join",
    operation_id = "orgs_join",
    tag = "orgs",
    summary = "Join an organization by invite code",
    request_body = Join,
    responses((status = 200, body = Org), super::error::Errors)
)]
async fn join(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<Join>,
) -> ApiResult<Json<Org>> {
    Ok(Json(s.orgs.join(&p, &b.code).await?))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/members",
    operation_id = "orgs_members",
    tag = "orgs",
    summary = "Members and their roles",
    params(("org" = String, Path, description = "The organization's id")),
    responses((status = 200, body = Vec<Member>), super::error::Errors)
)]
async fn members(
    State(s): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(s.orgs.members(&p, &org).await?))
}

#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/members/{user}",
    operation_id = "orgs_set_role",
    tag = "orgs",
    summary = "Change a member's role (admins; never one's own)",
    params(("org" = String, Path, description = "The organization's id"), ("user" = String, Path, description = "The member's user id")),
    request_body = RoleChange,
    responses((status = 200, body = Member), super::error::Errors)
)]
async fn set_role(
    State(s): State<AppState>,
    p: Principal,
    Path((org, user)): Path<(String, String)>,
    Body(b): Body<RoleChange>,
) -> ApiResult<Json<Member>> {
    Ok(Json(s.orgs.set_role(&p, &org, &user, b.role).await?))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/invites",
    operation_id = "orgs_create_invite",
    tag = "orgs",
    summary = "Create an expiring invite code (shown once)",
    params(("org" = String, Path, description = "The organization's id")),
    request_body = NewInvite,
    responses((status = 201, body = Invite), super::error::Errors)
)]
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
                .create_invite(&p, &org, b.role, b.expires_in_hours, b.uses)
                .await?,
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/invites",
    operation_id = "orgs_invites",
    tag = "orgs",
    summary = "Open invites (no codes)",
    params(("org" = String, Path, description = "The organization's id")),
    responses((status = 200, body = Vec<Invite>), super::error::Errors)
)]
async fn invites(
    State(s): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    Ok(Json(s.orgs.invites(&p, &org).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/invites/{invite}",
    operation_id = "orgs_revoke_invite",
    tag = "orgs",
    summary = "Revoke an invite",
    params(("org" = String, Path, description = "The organization's id"), ("invite" = String, Path, description = "The invite's id")),
    responses((status = 204), super::error::Errors)
)]
async fn revoke_invite(
    State(s): State<AppState>,
    p: Principal,
    Path((org, invite)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.orgs.revoke_invite(&p, &org, &invite).await?;
    Ok(StatusCode::NO_CONTENT)
}
