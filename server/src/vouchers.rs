//! Vouchers: codes worth credits that platform admins issue (to sell, or to give away) and users
//! redeem once; the platform's first payment provider. A code is shown once, when issued, and
//! kept only as its hash.

use std::sync::Arc;

use chrono::TimeZone;
use nubes::{async_trait, Error, ErrorKind, Result};
use nubes_auth::token::{self, TokenKind};
use nubes_billing::{Credits, Payment, PaymentProvider};

use crate::billing::{Billing, Clock};
use crate::db::{Db, Redemption, VoucherRow};
use crate::tenancy::Principal;
pub use nubes_api::billing::{IssueVouchers, VoucherView};

/// At most this many vouchers are issued at once.
const MAX_BATCH: u32 = 100;
/// And they last at most ten years.
const MAX_DAYS: u32 = 3650;

#[derive(Debug)]
pub struct Vouchers {
    db: Db,
    clock: Arc<dyn Clock>,
}

impl Vouchers {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }
}

fn date(t: i64) -> String {
    chrono::Utc.timestamp_opt(t, 0).single().map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

#[async_trait]
impl PaymentProvider for Vouchers {
    fn name(&self) -> &'static str {
        "voucher"
    }

    async fn settle(&self, user_id: &str, code: &str) -> Result<Payment> {
        let code = code.trim();
        // The code itself is never echoed: an error message may end up in a log.
        if !token::looks_like(TokenKind::Voucher, code) {
            return Err(Error::invalid_input(
                "that is not a voucher code: codes are nbv_ and 32 letters and digits",
            ));
        }
        match self
            .db
            .redeem_voucher(&token::hash(code), user_id, self.clock.now())
            .await?
        {
            Redemption::Theirs(v) => Ok(Payment {
                reference: v.id,
                amount: Credits::from_micros(v.amount),
                memo: format!("voucher: {}", v.memo),
            }),
            Redemption::NoSuchCode => Err(Error::not_found("no voucher has this code")),
            Redemption::Taken => Err(Error::new(
                ErrorKind::Conflict,
                "this voucher was redeemed by someone else",
            )),
            Redemption::Expired(at) => Err(Error::new(
                ErrorKind::Conflict,
                format!("this voucher expired on {}", date(at)),
            )),
        }
    }
}

fn view(v: VoucherRow, code: Option<String>) -> VoucherView {
    VoucherView {
        id: v.id,
        code,
        amount: Credits::from_micros(v.amount).to_string(),
        memo: v.memo,
        created_by: v.created_by,
        created_at: v.created_at,
        expires_at: v.expires_at,
        redeemed_by: v.redeemed_by,
        redeemed_at: v.redeemed_at,
    }
}

impl Billing {
    /// Issues vouchers (platform admins); their codes are in the answer and nowhere else.
    pub async fn issue_vouchers(
        &self,
        p: &Principal,
        req: IssueVouchers,
    ) -> Result<Vec<VoucherView>> {
        self.admin(p).await?;
        let amount = crate::billing::admin_amount(&req.amount)?;
        if amount <= Credits::ZERO {
            return Err(Error::invalid_input(
                "a voucher is worth some credits: the amount must be positive",
            ));
        }
        let count = req.count.unwrap_or(1);
        if !(1..=MAX_BATCH).contains(&count) {
            return Err(Error::invalid_input(format!(
                "count must be 1 to {MAX_BATCH}"
            )));
        }
        let memo = crate::billing::admin_memo(&req.memo, "say what they are for")?;
        let now = self.now();
        let expires_at = match req.expires_in_days {
            Some(days @ 1..=MAX_DAYS) => Some(now + i64::from(days) * 86_400),
            Some(_) => {
                return Err(Error::invalid_input(format!(
                    "expires_in_days must be 1 to {MAX_DAYS}"
                )))
            }
            None => None,
        };
        let mut issued = Vec::new();
        for _ in 0..count {
            let code = token::issue(TokenKind::Voucher);
            let row = VoucherRow {
                id: token::random_id(),
                amount: amount.micros(),
                memo: memo.to_string(),
                created_by: p.user_id.clone(),
                created_at: now,
                expires_at,
                redeemed_by: None,
                redeemed_at: None,
            };
            issued.push((row, code));
        }
        let stored: Vec<_> = issued
            .iter()
            .map(|(row, code)| (row.clone(), code.hash.clone()))
            .collect();
        self.db().insert_vouchers(&stored).await?;
        Ok(issued
            .into_iter()
            .map(|(row, code)| view(row, Some(code.plaintext)))
            .collect())
    }

    /// The newest vouchers, redeemed or not (platform admins).
    pub async fn vouchers(&self, p: &Principal) -> Result<Vec<VoucherView>> {
        self.admin(p).await?;
        Ok(self
            .db()
            .vouchers(1000)
            .await?
            .into_iter()
            .map(|v| view(v, None))
            .collect())
    }
}
