//! Plans: a monthly grant and limits on what one holds at once, enforced at create and resize.

use nubes_core::{Error, Result};
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

/// What may be held at once: the sum over running and stopped instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub millicpus: u64,
    /// Bytes.
    pub memory: u64,
    /// Bytes.
    pub disk: u64,
}

impl Limits {
    pub fn new(millicpus: u64, memory: u64, disk: u64) -> Self {
        Self {
            millicpus,
            memory,
            disk,
        }
    }

    pub fn saturating_add(self, other: Limits) -> Limits {
        Limits {
            millicpus: self.millicpus.saturating_add(other.millicpus),
            memory: self.memory.saturating_add(other.memory),
            disk: self.disk.saturating_add(other.disk),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: PlanId,
    /// Granted at the start of each month.
    pub monthly: Credits,
    pub limits: Limits,
}

/// The default plans of the issue.
pub fn default_plans() -> Vec<Plan> {
    let plan = |id, monthly, cores: u64, memory_gb: u64, disk_gb: u64| Plan {
        id,
        monthly: Credits::whole(monthly),
        limits: Limits::new(cores * 1000, memory_gb * GB, disk_gb * GB),
    };
    vec![
        plan(PlanId::Free, 15, 2, 2, 20),
        plan(PlanId::Pro, 150, 4, 8, 50),
        plan(PlanId::Unlimited, 600, 8, 16, 200),
        plan(PlanId::PayAsYouGo, 0, 8, 16, 200),
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
    pub fn admit(&self, held: Limits, more: Limits) -> Result<()> {
        let after = held.saturating_add(more);
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

/// What switching plans mid-month gives or takes: the new plan's grant for the rest of the
/// month, less the old plan's for the same part, floored to the micro-credit.
pub fn prorate(old: &Plan, new: &Plan, seconds_left: u64, seconds_in_month: u64) -> Credits {
    if seconds_in_month == 0 {
        return Credits::ZERO;
    }
    let diff = i128::from(new.monthly.micros()) - i128::from(old.monthly.micros());
    let part = diff * i128::from(seconds_left.min(seconds_in_month)) / i128::from(seconds_in_month);
    Credits::from_micros(part as i64)
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
            .admit(Limits::default(), Limits::new(2000, 2 * GB, 20 * GB))
            .is_ok());
        let e = free
            .admit(Limits::new(1500, GB, 0), Limits::new(1000, 0, 0))
            .unwrap_err();
        assert_eq!(e.kind(), nubes_core::ErrorKind::QuotaExceeded);
        assert!(
            e.message()
                .contains("free plan allows 2 of cpu; 1.5 held, 1 more"),
            "{e}"
        );
        assert!(free
            .admit(Limits::default(), Limits::new(0, 3 * GB, 0))
            .is_err());
        assert!(free
            .admit(Limits::default(), Limits::new(0, 0, 21 * GB))
            .is_err());
        let pro = plan(PlanId::Pro);
        assert!(pro
            .admit(Limits::default(), Limits::new(4000, 8 * GB, 50 * GB))
            .is_ok());
        assert!(pro
            .admit(Limits::default(), Limits::new(4001, 0, 0))
            .is_err());
        let payg = plan(PlanId::PayAsYouGo);
        assert_eq!(payg.monthly, Credits::ZERO);
        assert!(payg
            .admit(Limits::default(), Limits::new(8000, 16 * GB, 200 * GB))
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
}
