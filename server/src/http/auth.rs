//! `/v1/auth/...`: each handler is a call into `Accounts`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiResult;
use super::extract::{Body, ClientAddr};
use super::AppState;
use crate::accounts::{ApiToken, LoginOutcome, Principal, Tokens, TotpEnrolment, User};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpAnswer {
    challenge_token: String,
    code: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Toggle {
    enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/verify-otp", post(verify_otp))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .route("/v1/auth/totp", post(totp_enrol))
        .route("/v1/auth/totp/confirm", post(totp_confirm))
        .route("/v1/auth/email-otp", post(email_otp))
        .route("/v1/auth/tokens", post(create_token).get(tokens))
        .route("/v1/auth/tokens/{id}", axum::routing::delete(revoke_token))
}

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

async fn refresh(
    State(s): State<AppState>,
    Body(r): Body<RefreshRequest>,
) -> ApiResult<Json<Tokens>> {
    Ok(Json(s.accounts.refresh(&r.refresh_token).await?))
}

async fn logout(State(s): State<AppState>, p: Principal) -> ApiResult<StatusCode> {
    s.accounts.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(s): State<AppState>, p: Principal) -> ApiResult<Json<User>> {
    Ok(Json(s.accounts.me(&p).await?))
}

async fn totp_enrol(State(s): State<AppState>, p: Principal) -> ApiResult<Json<TotpEnrolment>> {
    Ok(Json(s.accounts.totp_enrol(&p).await?))
}

async fn totp_confirm(
    State(s): State<AppState>,
    p: Principal,
    Body(c): Body<Code>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.accounts.totp_confirm(&p, &c.code).await?))
}

async fn email_otp(
    State(s): State<AppState>,
    p: Principal,
    Body(t): Body<Toggle>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.accounts.set_email_otp(&p, t.enabled).await?))
}

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

async fn tokens(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(s.accounts.api_tokens(&p).await?))
}

async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<StatusCode> {
    s.accounts.revoke_api_token(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
