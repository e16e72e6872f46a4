//! Billing on a Nubes server: plans, the caller's balance and transactions, payments (a
//! voucher's code), and admins' top-ups, adjustments and vouchers. Not an SDK trait (it is the platform's), so plain functions.

use reqwest::Method;

use crate::client::{read_json, Client};
use nubes_core::Result;

pub use nubes_api::billing::{
    Balance, Catalog, Cost, LimitsView, PlanView, PricesView, Switched, TxView, Usage, UsageDay,
    VoucherView,
};
use nubes_api::billing::{Credit, IssueVouchers, Pay, SwitchPlan, UsageQuery};

const NONE: Option<&()> = None;

/// Usage by day, instance and resource; days as YYYY-MM-DD (defaults: this month so far).
pub async fn usage(client: &Client, from: Option<&str>, to: Option<&str>) -> Result<Usage> {
    let query = UsageQuery {
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    };
    let res = client
        .send(Method::GET, "/v1/billing/usage", |r| r.query(&query))
        .await?;
    read_json(res).await
}

pub async fn catalog(client: &Client) -> Result<Catalog> {
    client.call(Method::GET, "/v1/billing/plans", NONE).await
}

pub async fn plan(client: &Client) -> Result<PlanView> {
    client.call(Method::GET, "/v1/billing/plan", NONE).await
}

pub async fn switch(client: &Client, plan: &str) -> Result<Switched> {
    let body = SwitchPlan {
        plan: plan.to_string(),
    };
    client
        .call(Method::PUT, "/v1/billing/plan", Some(&body))
        .await
}

pub async fn balance(client: &Client) -> Result<Balance> {
    client.call(Method::GET, "/v1/billing/balance", NONE).await
}

pub async fn transactions(client: &Client) -> Result<Vec<TxView>> {
    client
        .call(Method::GET, "/v1/billing/transactions", NONE)
        .await
}

/// Adds credits a user paid for (platform admins); `amount` in credits, like "25".
pub async fn top_up(client: &Client, user_id: &str, amount: &str, memo: &str) -> Result<TxView> {
    admin_posting(client, "/v1/admin/billing/top-ups", user_id, amount, memo).await
}

/// Corrects a user's balance either way (platform admins).
pub async fn adjust(client: &Client, user_id: &str, amount: &str, memo: &str) -> Result<TxView> {
    admin_posting(
        client,
        "/v1/admin/billing/adjustments",
        user_id,
        amount,
        memo,
    )
    .await
}

/// Top-ups and adjustments take the same body, at their own routes.
async fn admin_posting(
    client: &Client,
    route: &str,
    user_id: &str,
    amount: &str,
    memo: &str,
) -> Result<TxView> {
    let body = Credit {
        user_id: user_id.to_string(),
        amount: amount.to_string(),
        memo: memo.to_string(),
    };
    client.call(Method::POST, route, Some(&body)).await
}

/// Credits the caller with what `provider` settles for `token` (for `voucher`, its code).
pub async fn pay(client: &Client, provider: &str, token: &str) -> Result<TxView> {
    let body = Pay {
        provider: provider.to_string(),
        token: token.to_string(),
    };
    client
        .call(Method::POST, "/v1/billing/payments", Some(&body))
        .await
}

/// Issues `count` vouchers worth `amount` credits each (platform admins); their codes are in
/// this answer only.
pub async fn issue_vouchers(
    client: &Client,
    amount: &str,
    count: u32,
    memo: &str,
    expires_in_days: Option<u32>,
) -> Result<Vec<VoucherView>> {
    let body = IssueVouchers {
        amount: amount.to_string(),
        count: Some(count),
        memo: memo.to_string(),
        expires_in_days,
    };
    client
        .call(Method::POST, "/v1/admin/billing/vouchers", Some(&body))
        .await
}

/// The newest vouchers, without codes (platform admins).
pub async fn vouchers(client: &Client) -> Result<Vec<VoucherView>> {
    client
        .call(Method::GET, "/v1/admin/billing/vouchers", NONE)
        .await
}
