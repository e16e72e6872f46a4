//! `/v1/auth/...`: each handler is a call into `Accounts`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::error::ApiResult;
use super::extract::{Body, ClientAddr};
use super::AppState;
use crate::accounts::{ApiToken, LoginOutcome, Tokens, TotpEnrolment, User};
use crate::tenancy::Principal;
pub use nubes_api::accounts::{Code, Credentials, NewToken, OtpAnswer, RefreshRequest, Toggle};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(verify_otp))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(totp_enrol))
        .routes(routes!(totp_confirm))
        .routes(routes!(email_otp))
        .routes(routes!(create_token, tokens))
        .routes(routes!(revoke_token))
}

#[utoipa::path(
    post,
    path = "/v1/auth/register",
    operation_id = "auth_register",
    tag = "auth",
    summary = "Create an account (with a personal organization)",
    request_body = Credentials,
    responses((status = 201, body = User), super::error::Errors),
    security(())
)]
async fn register(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Body(c): Body<Credentials>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.accounts
                .register(&c.email, &c.password, addr.as_deref())
                .await?,
        ),
    ))
}

#[utoipa::path(
    post,
    path = "/v1/auth/login",
    operation_id = "auth_login",
    tag = "auth",
    summary = "Log in: tokens, or a challenge when a second factor is on",
    request_body = Credentials,
    responses((status = 200, body = LoginOutcome), super::error::Errors),
    security(())
)]
async fn login(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Body(c): Body<Credentials>,
) -> ApiResult<Json<LoginOutcome>> {
    Ok(Json(
        s.accounts
            .login(&c.email, &c.password, addr.as_deref())
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/auth/verify-otp",
    operation_id = "auth_verify_otp",
    tag = "auth",
    summary = "Answer a login challenge with a TOTP or emailed code",
    request_body = OtpAnswer,
    responses((status = 200, body = Tokens), super::error::Errors),
    security(())
)]
async fn verify_otp(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Body(a): Body<OtpAnswer>,
) -> ApiResult<Json<Tokens>> {
    Ok(Json(
        s.accounts
            .verify_otp(&a.challenge_token, &a.code, addr.as_deref())
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    operation_id = "auth_refresh",
    tag = "auth",
    summary = "Trade a refresh token for new tokens (the old one is spent)",
    request_body = RefreshRequest,
    responses((status = 200, body = Tokens), super::error::Errors),
    security(())
)]
async fn refresh(
    State(s): State<AppState>,
    Body(r): Body<RefreshRequest>,
) -> ApiResult<Json<Tokens>> {
    Ok(Json(s.accounts.refresh(&r.refresh_token).await?))
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    operation_id = "auth_logout",
    tag = "auth",
    summary = "End this session: its refresh token stops working",
    responses((status = 204), super::error::Errors)
)]
async fn logout(State(s): State<AppState>, p: Principal) -> ApiResult<StatusCode> {
    s.accounts.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/auth/me",
    operation_id = "auth_me",
    tag = "auth",
    summary = "The caller",
    responses((status = 200, body = User), super::error::Errors)
)]
async fn me(State(s): State<AppState>, p: Principal) -> ApiResult<Json<User>> {
    Ok(Json(s.accounts.me(&p).await?))
}

#[utoipa::path(
    post,
    path = "/v1/auth/totp",
    operation_id = "auth_totp_enrol",
    tag = "auth",
    summary = "Start TOTP enrolment: a secret and an otpauth URI",
    responses((status = 200, body = TotpEnrolment), super::error::Errors)
)]
async fn totp_enrol(State(s): State<AppState>, p: Principal) -> ApiResult<Json<TotpEnrolment>> {
    Ok(Json(s.accounts.totp_enrol(&p).await?))
}

#[utoipa::path(
    post,
    path = "/v1/auth/totp/confirm",
    operation_id = "auth_totp_confirm",
    tag = "auth",
    summary = "Turn TOTP on by proving a code",
    request_body = Code,
    responses((status = 200, body = User), super::error::Errors)
)]
async fn totp_confirm(
    State(s): State<AppState>,
    p: Principal,
    Body(c): Body<Code>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.accounts.totp_confirm(&p, &c.code).await?))
}

#[utoipa::path(
    post,
    path = "/v1/auth/email-otp",
    operation_id = "auth_email_otp",
    tag = "auth",
    summary = "Turn emailed sign-in codes on or off",
    request_body = Toggle,
    responses((status = 200, body = User), super::error::Errors)
)]
async fn email_otp(
    State(s): State<AppState>,
    p: Principal,
    Body(t): Body<Toggle>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.accounts.set_email_otp(&p, t.enabled).await?))
}

#[utoipa::path(
    post,
    path = "/v1/auth/tokens",
    operation_id = "auth_create_token",
    tag = "auth",
    summary = "Create an API token; its secret is in this answer only",
    request_body = NewToken,
    responses((status = 201, body = ApiToken), super::error::Errors)
)]
async fn create_token(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<ApiToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.accounts.create_api_token(&p, &b.name).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/auth/tokens",
    operation_id = "auth_tokens",
    tag = "auth",
    summary = "The caller's API tokens (no secrets)",
    responses((status = 200, body = Vec<ApiToken>), super::error::Errors)
)]
async fn tokens(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(s.accounts.api_tokens(&p).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/auth/tokens/{token}",
    operation_id = "auth_revoke_token",
    tag = "auth",
    summary = "Revoke an API token",
    params(("token" = String, Path, description = "The token's id")),
    responses((status = 204), super::error::Errors)
)]
async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<StatusCode> {
    s.accounts.revoke_api_token(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
