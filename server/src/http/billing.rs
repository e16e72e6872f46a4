//! `/v1/billing/...` and `/v1/admin/billing/...`: each handler is a call into `Billing`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{Body, Params};
use super::AppState;
use crate::billing::{
    Balance, Catalog, Credit, Pay, PlanView, SwitchPlan, Switched, TxView, Usage, UsageQuery,
};
use crate::tenancy::Principal;
use crate::vouchers::{IssueVouchers, VoucherView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(plans))
        .routes(routes!(plan, switch))
        .routes(routes!(balance))
        .routes(routes!(transactions))
        .routes(routes!(usage))
        .routes(routes!(top_up))
        .routes(routes!(adjust))
        .routes(routes!(pay))
        .routes(routes!(issue_vouchers, vouchers))
}

#[utoipa::path(
    get,
    path = "/v1/billing/plans",
    operation_id = "billing_plans",
    tag = "billing",
    summary = "The plans, their grants and limits, and the prices",
    responses((status = 200, body = Catalog), super::error::Errors)
)]
async fn plans(State(s): State<AppState>, _p: Principal) -> Json<Catalog> {
    Json(s.billing.catalog())
}

#[utoipa::path(
    get,
    path = "/v1/billing/plan",
    operation_id = "billing_plan",
    tag = "billing",
    summary = "The caller's plan (Free until they switch)",
    responses((status = 200, body = PlanView), super::error::Errors)
)]
async fn plan(State(s): State<AppState>, p: Principal) -> ApiResult<Json<PlanView>> {
    Ok(Json(s.billing.my_plan(&p).await?))
}

#[utoipa::path(
    put,
    path = "/v1/billing/plan",
    operation_id = "billing_switch_plan",
    tag = "billing",
    summary = "Switch plans now; the rest of the month's grant is prorated",
    request_body = SwitchPlan,
    responses((status = 200, body = Switched), super::error::Errors)
)]
async fn switch(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<SwitchPlan>,
) -> ApiResult<Json<Switched>> {
    Ok(Json(s.billing.switch(&p, b).await?))
}

#[utoipa::path(
    get,
    path = "/v1/billing/balance",
    operation_id = "billing_balance",
    tag = "billing",
    summary = "The caller's credits",
    responses((status = 200, body = Balance), super::error::Errors)
)]
async fn balance(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Balance>> {
    Ok(Json(s.billing.balance(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/billing/transactions",
    operation_id = "billing_transactions",
    tag = "billing",
    summary = "What moved the caller's balance, newest first",
    responses((status = 200, body = Vec<TxView>), super::error::Errors)
)]
async fn transactions(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TxView>>> {
    Ok(Json(s.billing.transactions(&p).await?))
}

#[utoipa::path(
    get,
    path = "/v1/billing/usage",
    operation_id = "billing_usage",
    tag = "billing",
    summary = "What the caller's instances used, by day, instance and resource",
    params(UsageQuery),
    responses((status = 200, body = Usage), super::error::Errors)
)]
async fn usage(
    State(s): State<AppState>,
    p: Principal,
    Params(q): Params<UsageQuery>,
) -> ApiResult<Json<Usage>> {
    Ok(Json(s.billing.usage(&p, q).await?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/billing/top-ups",
    operation_id = "billing_top_up",
    tag = "billing",
    summary = "Add credits a user paid for (platform admins)",
    request_body = Credit,
    responses((status = 201, body = TxView), super::error::Errors)
)]
async fn top_up(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<Credit>,
) -> ApiResult<(StatusCode, Json<TxView>)> {
    Ok((StatusCode::CREATED, Json(s.billing.top_up(&p, b).await?)))
}

#[utoipa::path(
    post,
    path = "/v1/admin/billing/adjustments",
    operation_id = "billing_adjust",
    tag = "billing",
    summary = "Correct a user's balance either way, saying why (platform admins)",
    request_body = Credit,
    responses((status = 201, body = TxView), super::error::Errors)
)]
async fn adjust(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<Credit>,
) -> ApiResult<(StatusCode, Json<TxView>)> {
    Ok((StatusCode::CREATED, Json(s.billing.adjust(&p, b).await?)))
}

#[utoipa::path(
    post,
    path = "/v1/billing/payments",
    operation_id = "billing_pay",
    tag = "billing",
    summary = "Add credits you paid for through a payment provider (a voucher's code), once",
    request_body = Pay,
    responses((status = 201, body = TxView), super::error::Errors)
)]
async fn pay(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<Pay>,
) -> ApiResult<(StatusCode, Json<TxView>)> {
    Ok((StatusCode::CREATED, Json(s.billing.pay(&p, b).await?)))
}

#[utoipa::path(
    post,
    path = "/v1/admin/billing/vouchers",
    operation_id = "billing_issue_vouchers",
    tag = "billing",
    summary = "Issue vouchers worth credits; their codes are shown this once (platform admins)",
    request_body = IssueVouchers,
    responses((status = 201, body = Vec<VoucherView>), super::error::Errors)
)]
async fn issue_vouchers(
    State(s): State<AppState>,
    p: Principal,
    Body(b): Body<IssueVouchers>,
) -> ApiResult<(StatusCode, Json<Vec<VoucherView>>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.billing.issue_vouchers(&p, b).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/admin/billing/vouchers",
    operation_id = "billing_vouchers",
    tag = "billing",
    summary = "The newest vouchers, without their codes, and who redeemed them (platform admins)",
    responses((status = 200, body = Vec<VoucherView>), super::error::Errors)
)]
async fn vouchers(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<VoucherView>>> {
    Ok(Json(s.billing.vouchers(&p).await?))
}
