//! What an operator may change about billing: plans' grants and limits, prices, the platform's
//! fee and the low-balance alert levels. Read from JSON where every field is optional and
//! overrides its default; amounts are written as decimal strings, so nothing passes through a
//! float.

use std::collections::BTreeMap;

use nubes_core::{Error, Result};
use serde::Deserialize;

use crate::ledger::Fee;
use crate::money::Credits;
use crate::plans::{default_plans, Plan, PlanId};
use crate::prices::{Prices, GB};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// One of each [`PlanId`].
    pub plans: Vec<Plan>,
    pub prices: Prices,
    pub fee: Fee,
    /// Balances at which users are told their credits run low, highest first.
    pub alerts: Vec<Credits>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            plans: default_plans(),
            prices: Prices::default(),
            fee: Fee::default(),
            alerts: vec![Credits::whole(5), Credits::whole(1)],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    plans: Option<BTreeMap<String, PlanFile>>,
    prices: Option<PricesFile>,
    fee_bps: Option<u32>,
    alerts: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    monthly: Option<String>,
    price: Option<String>,
    cpus: Option<f64>,
    memory_gb: Option<u64>,
    disk_gb: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesFile {
    instance_hour: Option<String>,
    core_hour: Option<String>,
    memory_gb_hour: Option<String>,
    disk_gb: Option<String>,
}

/// An amount that is at least zero, or an error naming `what`.
fn amount(what: &str, text: &str) -> Result<Credits> {
    let c: Credits = text
        .parse()
        .map_err(|e: Error| Error::invalid_input(format!("{what}: {}", e.message())))?;
    if c < Credits::ZERO {
        return Err(Error::invalid_input(format!("{what} must not be negative")));
    }
    Ok(c)
}

fn set(slot: &mut Credits, what: &str, text: Option<String>) -> Result<()> {
    if let Some(text) = text {
        *slot = amount(what, &text)?;
    }
    Ok(())
}

impl Settings {
    /// Reads settings from JSON, each field over its default.
    pub fn from_json(text: &str) -> Result<Settings> {
        let file: File = serde_json::from_str(text)
            .map_err(|e| Error::invalid_input(format!("billing settings: {e}")))?;
        let mut s = Settings::default();
        if let Some(p) = file.prices {
            set(
                &mut s.prices.instance_hour,
                "prices.instance_hour",
                p.instance_hour,
            )?;
            set(&mut s.prices.core_hour, "prices.core_hour", p.core_hour)?;
            set(
                &mut s.prices.memory_gb_hour,
                "prices.memory_gb_hour",
                p.memory_gb_hour,
            )?;
            set(&mut s.prices.disk_gb, "prices.disk_gb", p.disk_gb)?;
        }
        for (name, p) in file.plans.unwrap_or_default() {
            let id: PlanId = name.parse()?;
            let plan = s
                .plans
                .iter_mut()
                .find(|plan| plan.id == id)
                .expect("every plan has a default");
            set(
                &mut plan.monthly,
                &format!("plans.{name}.monthly"),
                p.monthly,
            )?;
            set(&mut plan.price, &format!("plans.{name}.price"), p.price)?;
            if let Some(cpus) = p.cpus {
                if !cpus.is_finite() || cpus < 0.0 {
                    return Err(Error::invalid_input(format!(
                        "plans.{name}.cpus must be a number of cores, at least 0"
                    )));
                }
                plan.limits.millicpus = nubes_core::resources::millicpus(cpus);
            }
            if let Some(gb) = p.memory_gb {
                plan.limits.memory = gb.saturating_mul(GB);
            }
            if let Some(gb) = p.disk_gb {
                plan.limits.disk = gb.saturating_mul(GB);
            }
        }
        if let Some(bps) = file.fee_bps {
            if bps > 10_000 {
                return Err(Error::invalid_input(
                    "fee_bps is the platform's share in basis points: at most 10000 (100%)",
                ));
            }
            s.fee = Fee(bps);
        }
        if let Some(alerts) = file.alerts {
            let mut levels = Vec::new();
            for (i, text) in alerts.iter().enumerate() {
                let level = amount(&format!("alerts[{i}]"), text)?;
                if level == Credits::ZERO {
                    return Err(Error::invalid_input(format!(
                        "alerts[{i}] must be above zero: an empty wallet already stops its instances"
                    )));
                }
                levels.push(level);
            }
            levels.sort_unstable_by(|a, b| b.cmp(a));
            levels.dedup();
            s.alerts = levels;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_set_is_the_defaults() {
        assert_eq!(Settings::from_json("{}").unwrap(), Settings::default());
    }

    #[test]
    fn each_field_overrides_its_default() {
        let s = Settings::from_json(
            r#"{
                "prices": {"core_hour": "0.25"},
                "plans": {"free": {"monthly": "20.5", "cpus": 1.5}, "pro": {"disk_gb": 80, "price": "20"}},
                "fee_bps": 1500,
                "alerts": ["2", "10", "2"]
            }"#,
        )
        .unwrap();
        assert_eq!(s.prices.core_hour, "0.25".parse().unwrap());
        assert_eq!(s.prices.instance_hour, Prices::default().instance_hour);
        let free = s.plans.iter().find(|p| p.id == PlanId::Free).unwrap();
        assert_eq!(free.monthly, "20.5".parse().unwrap());
        assert_eq!(free.limits.millicpus, 1500);
        assert_eq!(
            free.limits.memory,
            2 * GB,
            "unset limits keep their defaults"
        );
        let pro = s.plans.iter().find(|p| p.id == PlanId::Pro).unwrap();
        assert_eq!(pro.limits.disk, 80 * GB);
        assert_eq!(pro.price, Credits::whole(20));
        assert_eq!(s.fee, Fee(1500));
        assert_eq!(s.alerts, [Credits::whole(10), Credits::whole(2)]);
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        for (json, says) in [
            (
                r#"{"prices": {"core_hour": "-1"}}"#,
                "prices.core_hour must not be negative",
            ),
            (
                r#"{"prices": {"core_hour": "0.0000001"}}"#,
                "prices.core_hour",
            ),
            (r#"{"plans": {"gold": {}}}"#, "unknown plan `gold`"),
            (r#"{"plans": {"free": {"cpus": -2}}}"#, "plans.free.cpus"),
            (r#"{"fee_bps": 10001}"#, "at most 10000"),
            (r#"{"alerts": ["0"]}"#, "alerts[0] must be above zero"),
            (r#"{"price": {}}"#, "unknown field `price`"),
            ("not json", "billing settings"),
        ] {
            let e = Settings::from_json(json).unwrap_err();
            assert_eq!(e.kind(), nubes_core::ErrorKind::InvalidInput, "{json}");
            assert!(e.message().contains(says), "{json}: {e}");
        }
    }
}
