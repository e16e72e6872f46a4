//! Metering on the server: `nubes_billing::metering` with its meters in the database and
//! lessors earning through the fleet, and what a tick's charges lead to here: users told as
//! their balance crosses an alert level, and what an empty wallet runs stopped.

use std::path::Path;
use std::sync::Arc;

use nubes::compute::StopOptions;
use nubes::{Compute, Result};
use nubes_billing::metering::{Lessors, Tariff};
pub use nubes_billing::metering::{Metered, Metering, Tick};
use nubes_billing::Credits;

use crate::billing::Billing;
use crate::db::Db;
use crate::events::Events;

/// The fleet knows which agent, and so which lessor, runs an instance.
#[derive(Debug)]
struct FleetLessors(nubes_agent::Fleet);

impl Lessors for FleetLessors {
    fn lessor_of(&self, backend_id: &str) -> Option<String> {
        self.0.agent_of(backend_id)
    }
}

/// Metering at `billing`'s prices and clock, its journal in `journal_dir`.
pub async fn open(
    db: &Db,
    billing: &Billing,
    fleet: Option<nubes_agent::Fleet>,
    journal_dir: &Path,
) -> Result<Metering> {
    let tariff = Tariff {
        prices: billing.prices(),
        fee: billing.fee(),
        lessors: fleet.map(|f| Arc::new(FleetLessors(f)) as Arc<dyn Lessors>),
    };
    Metering::new(Arc::new(db.clone()), billing.clock(), tariff, journal_dir).await
}

/// Charges running instances up to now; then tells those whose balance crossed an alert
/// level, and stops what users with no credits left run.
pub async fn tick(
    metering: &Metering,
    billing: &Billing,
    events: &Events,
    compute: &dyn Compute,
) -> Result<()> {
    let tick = metering.tick(compute).await?;
    for (user, charged) in &tick.charged {
        let after = billing.balance_of(user).await?;
        let before = after.checked_add(*charged).unwrap_or(after);
        for level in billing.crossed(before, after) {
            billing.alert(events, user, level, after).await;
        }
        if after <= Credits::ZERO {
            stop_all(billing.db(), events, compute, user, &tick).await;
        }
    }
    Ok(())
}

/// Stops what a user with no credits left runs, and says so.
async fn stop_all(db: &Db, events: &Events, compute: &dyn Compute, user: &str, tick: &Tick) {
    let Ok(rows) = db.instances_visible_to(user).await else {
        return;
    };
    for row in rows.iter().filter(|r| r.owner_id == user) {
        if !tick.running(&row.backend_id) {
            continue;
        }
        match compute.stop(&row.backend_id, StopOptions::default()).await {
            Ok(_) => {
                let mut e = crate::events::event("billing.insufficient_credits");
                e.org_id = Some(row.org_id.clone());
                e.instance_id = Some(row.id.clone());
                e.name = Some(row.name.clone());
                e.state = Some("stopped".into());
                events.publish(e);
            }
            Err(e) => {
                tracing::warn!(instance = %row.id, error = %e, "cannot stop an instance whose wallet is empty")
            }
        }
    }
}
