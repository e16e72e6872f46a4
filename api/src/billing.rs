//! Billing: plans, balances, the ledger's transactions, usage, payments and vouchers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanView {
    /// free, pro, unlimited or pay_as_you_go.
    pub plan: String,
    /// Credits granted at the start of each month.
    pub monthly: String,
    /// Credits paid at the start of each month, before the grant.
    pub price: String,
    pub limits: LimitsView,
    /// The current month's start (seconds since the epoch), for the caller's own plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitsView {
    pub cpus: f64,
    /// Bytes.
    pub memory: u64,
    /// Bytes.
    pub disk: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricesView {
    pub instance_hour: String,
    pub core_hour: String,
    pub memory_gb_hour: String,
    pub disk_gb: String,
    /// What one credit costs, in US cents.
    pub credit_usd_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalog {
    pub plans: Vec<PlanView>,
    pub prices: PricesView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    /// Credits, exact (up to six decimals).
    pub credits: String,
    pub micro_credits: i64,
    pub usd_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxView {
    pub id: String,
    /// usage, grant, top_up, adjustment, plan_switch or payment.
    pub kind: String,
    pub memo: String,
    /// What it did to the balance: negative is a charge.
    pub amount: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Switched {
    pub plan: PlanView,
    /// Grant credits added (or taken, when negative) for the rest of this month.
    pub prorated: String,
    /// What the new plan costs for the rest of this month (a price paid is not given back).
    pub price: String,
    /// What the switch did to the balance: `prorated` less `price`.
    pub net: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SwitchPlan {
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Credit {
    pub user_id: String,
    /// Credits, like "25" or "-0.5" (top-ups must be positive).
    pub amount: String,
    pub memo: String,
}

/// Something paid, for a payment provider to settle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Pay {
    /// Which provider: `voucher`.
    pub provider: String,
    /// What the provider gave the user: a voucher's code.
    pub token: String,
}

/// Credits by resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cost {
    pub instance: String,
    pub cpu: String,
    pub memory: String,
    pub disk: String,
    pub total: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageDay {
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub instance_id: String,
    pub name: String,
    pub cost: Cost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub from: String,
    pub to: String,
    /// Everything in the period, by resource.
    pub total: Cost,
    /// Per day and instance.
    pub days: Vec<UsageDay>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// First day, YYYY-MM-DD (default: the first of this month).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD, included (default: today).
    pub to: Option<String>,
}

/// Vouchers to issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IssueVouchers {
    /// Credits each is worth, like "25".
    pub amount: String,
    /// How many (default 1, at most 100).
    #[serde(default)]
    pub count: Option<u32>,
    /// What they are for; users see it in their transactions.
    pub memo: String,
    /// Days until they expire (default: never; at most 3650).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A voucher as admins see it; its code only when issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoucherView {
    pub id: String,
    /// Shown once, when issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub amount: String,
    pub memo: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub redeemed_by: Option<String>,
    pub redeemed_at: Option<i64>,
}
