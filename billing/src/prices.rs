//! Prices per resource, and what a running instance accrues: per second from server time,
//! exactly, as one rational formula floored once, so any number of ticks adds up to the
//! formula to the micro-credit.

use nubes_core::Resources;
use serde::{Deserialize, Serialize};

use crate::money::Credits;

/// Bytes in the GB prices are quoted in (SI, like cloudctl's sizes).
pub const GB: u64 = 1_000_000_000;
const SECONDS_PER_HOUR: i128 = 3600;

/// What the platform charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices {
    /// Per hour an instance runs.
    pub instance_hour: Credits,
    /// Per core-hour.
    pub core_hour: Credits,
    /// Per GB-hour of memory.
    pub memory_gb_hour: Credits,
    /// Per GB of disk, once, when the instance is created.
    pub disk_gb: Credits,
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            instance_hour: Credits::from_micros(500_000),
            core_hour: Credits::from_micros(200_000),
            memory_gb_hour: Credits::from_micros(100_000),
            disk_gb: Credits::from_micros(50_000),
        }
    }
}

/// What an amount of use costs, broken down by resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub instance: Credits,
    pub cpu: Credits,
    pub memory: Credits,
    pub disk: Credits,
}

impl Breakdown {
    pub fn total(&self) -> Credits {
        [self.instance, self.cpu, self.memory, self.disk]
            .into_iter()
            .sum()
    }
}

/// `numerator * seconds / denominator`, floored, in micro-credits.
fn over(numerator: i128, seconds: u64, denominator: i128) -> Credits {
    Credits::from_micros((numerator * i128::from(seconds) / denominator) as i64)
}

impl Prices {
    /// What `size` accrues in `seconds` of running, by resource. Each part is its own exact
    /// formula floored once; the total is their sum.
    pub fn accrued(&self, size: Resources, seconds: u64) -> Breakdown {
        Breakdown {
            instance: over(
                i128::from(self.instance_hour.micros()),
                seconds,
                SECONDS_PER_HOUR,
            ),
            cpu: over(
                i128::from(self.core_hour.micros()) * i128::from(size.millicpus),
                seconds,
                SECONDS_PER_HOUR * 1000,
            ),
            memory: over(
                i128::from(self.memory_gb_hour.micros()) * i128::from(size.memory),
                seconds,
                SECONDS_PER_HOUR * i128::from(GB),
            ),
            disk: Credits::ZERO,
        }
    }

    /// What `size` costs for one hour of running.
    pub fn hourly(&self, size: Resources) -> Credits {
        self.accrued(size, 3600).total()
    }

    /// The one-off charge for `bytes` of disk, rounded up to the micro-credit.
    pub fn disk_once(&self, bytes: u64) -> Credits {
        let n = i128::from(self.disk_gb.micros()) * i128::from(bytes);
        let gb = i128::from(GB);
        Credits::from_micros(((n + gb - 1) / gb) as i64)
    }
}

/// A running stretch of one instance at one size: what it has been charged so far, so each
/// tick charges only the difference between the formula now and then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub size: Resources,
    /// Seconds of running covered so far.
    pub seconds: u64,
    pub charged: Breakdown,
}

impl Segment {
    pub fn new(size: Resources) -> Self {
        Self {
            size,
            seconds: 0,
            charged: Breakdown::default(),
        }
    }

    /// Extends the segment to `seconds` of running; returns what those extra seconds owe.
    pub fn advance(&mut self, prices: &Prices, seconds: u64) -> Breakdown {
        if seconds <= self.seconds {
            return Breakdown::default();
        }
        let now = prices.accrued(self.size, seconds);
        let owed = Breakdown {
            instance: now
                .instance
                .checked_sub(self.charged.instance)
                .unwrap_or_default(),
            cpu: now.cpu.checked_sub(self.charged.cpu).unwrap_or_default(),
            memory: now
                .memory
                .checked_sub(self.charged.memory)
                .unwrap_or_default(),
            disk: Credits::ZERO,
        };
        self.seconds = seconds;
        self.charged = now;
        owed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_prices() {
        let p = Prices::default();
        // 2 cores, 4 GB: 0.5 + 2 * 0.2 + 4 * 0.1 = 1.3 credits an hour.
        assert_eq!(
            p.hourly(Resources::new(2000, 4 * GB, 0, 0)),
            "1.3".parse().unwrap()
        );
        assert_eq!(p.disk_once(20 * GB), Credits::whole(1));
        assert_eq!(p.disk_once(1), Credits::from_micros(1), "rounded up");
    }

    #[test]
    fn ticks_add_up_to_the_formula_to_the_micro_credit() {
        let p = Prices::default();
        // Awkward sizes, so every part has a remainder to carry.
        let size = Resources::new(1333, 777_777_777, 0, 0);
        let mut seg = Segment::new(size);
        let mut total = Credits::ZERO;
        let mut t = 0;
        // Irregular ticks over 30 hours.
        let mut i = 0u64;
        while t < 30 * 3600 {
            i += 1;
            t += 1 + (i * 7919) % 97;
            total = total.checked_add(seg.advance(&p, t).total()).unwrap();
        }
        assert_eq!(total, p.accrued(size, t).total());
        // Replaying a tick already covered charges nothing.
        assert_eq!(seg.advance(&p, t), Breakdown::default());
        assert_eq!(seg.advance(&p, t - 5), Breakdown::default());
    }
}
