//! What metering keeps, and the storage it keeps it in: the platform implements [`MeterStore`]
//! on its database, so that a meter's new state, the event it applied, its charge and the
//! usage it adds are written in one transaction.

use async_trait::async_trait;
use nubes_core::Result;

use crate::{Breakdown, Credits, Meter, Transaction, UsageEvent};

/// A meter as stored: the instance it meters (by backend name), who pays, what they paid
/// ahead, and the tenant's id and name of the instance, for usage reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterRow {
    pub backend_id: String,
    pub user_id: String,
    /// Micro-credits paid ahead (at create), spent before anything is charged.
    pub prepaid: i64,
    pub meter: Meter,
    pub instance_id: String,
    pub name: String,
}

/// What settling a meter writes: the meter, the event it applied (with its transition's
/// name), its charge and what it metered per day, at `now`.
#[derive(Debug)]
pub struct Settlement<'a> {
    pub row: &'a MeterRow,
    pub event: Option<(&'a str, &'a UsageEvent)>,
    pub charge: Option<&'a Transaction>,
    pub used: &'a [(i64, Breakdown)],
    pub now: i64,
}

impl<'a> Settlement<'a> {
    /// A new meter, closed until its instance starts: `row` with what was paid ahead, and
    /// `disk`, used (and paid) once at creation, counted as used today.
    pub fn opening(row: &'a MeterRow, used: &'a [(i64, Breakdown)], now: i64) -> Self {
        Self {
            row,
            event: None,
            charge: None,
            used,
            now,
        }
    }

    /// Whether the meter runs after this settlement.
    pub fn open(&self) -> bool {
        self.row.meter.open.is_some()
    }
}

impl MeterRow {
    /// The meter of an instance about to be made, paid ahead by `prepaid`.
    pub fn new(
        backend_id: impl Into<String>,
        user_id: impl Into<String>,
        prepaid: Credits,
        instance_id: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            backend_id: backend_id.into(),
            user_id: user_id.into(),
            prepaid: prepaid.micros(),
            meter: Meter::default(),
            instance_id: instance_id.into(),
            name: name.into(),
        }
    }
}

/// Meters, kept by the platform.
#[async_trait]
pub trait MeterStore: std::fmt::Debug + Send + Sync + 'static {
    /// Every meter: to learn the last event numbers applied.
    async fn all(&self) -> Result<Vec<MeterRow>>;
    async fn get(&self, backend_id: &str) -> Result<Option<MeterRow>>;
    /// Meters that run (`true`) or do not (`false`, deleted ones included) by their last event.
    async fn by_state(&self, open: bool) -> Result<Vec<MeterRow>>;
    /// Writes a settlement in one transaction. A charge's idempotency key is its
    /// transaction's key: posted twice, it is posted once.
    async fn settle(&self, settlement: Settlement<'_>) -> Result<()>;
}

/// Who leases the machine an instance runs on, so its lessor earns from it.
pub trait Lessors: std::fmt::Debug + Send + Sync + 'static {
    fn lessor_of(&self, backend_id: &str) -> Option<String>;
}
