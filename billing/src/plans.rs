//! Plans: a monthly price, a monthly grant and limits on what one holds at once, enforced at
//! create and resize.
//!
//! A paid plan's price is paid in credits from the wallet before its grant is given: at the
//! start of each month, and for the rest of the month when switching to it. Switching back and
//! forth is prorated both ways for the grant, while a price once paid is not given back, so no
//! sequence of switches yields more credits than holding the plans for the same time would,
//! and every upgrade costs its price.

use nubes_core::{Error, Resources, Result};
use serde::{Deserialize, Serialize};

use crate::money::Credits;
use crate::prices::GB;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanId {
    Free,
    Pro,
    Unlimited,
    PayAsYouGo,
}

impl PlanId {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanId::Free => "free",
            PlanId::Pro => "pro",
            PlanId::Unlimited => "unlimited",
            PlanId::PayAsYouGo => "pay_as_you_go",
        }
    }
}

impl std::str::FromStr for PlanId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [
            PlanId::Free,
            PlanId::Pro,
            PlanId::Unlimited,
            PlanId::PayAsYouGo,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "unknown plan `{s}`: expected free, pro, unlimited or pay_as_you_go"
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: PlanId,
    /// Granted at the start of each month.
    pub monthly: Credits,
    /// Paid from the wallet at the start of each month (and prorated at a switch to it), before
    /// the grant: 1 credit is $0.50, so Pro's $9 is 18 credits.
    #[serde(default)]
    pub price: Credits,
    /// What may be held at once: the sum over running and stopped instances.
    pub limits: Resources,
}

/// The default plans of the issue.
pub fn default_plans() -> Vec<Plan> {
    let plan = |id, price, monthly, cores: u64, memory_gb: u64, disk_gb: u64| Plan {
        id,
        monthly: Credits::whole(monthly),
        price: Credits::whole(price),
        limits: Resources::new(cores * 1000, memory_gb * GB, disk_gb * GB, 0),
    };
    vec![
        plan(PlanId::Free, 0, 15, 2, 2, 20),
        // $9 and $29 a month.
        plan(PlanId::Pro, 18, 150, 4, 8, 50),
        plan(PlanId::Unlimited, 58, 600, 8, 16, 200),
        plan(PlanId::PayAsYouGo, 0, 0, 8, 16, 200),
    ]
}

fn cores(millicpus: u64) -> String {
    let whole = millicpus / 1000;
    match millicpus % 1000 {
        0 => whole.to_string(),
        frac => format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0')),
    }
}

fn gb(bytes: u64) -> String {
    let whole = bytes / GB;
    match bytes % GB {
        0 => format!("{whole} GB"),
        _ => format!("{:.2} GB", bytes as f64 / GB as f64),
    }
}

impl Plan {
    /// Whether `held` plus `more` stays within the plan; `QuotaExceeded` says what would not.
    pub fn admit(&self, held: Resources, more: Resources) -> Result<()> {
        let after = held.saturating_add(&more);
        let l = &self.limits;
        let refuse = |what: &str, limit: String, used: String, asked: String| {
            Err(Error::new(
                nubes_core::ErrorKind::QuotaExceeded,
                format!(
                    "the {} plan allows {limit} of {what}; {used} held, {asked} more asked",
                    self.id.as_str()
                ),
            ))
        };
        if after.millicpus > l.millicpus {
            return refuse(
                "cpu",
                cores(l.millicpus),
                cores(held.millicpus),
                cores(more.millicpus),
            );
        }
        if after.memory > l.memory {
            return refuse("memory", gb(l.memory), gb(held.memory), gb(more.memory));
        }
        if after.disk > l.disk {
            return refuse("disk", gb(l.disk), gb(held.disk), gb(more.disk));
        }
        Ok(())
    }
}

/// The part of `amount` for `seconds_left` of `seconds_in_month`, to the micro-credit: floored
/// (toward zero), or with `up`, rounded away from zero.
fn share(amount: i128, seconds_left: u64, seconds_in_month: u64, up: bool) -> Credits {
    if seconds_in_month == 0 {
        return Credits::ZERO;
    }
    let month = i128::from(seconds_in_month);
    let scaled = amount * i128::from(seconds_left.min(seconds_in_month));
    let mut part = scaled / month;
    if up && scaled % month != 0 {
        part += scaled.signum();
    }
    Credits::from_micros(part as i64)
}

/// What switching plans mid-month gives or takes: the new plan's grant for the rest of the
/// month, less the old plan's for the same part, each floored to the micro-credit (so that
/// switches at one moment telescope: free → pro → unlimited gives what free → unlimited does).
pub fn prorate(old: &Plan, new: &Plan, seconds_left: u64, seconds_in_month: u64) -> Credits {
    let part = |p: &Plan| {
        share(
            i128::from(p.monthly.micros()),
            seconds_left,
            seconds_in_month,
            false,
        )
    };
    Credits::from_micros(part(new).micros() - part(old).micros())
}

/// What a switch to `new` costs for the rest of the month: its price for that part, paid
/// whatever the old plan was (a price paid is not given back, so a switch away and back pays
/// again), rounded up, so splitting a month into switches never pays less than the whole.
pub fn switch_price(new: &Plan, seconds_left: u64, seconds_in_month: u64) -> Credits {
    share(
        i128::from(new.price.micros()),
        seconds_left,
        seconds_in_month,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(id: PlanId) -> Plan {
        default_plans().into_iter().find(|p| p.id == id).unwrap()
    }

    #[test]
    fn limits_per_plan() {
        let free = plan(PlanId::Free);
        assert!(free
            .admit(
                Resources::default(),
                Resources::new(2000, 2 * GB, 20 * GB, 0)
            )
            .is_ok());
        let e = free
            .admit(
                Resources::new(1500, GB, 0, 0),
                Resources::new(1000, 0, 0, 0),
            )
            .unwrap_err();
        assert_eq!(e.kind(), nubes_core::ErrorKind::QuotaExceeded);
        assert!(
            e.message()
                .contains("free plan allows 2 of cpu; 1.5 held, 1 more"),
            "{e}"
        );
        assert!(free
            .admit(Resources::default(), Resources::new(0, 3 * GB, 0, 0))
            .is_err());
        assert!(free
            .admit(Resources::default(), Resources::new(0, 0, 21 * GB, 0))
            .is_err());
        let pro = plan(PlanId::Pro);
        assert!(pro
            .admit(
                Resources::default(),
                Resources::new(4000, 8 * GB, 50 * GB, 0)
            )
            .is_ok());
        assert!(pro
            .admit(Resources::default(), Resources::new(4001, 0, 0, 0))
            .is_err());
        let payg = plan(PlanId::PayAsYouGo);
        assert_eq!(payg.monthly, Credits::ZERO);
        assert!(payg
            .admit(
                Resources::default(),
                Resources::new(8000, 16 * GB, 200 * GB, 0)
            )
            .is_ok());
        assert_eq!("pro".parse::<PlanId>().unwrap(), PlanId::Pro);
        assert!("gold".parse::<PlanId>().is_err());
    }

    #[test]
    fn switching_mid_month_is_prorated() {
        let (free, pro) = (plan(PlanId::Free), plan(PlanId::Pro));
        let month = 30 * 86_400;
        // Half the month left: half of (150 - 15).
        assert_eq!(
            prorate(&free, &pro, month / 2, month),
            "67.5".parse().unwrap()
        );
        assert_eq!(
            prorate(&pro, &free, month / 2, month),
            "-67.5".parse().unwrap()
        );
        assert_eq!(prorate(&free, &pro, 0, month), Credits::ZERO);
        assert_eq!(prorate(&free, &pro, 2 * month, month), Credits::whole(135));
    }

    #[test]
    fn a_switch_pays_the_new_plans_price_for_the_rest_of_the_month() {
        let (free, pro) = (plan(PlanId::Free), plan(PlanId::Pro));
        let month = 30 * 86_400;
        assert_eq!(switch_price(&pro, month / 2, month), Credits::whole(9));
        assert_eq!(switch_price(&free, month / 2, month), Credits::ZERO);
        // Rounded up: a third of 18 credits is 6, a seventh is 2.571429 (not 2.571428).
        assert_eq!(switch_price(&pro, month / 3, month), Credits::whole(6));
        let february = 28 * 86_400;
        assert_eq!(
            switch_price(&pro, february / 7, february),
            "2.571429".parse().unwrap()
        );
        // Up and down again at once: the grant comes back out, the price stays paid.
        let up = prorate(&free, &pro, month / 2, month);
        let down = prorate(&pro, &free, month / 2, month);
        assert_eq!(up.checked_add(down).unwrap(), Credits::ZERO);
    }
}
