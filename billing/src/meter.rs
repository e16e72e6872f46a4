//! One instance's meter: lifecycle events applied in sequence order (a replayed or stale event
//! changes nothing), and accrual while the instance is confirmed running. The state is plain
//! data, so a store can keep it beside the ledger and a restart resumes where it stopped,
//! charging nothing twice.

use serde::{Deserialize, Serialize};

use crate::prices::{Breakdown, Prices, Segment};
use nubes_core::Resources;

/// A lifecycle transition worth metering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Created,
    Started,
    Stopped,
    Resized,
    Deleted,
}

/// One transition of one instance, numbered from 1 in the order they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub seq: u64,
    pub transition: Transition,
    /// Server time, seconds since the epoch.
    pub at: i64,
    /// The size from this event on.
    pub size: Resources,
}

/// A running stretch and when it was last confirmed running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Open {
    pub segment: Segment,
    pub confirmed_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    /// The last event applied.
    pub seq: u64,
    pub open: Option<Open>,
    pub deleted: bool,
}

fn add(a: Breakdown, b: Breakdown) -> Breakdown {
    Breakdown {
        instance: a.instance.checked_add(b.instance).unwrap_or(a.instance),
        cpu: a.cpu.checked_add(b.cpu).unwrap_or(a.cpu),
        memory: a.memory.checked_add(b.memory).unwrap_or(a.memory),
        disk: a.disk.checked_add(b.disk).unwrap_or(a.disk),
    }
}

/// Seconds in a day of usage reports (UTC days; leap seconds are not counted by server time).
const DAY: i64 = 86_400;

/// The UTC day that second `t` falls in, as days since the epoch.
pub fn day(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// What a stretch of running owes, split by the UTC day each second of it ran in, so that a
/// stretch over midnight (or a server down for days) is reported on the days it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owed {
    /// Days since the epoch, in order, each with what it owes.
    pub days: Vec<(i64, Breakdown)>,
}

impl Owed {
    /// Every day's share together.
    pub fn sum(&self) -> Breakdown {
        self.days
            .iter()
            .fold(Breakdown::default(), |sum, (_, b)| add(sum, *b))
    }
}

impl Meter {
    /// Runs the open stretch on to `until` (if later than its last confirmation) and returns
    /// what that time owes, a piece per day. Each piece is priced on the running total of the
    /// stretch, so the pieces add up to what the whole owes, to the micro-credit.
    fn run_to(&mut self, prices: &Prices, until: i64) -> Owed {
        let mut owed = Owed::default();
        if let Some(open) = &mut self.open {
            while until > open.confirmed_at {
                let step = until.min((day(open.confirmed_at) + 1) * DAY);
                let seconds = open.segment.seconds + (step - open.confirmed_at) as u64;
                owed.days.push((
                    day(open.confirmed_at),
                    open.segment.advance(prices, seconds),
                ));
                open.confirmed_at = step;
            }
        }
        owed
    }

    /// Applies `event`; returns what it settles (the running time up to it), or `None` for an
    /// event already applied or out of order.
    pub fn apply(&mut self, prices: &Prices, event: &UsageEvent) -> Option<Owed> {
        if event.seq != self.seq + 1 || self.deleted {
            return None;
        }
        self.seq = event.seq;
        let owed = self.run_to(prices, event.at);
        match event.transition {
            Transition::Created | Transition::Started => {
                if self.open.is_none() {
                    self.open = Some(Open {
                        segment: Segment::new(event.size),
                        confirmed_at: event.at,
                    });
                }
            }
            Transition::Resized => {
                if self.open.is_some() {
                    self.open = Some(Open {
                        segment: Segment::new(event.size),
                        confirmed_at: event.at,
                    });
                }
            }
            Transition::Stopped => self.open = None,
            Transition::Deleted => {
                self.open = None;
                self.deleted = true;
            }
        }
        Some(owed)
    }

    /// A check at `now` of whether the instance runs (for fleet instances, its agent's report).
    /// Confirmed, the time since the last confirmation is owed; not confirmed (an agent that
    /// went silent, say), that time is not charged, and accrual resumes from the next
    /// confirmation.
    pub fn confirm(&mut self, prices: &Prices, now: i64, running: bool) -> Owed {
        if running {
            return self.run_to(prices, now);
        }
        if let Some(open) = &mut self.open {
            open.confirmed_at = open.confirmed_at.max(now);
        }
        Owed::default()
    }

    /// Everything this meter charged, as `charges` summed: for tests and reports.
    pub fn sum(charges: &[Breakdown]) -> Breakdown {
        charges.iter().copied().fold(Breakdown::default(), add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Credits;

    const T0: i64 = 1_800_000_000;

    fn event(seq: u64, transition: Transition, at: i64, size: Resources) -> UsageEvent {
        UsageEvent {
            seq,
            transition,
            at,
            size,
        }
    }

    #[test]
    fn hours_of_ticks_charge_the_formula_exactly() {
        let p = Prices::default();
        let size = Resources::new(1500, 3_000_000_000, 0, 0);
        let mut m = Meter::default();
        let mut charges = vec![m
            .apply(&p, &event(1, Transition::Created, T0, size))
            .unwrap()
            .sum()];
        let mut now = T0;
        while now < T0 + 10 * 3600 {
            now += 7;
            charges.push(m.confirm(&p, now, true).sum());
        }
        charges.push(
            m.apply(&p, &event(2, Transition::Deleted, now + 3, size))
                .unwrap()
                .sum(),
        );
        assert_eq!(
            Meter::sum(&charges).total(),
            p.accrued(size, (now + 3 - T0) as u64).total()
        );
        // Nothing more after a delete.
        assert_eq!(m.confirm(&p, now + 100, true), Owed::default());
    }

    #[test]
    fn replayed_and_stale_events_change_nothing() {
        let p = Prices::default();
        let size = Resources::new(1000, 1_000_000_000, 0, 0);
        let mut m = Meter::default();
        let created = event(1, Transition::Created, T0, size);
        m.apply(&p, &created).unwrap();
        assert!(m.apply(&p, &created).is_none());
        let stop = event(2, Transition::Stopped, T0 + 3600, size);
        assert_eq!(m.apply(&p, &stop).unwrap().sum().total(), p.hourly(size));
        assert!(m.apply(&p, &stop).is_none(), "replayed");
        assert!(
            m.apply(&p, &event(5, Transition::Started, T0, size))
                .is_none(),
            "out of order"
        );
        // Stopped: ticks owe nothing.
        assert_eq!(m.confirm(&p, T0 + 7200, true), Owed::default());
    }

    #[test]
    fn unconfirmed_time_is_not_charged_and_resizes_split_the_price() {
        let p = Prices::default();
        let small = Resources::new(1000, 1_000_000_000, 0, 0);
        let big = Resources::new(4000, 8_000_000_000, 0, 0);
        let mut m = Meter::default();
        let mut charges = vec![m
            .apply(&p, &event(1, Transition::Started, T0, small))
            .unwrap()
            .sum()];
        charges.push(m.confirm(&p, T0 + 600, true).sum());
        // The agent went silent for 20 minutes: not charged.
        charges.push(m.confirm(&p, T0 + 1800, false).sum());
        charges.push(m.confirm(&p, T0 + 2400, true).sum());
        charges.push(
            m.apply(&p, &event(2, Transition::Resized, T0 + 3000, big))
                .unwrap()
                .sum(),
        );
        charges.push(m.confirm(&p, T0 + 6600, true).sum());
        let want = p
            .accrued(small, 600 + 600 + 600)
            .total()
            .checked_add(p.accrued(big, 3600).total())
            .unwrap();
        assert_eq!(Meter::sum(&charges).total(), want);
        assert!(want > Credits::ZERO);
    }

    #[test]
    fn a_restart_resumes_from_the_stored_state_without_charging_twice() {
        let p = Prices::default();
        let size = Resources::new(2000, 2_000_000_000, 0, 0);
        let mut m = Meter::default();
        let mut charges = vec![m
            .apply(&p, &event(1, Transition::Created, T0, size))
            .unwrap()
            .sum()];
        charges.push(m.confirm(&p, T0 + 1000, true).sum());
        // Stored, the process dies, a new one loads it and ticks on; an old tick is replayed.
        let stored = serde_json::to_string(&m).unwrap();
        let mut m: Meter = serde_json::from_str(&stored).unwrap();
        charges.push(m.confirm(&p, T0 + 1000, true).sum());
        charges.push(m.confirm(&p, T0 + 500, true).sum());
        charges.push(m.confirm(&p, T0 + 3600, true).sum());
        assert_eq!(Meter::sum(&charges).total(), p.hourly(size));
    }

    fn minus(a: Breakdown, b: Breakdown) -> Breakdown {
        Breakdown {
            instance: a.instance.checked_sub(b.instance).unwrap(),
            cpu: a.cpu.checked_sub(b.cpu).unwrap(),
            memory: a.memory.checked_sub(b.memory).unwrap(),
            disk: a.disk.checked_sub(b.disk).unwrap(),
        }
    }

    #[test]
    fn running_over_midnight_is_owed_by_the_days_it_ran() {
        let p = Prices::default();
        let size = Resources::new(1000, 1_000_000_000, 0, 0);
        let midnight = (day(T0) + 1) * DAY;
        let mut m = Meter::default();
        m.apply(&p, &event(1, Transition::Started, midnight - 10, size))
            .unwrap();
        // One tick across midnight: 10 s before it, 5 after.
        let tick = m.confirm(&p, midnight + 5, true);
        assert_eq!(
            tick.days,
            vec![
                (day(T0), p.accrued(size, 10)),
                (day(T0) + 1, minus(p.accrued(size, 15), p.accrued(size, 10))),
            ]
        );
        // A server down for two days and more: each day it ran is owed its own share, and the
        // shares add up to the whole stretch exactly.
        let later = midnight + 2 * DAY + 3600;
        let owed = m
            .apply(&p, &event(2, Transition::Stopped, later, size))
            .unwrap();
        let days: Vec<i64> = owed.days.iter().map(|(d, _)| *d).collect();
        assert_eq!(days, vec![day(T0) + 1, day(T0) + 2, day(T0) + 3]);
        assert_eq!(
            owed.days[1].1,
            minus(p.accrued(size, 15 + 86_400), p.accrued(size, 15))
        );
        assert_eq!(
            Meter::sum(&[tick.sum(), owed.sum()]).total(),
            p.accrued(size, (later - midnight + 10) as u64).total()
        );
        // Exactly at midnight: nothing is owed to a day it did not run in.
        let mut m = Meter::default();
        m.apply(&p, &event(1, Transition::Started, midnight - 60, size))
            .unwrap();
        assert_eq!(m.confirm(&p, midnight, true).days.len(), 1);
        assert_eq!(m.confirm(&p, midnight + 1, true).days[0].0, day(T0) + 1);
    }
}
