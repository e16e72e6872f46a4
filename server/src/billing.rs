//! Billing for tenants: plans and their monthly grants, balances, the ledger's transactions,
//! admin top-ups and adjustments. The rules (money, prices, plans, balanced transactions) are
//! nubes-billing's; this module stores them, on a clock the tests control.

use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use nubes::{Error, Result};
use nubes_auth::{token, Action, Target};
use nubes_billing::{
    day, Account, Credits, Fee, Kind, PaymentProvider, Plan, PlanId, Prices, Resources, Transaction,
};

use crate::db::{user_lock, Db, Locked, Posted};
use crate::tenancy;
use crate::tenancy::Principal;
pub use nubes_api::billing::{
    Balance, Catalog, Cost, Credit, LimitsView, Pay, PlanView, PricesView, SwitchPlan, Switched,
    TxView, Usage, UsageDay, UsageQuery,
};

pub use nubes_billing::{Clock, SystemClock};

/// The start of the month `t` falls in, and of the next one (UTC).
pub fn month_of(t: i64) -> (i64, i64) {
    let at = Utc.timestamp_opt(t, 0).single().unwrap_or_default();
    let start = Utc
        .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let (y, m) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    (start.timestamp(), next.timestamp())
}

fn cost(b: &nubes_billing::Breakdown) -> Cost {
    Cost {
        instance: b.instance.to_string(),
        cpu: b.cpu.to_string(),
        memory: b.memory.to_string(),
        disk: b.disk.to_string(),
        total: b.total().to_string(),
    }
}

/// A balance as the API shows it.
pub fn balance(b: Credits) -> Balance {
    Balance {
        credits: b.to_string(),
        micro_credits: b.micros(),
        usd_cents: b.usd_cents(),
    }
}

fn parse_day(s: &str) -> Result<i64> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| Error::invalid_input(format!("`{s}` is not a day (YYYY-MM-DD)")))?;
    Ok(day(d
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()))
}

fn show_day(day: i64) -> String {
    Utc.timestamp_opt(day * 86_400, 0)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// The most an admin moves at once (top-up, adjustment, voucher) either way: $500,000. Far past
/// any real payment, and far short of what would overflow a balance.
const MAX_ADMIN_AMOUNT: Credits = Credits::whole(1_000_000);

/// An amount an admin gives, within bounds.
pub(crate) fn admin_amount(text: &str) -> Result<Credits> {
    let amount: Credits = text.parse()?;
    if amount > MAX_ADMIN_AMOUNT || amount < -MAX_ADMIN_AMOUNT {
        return Err(Error::invalid_input(format!(
            "{amount} credits is more than {MAX_ADMIN_AMOUNT} at once"
        )));
    }
    Ok(amount)
}

/// An admin's memo, trimmed, of 1-500 characters; `ask` says what it should say.
pub(crate) fn admin_memo<'a>(text: &'a str, ask: &str) -> Result<&'a str> {
    let memo = text.trim();
    if memo.is_empty() || memo.len() > 500 {
        return Err(Error::invalid_input(format!(
            "{ask}, in 1-500 characters (memo)"
        )));
    }
    Ok(memo)
}

#[derive(Debug, Clone)]
pub struct Billing {
    db: Db,
    clock: Arc<dyn Clock>,
    plans: Arc<Vec<Plan>>,
    prices: Prices,
    fee: Fee,
    /// Balances at which a user is told their credits run low, highest first.
    alerts: Arc<Vec<Credits>>,
    mailer: Option<Arc<dyn crate::mail::Mailer>>,
    /// Where paid credits come from, by name.
    payments: Arc<Vec<Arc<dyn PaymentProvider>>>,
}

fn plan_view(p: &Plan, period_start: Option<i64>) -> PlanView {
    PlanView {
        plan: p.id.as_str().to_string(),
        monthly: p.monthly.to_string(),
        price: p.price.to_string(),
        limits: LimitsView {
            cpus: p.limits.cpus(),
            memory: p.limits.memory,
            disk: p.limits.disk,
        },
        period_start,
    }
}

impl Billing {
    /// Billing with vouchers as its one payment provider.
    pub fn new(db: Db, clock: Arc<dyn Clock>, settings: nubes_billing::Settings) -> Self {
        let vouchers: Arc<dyn PaymentProvider> =
            Arc::new(crate::vouchers::Vouchers::new(db.clone(), clock.clone()));
        Self {
            db,
            clock,
            plans: Arc::new(settings.plans),
            prices: settings.prices,
            fee: settings.fee,
            alerts: Arc::new(settings.alerts),
            mailer: None,
            payments: Arc::new(vec![vouchers]),
        }
    }

    /// Takes payments through `provider` too (one of a name: a later one replaces it).
    pub fn with_payment_provider(mut self, provider: Arc<dyn PaymentProvider>) -> Self {
        let mut all: Vec<_> = self
            .payments
            .iter()
            .filter(|p| p.name() != provider.name())
            .cloned()
            .collect();
        all.push(provider);
        self.payments = Arc::new(all);
        self
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Alerts go by email too, through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::mail::Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The levels a charge from `before` to `after` crossed going down.
    pub fn crossed(&self, before: Credits, after: Credits) -> Vec<Credits> {
        self.alerts
            .iter()
            .copied()
            .filter(|level| before > *level && after <= *level)
            .collect()
    }

    /// Tells a user their credits ran below `level`: an event, and an email when mail is set up.
    pub async fn alert(
        &self,
        events: &crate::events::Events,
        user_id: &str,
        level: Credits,
        balance: Credits,
    ) {
        let mut e = crate::events::event("billing.low_balance");
        e.user_id = Some(user_id.to_string());
        e.state = Some(format!("{balance} credits left (below {level})"));
        events.publish(e);
        let Some(mailer) = &self.mailer else {
            return;
        };
        let Ok(user) = self.db.user(user_id).await else {
            return;
        };
        let body = format!(
            "Your Nubes balance is {balance} credits, below {level}. When it reaches zero your \
             instances are stopped. Top up or switch plans to keep them running."
        );
        if let Err(e) = mailer
            .send(&user.email, "Your Nubes credits are running low", &body)
            .await
        {
            tracing::warn!(error = %e, "a low-balance email was not sent");
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub fn prices(&self) -> Prices {
        self.prices
    }

    pub fn fee(&self) -> Fee {
        self.fee
    }

    fn plan(&self, id: PlanId) -> &Plan {
        self.plans
            .iter()
            .find(|p| p.id == id)
            .expect("every plan id has a plan")
    }

    pub(crate) async fn admin(&self, p: &Principal) -> Result<()> {
        let actor = tenancy::actor(&self.db, p, "").await?;
        tenancy::check(
            &actor,
            Action::PlatformAdmin,
            &Target::Platform,
            "billing for others",
        )
    }

    pub fn catalog(&self) -> Catalog {
        let pr = &self.prices;
        Catalog {
            plans: self.plans.iter().map(|p| plan_view(p, None)).collect(),
            prices: PricesView {
                instance_hour: pr.instance_hour.to_string(),
                core_hour: pr.core_hour.to_string(),
                memory_gb_hour: pr.memory_gb_hour.to_string(),
                disk_gb: pr.disk_gb.to_string(),
                credit_usd_cents: nubes_billing::money::CENTS_PER_CREDIT,
            },
        }
    }

    async fn post(&self, tx: &Transaction, guard: Option<&str>) -> Result<Posted> {
        self.db
            .post(&token::random_id(), tx, guard, self.clock.now())
            .await
    }

    /// `post` inside the caller's transaction.
    pub(crate) async fn post_in(
        &self,
        db: &mut Locked,
        tx: &Transaction,
        guard: Option<&str>,
    ) -> Result<Posted> {
        Db::post_in(db, &token::random_id(), tx, guard, self.clock.now()).await
    }

    /// The user's plan, with this month renewed: a user without a plan is on Free; a paid plan
    /// is paid for the month (a wallet that cannot pay falls back to Free) and then granted.
    pub async fn current(&self, user_id: &str) -> Result<(Plan, i64)> {
        let (month, _) = month_of(self.clock.now());
        if let Some((plan, start)) = self.db.user_plan(user_id).await? {
            if start == month {
                return Ok((self.plan(plan.parse()?).clone(), month));
            }
        }
        let mut db = self.db.locked(&[&user_lock(user_id)]).await?;
        let plan = self.renewed_in(&mut db, user_id, month).await?;
        db.commit().await.map_err(|e| crate::db::map(e, "plan"))?;
        Ok((plan, month))
    }

    /// Under the user's lock: their plan for `month`, renewed if it was last renewed before.
    async fn renewed_in(&self, db: &mut Locked, user_id: &str, month: i64) -> Result<Plan> {
        let (id, period) = match Db::user_plan_on(db, user_id).await? {
            Some((plan, start)) => (plan.parse::<PlanId>()?, start),
            None => (PlanId::Free, i64::MIN),
        };
        let mut plan = self.plan(id).clone();
        if period == month {
            return Ok(plan);
        }
        let wallet = Account::Wallet(user_id.to_string());
        if plan.price > Credits::ZERO && Db::balance_in(db, &wallet.key()).await? < plan.price {
            tracing::info!(user = %user_id, plan = id.as_str(), "a plan's price is not covered: back on Free");
            plan = self.plan(PlanId::Free).clone();
        }
        let key = format!("grant:{user_id}:{month}");
        let memo = format!("{} plan, this month", plan.id.as_str());
        let mut tx = Transaction::new(key, Kind::Grant, memo);
        if plan.price > Credits::ZERO {
            tx = tx.transfer(wallet.clone(), Account::Platform, plan.price);
        }
        if plan.monthly > Credits::ZERO {
            tx = tx.transfer(Account::Grants, wallet.clone(), plan.monthly);
        }
        if !tx.entries.is_empty() {
            let guard = wallet.key();
            self.post_in(db, &tx, Some(&guard)).await?;
        }
        Db::set_user_plan_in(db, user_id, plan.id.as_str(), month).await?;
        Ok(plan)
    }

    pub async fn my_plan(&self, p: &Principal) -> Result<PlanView> {
        let (plan, start) = self.current(&p.user_id).await?;
        Ok(plan_view(&plan, Some(start)))
    }

    /// Switches the caller's plan: the new plan's price for the rest of the month is paid and
    /// the difference of the grants for it given or taken, with the plan changed, in one
    /// database transaction under the user's lock, so racing switches run one after the other
    /// and each is posted under a key of its own.
    pub async fn switch(&self, p: &Principal, req: SwitchPlan) -> Result<Switched> {
        let to: PlanId = req.plan.parse()?;
        let now = self.clock.now();
        let (month, next) = month_of(now);
        let lock = user_lock(&p.user_id);
        let mut db = self.db.locked(&[&lock]).await?;
        let from = self.renewed_in(&mut db, &p.user_id, month).await?;
        if from.id == to {
            return Err(Error::conflict(format!(
                "already on the {} plan",
                to.as_str()
            )));
        }
        let target = self.plan(to).clone();
        let (left, whole) = ((next - now).max(0) as u64, (next - month).max(1) as u64);
        let prorated = nubes_billing::plans::prorate(&from, &target, left, whole);
        let price = nubes_billing::plans::switch_price(&target, left, whole);
        let wallet = Account::Wallet(p.user_id.clone());
        // Unique to this switch: the lock's count goes up once per holder.
        let key = format!(
            "switch:{}:{}",
            p.user_id,
            Db::lock_version(&mut db, &lock).await?
        );
        let memo = format!("{} → {}, rest of the month", from.id.as_str(), to.as_str());
        let mut tx = Transaction::new(key, Kind::PlanSwitch, memo);
        if prorated.is_negative() {
            tx = tx.transfer(wallet.clone(), Account::Grants, -prorated);
        }
        if price > Credits::ZERO {
            tx = tx.transfer(wallet.clone(), Account::Platform, price);
        }
        if prorated > Credits::ZERO {
            tx = tx.transfer(Account::Grants, wallet.clone(), prorated);
        }
        if !tx.entries.is_empty() {
            // A paid plan is paid before it is given; taking back a grant may leave a debt.
            let guard = (price > Credits::ZERO).then(|| wallet.key());
            if self.post_in(&mut db, &tx, guard.as_deref()).await? == Posted::Replayed {
                return Err(Error::conflict("this switch was posted already"));
            }
        }
        Db::set_user_plan_in(&mut db, &p.user_id, to.as_str(), month).await?;
        db.commit().await.map_err(|e| crate::db::map(e, "plan"))?;
        let net = prorated.checked_sub(price).unwrap_or(prorated);
        Ok(Switched {
            plan: plan_view(&target, Some(month)),
            prorated: prorated.to_string(),
            price: price.to_string(),
            net: net.to_string(),
        })
    }

    /// Whether `want` more fits both plans that hold it: the creator's, over all their own
    /// instances, and the plan of the organization's `creator`, over all of its instances
    /// (leaving out `except`, an instance being resized). Read on `conn`: a transaction holding
    /// both tenants' locks, so the check and the row it admits commit together, or any
    /// connection for a preview. Plans are renewed (`current`) before the lock is taken.
    pub(crate) async fn admit(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        (org_id, creator): (&str, &str),
        want: Resources,
        except: &str,
    ) -> Result<()> {
        let plan = self.plan_on(conn, user_id).await?;
        plan.admit(Db::held_by_user(conn, user_id, except).await?, want)?;
        let plan = self.plan_on(conn, creator).await?;
        let together = Db::held_in_org(conn, org_id, except).await?;
        plan.admit(together, want).map_err(|e| {
            Error::new(
                e.kind(),
                format!("this organization's instances together: {}", e.message()),
            )
        })
    }

    /// A user's plan as stored (Free for a user without one), read on `conn`.
    async fn plan_on(&self, conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<Plan> {
        let id = match Db::user_plan_on(conn, user_id).await? {
            Some((plan, _)) => plan.parse::<PlanId>()?,
            None => PlanId::Free,
        };
        Ok(self.plan(id).clone())
    }

    pub async fn balance_of(&self, user_id: &str) -> Result<Credits> {
        self.current(user_id).await?;
        self.db
            .balance(&Account::Wallet(user_id.to_string()).key())
            .await
    }

    pub async fn balance(&self, p: &Principal) -> Result<Balance> {
        Ok(balance(self.balance_of(&p.user_id).await?))
    }

    /// What the caller's instances used, by day, instance and resource.
    pub async fn usage(&self, p: &Principal, q: UsageQuery) -> Result<Usage> {
        let now = self.clock.now();
        let from = match &q.from {
            Some(d) => parse_day(d)?,
            None => day(month_of(now).0),
        };
        let to = match &q.to {
            Some(d) => parse_day(d)?,
            None => day(now),
        };
        if to < from {
            return Err(Error::invalid_input("`to` is before `from`"));
        }
        if to - from > 366 {
            return Err(Error::invalid_input("a usage report covers at most a year"));
        }
        let mut total = nubes_billing::Breakdown::default();
        let mut days = Vec::new();
        for r in self.db.usage(&p.user_id, from, to).await? {
            let b = nubes_billing::Breakdown {
                instance: Credits::from_micros(r.instance),
                cpu: Credits::from_micros(r.cpu),
                memory: Credits::from_micros(r.memory),
                disk: Credits::from_micros(r.disk),
            };
            total = nubes_billing::Meter::sum(&[total, b]);
            days.push(UsageDay {
                day: show_day(r.day),
                instance_id: r.instance_id,
                name: r.name,
                cost: cost(&b),
            });
        }
        Ok(Usage {
            from: show_day(from),
            to: show_day(to),
            total: cost(&total),
            days,
        })
    }

    pub async fn transactions(&self, p: &Principal) -> Result<Vec<TxView>> {
        self.current(&p.user_id).await?;
        let account = Account::Wallet(p.user_id.clone()).key();
        Ok(self
            .db
            .account_transactions(&account, 500)
            .await?
            .into_iter()
            .map(|t| TxView {
                id: t.id,
                kind: t.kind,
                memo: t.memo,
                amount: Credits::from_micros(t.amount).to_string(),
                created_at: t.created_at,
            })
            .collect())
    }

    /// Takes `amount` from the user's wallet only if it covers it; concurrent charges against
    /// one balance never overspend it. `key` makes it idempotent.
    pub async fn charge_upfront(
        &self,
        user_id: &str,
        key: String,
        memo: String,
        amount: Credits,
    ) -> Result<Posted> {
        self.current(user_id).await?;
        let mut db = self.db.locked(&[]).await?;
        let posted = self
            .charge_upfront_in(&mut db, user_id, key, memo, amount)
            .await?;
        db.commit().await.map_err(|e| crate::db::map(e, "ledger"))?;
        Ok(posted)
    }

    /// `charge_upfront` inside the caller's transaction (the user's plan renewed before).
    pub(crate) async fn charge_upfront_in(
        &self,
        db: &mut Locked,
        user_id: &str,
        key: String,
        memo: String,
        amount: Credits,
    ) -> Result<Posted> {
        let wallet = Account::Wallet(user_id.to_string());
        let guard = wallet.key();
        let tx =
            Transaction::new(key, Kind::Usage, memo).transfer(wallet, Account::Platform, amount);
        self.post_in(db, &tx, Some(&guard)).await
    }

    /// Gives back what `charge_upfront` took and was not used. `key` makes it idempotent.
    pub async fn refund(
        &self,
        user_id: &str,
        key: String,
        memo: &str,
        amount: Credits,
    ) -> Result<Posted> {
        let mut db = self.db.locked(&[]).await?;
        let posted = self.refund_in(&mut db, user_id, key, memo, amount).await?;
        db.commit().await.map_err(|e| crate::db::map(e, "ledger"))?;
        Ok(posted)
    }

    /// Gives back, inside the caller's transaction, what `charge_upfront` took for something
    /// that was not made.
    pub(crate) async fn refund_in(
        &self,
        db: &mut Locked,
        user_id: &str,
        key: String,
        memo: &str,
        amount: Credits,
    ) -> Result<Posted> {
        let tx = Transaction::new(key, Kind::Adjustment, memo).transfer(
            Account::Platform,
            Account::Wallet(user_id.to_string()),
            amount,
        );
        self.post_in(db, &tx, None).await
    }

    async fn credit(&self, p: &Principal, req: Credit, kind: Kind) -> Result<TxView> {
        self.admin(p).await?;
        let amount = admin_amount(&req.amount)?;
        if amount == Credits::ZERO || (kind == Kind::TopUp && amount.is_negative()) {
            return Err(Error::invalid_input(
                "a top-up adds credits: the amount must be positive (adjustments may be negative)",
            ));
        }
        let memo = admin_memo(&req.memo, "say why")?;
        self.db
            .user(&req.user_id)
            .await
            .map_err(|_| Error::not_found(format!("user {} not found", req.user_id)))?;
        self.current(&req.user_id).await?;
        let source = if kind == Kind::TopUp {
            Account::TopUps
        } else {
            Account::Adjustments
        };
        let wallet = Account::Wallet(req.user_id.clone());
        let tx = Transaction::new(
            format!("{}:{}", kind.as_str(), token::random_id()),
            kind,
            memo,
        );
        let tx = if amount.is_negative() {
            tx.transfer(wallet, source, -amount)
        } else {
            tx.transfer(source, wallet, amount)
        };
        self.post(&tx, None).await?;
        Ok(TxView {
            id: tx.key,
            kind: kind.as_str().to_string(),
            memo: memo.to_string(),
            amount: amount.to_string(),
            created_at: self.clock.now(),
        })
    }

    /// Credits the caller's wallet with what a payment provider settles for them, once.
    pub async fn pay(&self, p: &Principal, req: Pay) -> Result<TxView> {
        let Some(provider) = self.payments.iter().find(|x| x.name() == req.provider) else {
            let names: Vec<_> = self.payments.iter().map(|x| x.name()).collect();
            return Err(Error::invalid_input(format!(
                "no payment provider `{}`: this server takes {}",
                req.provider,
                names.join(", ")
            )));
        };
        if req.token.trim().is_empty() {
            return Err(Error::invalid_input(
                "token is empty: give what the provider gave you (a voucher's code)",
            ));
        }
        self.current(&p.user_id).await?;
        let payment = provider.settle(&p.user_id, &req.token).await?;
        if payment.amount <= Credits::ZERO {
            return Err(Error::unexpected(format!(
                "payment provider {} settled {} credits",
                provider.name(),
                payment.amount
            )));
        }
        let tx = nubes_billing::payments::credit(provider.name(), &p.user_id, &payment);
        if self.post(&tx, None).await? == Posted::Replayed {
            return Err(Error::new(
                nubes::ErrorKind::Conflict,
                "this payment was credited already: see your transactions",
            ));
        }
        Ok(TxView {
            id: tx.key,
            kind: Kind::Payment.as_str().to_string(),
            memo: payment.memo,
            amount: payment.amount.to_string(),
            created_at: self.clock.now(),
        })
    }

    pub async fn top_up(&self, p: &Principal, req: Credit) -> Result<TxView> {
        self.credit(p, req, Kind::TopUp).await
    }

    pub async fn adjust(&self, p: &Principal, req: Credit) -> Result<TxView> {
        self.credit(p, req, Kind::Adjustment).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        // 2026-11-24T12:00:00Z
        let t = 1_795_521_600;
        let (start, next) = month_of(t);
        assert_eq!(
            Utc.timestamp_opt(start, 0).unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            Utc.timestamp_opt(next, 0).unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        let (dec, jan) = month_of(next + 10);
        assert_eq!(dec, next);
        assert_eq!(
            Utc.timestamp_opt(jan, 0).unwrap().to_rfc3339(),
            "2027-01-01T00:00:00+00:00"
        );
    }
}
