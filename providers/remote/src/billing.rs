//! Billing on a Nubes server: plans, the caller's balance and transactions, payments (a
//! voucher's code), and admins' top-ups, adjustments and vouchers. Not an SDK trait (it is the platform's), so plain functions.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use nubes_core::Result;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub cpus: f64,
    pub memory: u64,
    pub disk: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub plan: String,
    /// Credits granted each month.
    pub monthly: String,
    /// Credits paid each month, before the grant.
    pub price: String,
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub instance_hour: String,
    pub core_hour: String,
    pub memory_gb_hour: String,
    pub disk_gb: String,
    pub credit_usd_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub plans: Vec<Plan>,
    pub prices: Prices,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    pub credits: String,
    pub micro_credits: i64,
    pub usd_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    pub kind: String,
    pub memo: String,
    pub amount: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Switched {
    pub plan: Plan,
    pub prorated: String,
    pub price: String,
    pub net: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub instance: String,
    pub cpu: String,
    pub memory: String,
    pub disk: String,
    pub total: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageDay {
    pub day: String,
    pub instance_id: String,
    pub name: String,
    pub cost: Cost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub from: String,
    pub to: String,
    pub total: Cost,
    pub days: Vec<UsageDay>,
}

/// A voucher as admins see it; `code` only in the answer that issued it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voucher {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub amount: String,
    pub memo: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub redeemed_by: Option<String>,
    pub redeemed_at: Option<i64>,
}

const NONE: Option<&()> = None;

/// Usage by day, instance and resource; days as YYYY-MM-DD (defaults: this month so far).
pub async fn usage(client: &Client, from: Option<&str>, to: Option<&str>) -> Result<Usage> {
    let mut query = Vec::new();
    if let Some(f) = from {
        query.push(format!("from={f}"));
    }
    if let Some(t) = to {
        query.push(format!("to={t}"));
    }
    let path = if query.is_empty() {
        "/v1/billing/usage".to_string()
    } else {
        format!("/v1/billing/usage?{}", query.join("&"))
    };
    client.call(Method::GET, &path, NONE).await
}

pub async fn catalog(client: &Client) -> Result<Catalog> {
    client.call(Method::GET, "/v1/billing/plans", NONE).await
}

pub async fn plan(client: &Client) -> Result<Plan> {
    client.call(Method::GET, "/v1/billing/plan", NONE).await
}

pub async fn switch(client: &Client, plan: &str) -> Result<Switched> {
    let body = serde_json::json!({ "plan": plan });
    client
        .call(Method::PUT, "/v1/billing/plan", Some(&body))
        .await
}

pub async fn balance(client: &Client) -> Result<Balance> {
    client.call(Method::GET, "/v1/billing/balance", NONE).await
}

pub async fn transactions(client: &Client) -> Result<Vec<Transaction>> {
    client
        .call(Method::GET, "/v1/billing/transactions", NONE)
        .await
}

/// Adds credits a user paid for (platform admins); `amount` in credits, like "25".
pub async fn top_up(
    client: &Client,
    user_id: &str,
    amount: &str,
    memo: &str,
) -> Result<Transaction> {
    admin_posting(client, "/v1/admin/billing/top-ups", user_id, amount, memo).await
}

/// Corrects a user's balance either way (platform admins).
pub async fn adjust(
    client: &Client,
    user_id: &str,
    amount: &str,
    memo: &str,
) -> Result<Transaction> {
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
) -> Result<Transaction> {
    let body = serde_json::json!({ "user_id": user_id, "amount": amount, "memo": memo });
    client.call(Method::POST, route, Some(&body)).await
}

/// Credits the caller with what `provider` settles for `token` (for `voucher`, its code).
pub async fn pay(client: &Client, provider: &str, token: &str) -> Result<Transaction> {
    let body = serde_json::json!({ "provider": provider, "token": token });
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
) -> Result<Vec<Voucher>> {
    let body = serde_json::json!({
        "amount": amount,
        "count": count,
        "memo": memo,
        "expires_in_days": expires_in_days,
    });
    client
        .call(Method::POST, "/v1/admin/billing/vouchers", Some(&body))
        .await
}

/// The newest vouchers, without codes (platform admins).
pub async fn vouchers(client: &Client) -> Result<Vec<Voucher>> {
    client
        .call(Method::GET, "/v1/admin/billing/vouchers", NONE)
        .await
}
