//! Metering: a layer around the compute provider that records each lifecycle transition as a
//! usage event, and a tick on server time that charges what running instances owe while they
//! are confirmed running (for a fleet, by its agents' reports). The rules are
//! `nubes_billing::Meter`'s; each charge is posted in the same database transaction as the
//! meter's new state, so nothing is charged twice across restarts or replays. A wallet that
//! reaches zero has its instances stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use nubes::compute::*;
use nubes::{ByteStream, Compute, ComputeCapability, Result};
use nubes_auth::token;
use nubes_billing::{Breakdown, Credits, Meter, Size, Transition, UsageEvent};

use crate::billing::{day, Billing};
use crate::db::{Db, MeterRow};
use crate::events::{Event, Events};

#[derive(Debug, Clone)]
pub struct Metering {
    db: Db,
    billing: Billing,
    events: Events,
    /// Where fleet instances run, so their lessors earn.
    fleet: Option<nubes_agent::Fleet>,
}

fn transition_name(t: Transition) -> &'static str {
    match t {
        Transition::Created => "created",
        Transition::Started => "started",
        Transition::Stopped => "stopped",
        Transition::Resized => "resized",
        Transition::Deleted => "deleted",
    }
}

fn size_of(i: &Instance) -> Size {
    let held = crate::instances::size_of(i.cpus, i.memory, None);
    Size::new(held.millicpus, held.memory)
}

fn read(row: &MeterRow) -> Result<Meter> {
    serde_json::from_str(&row.state)
        .map_err(|e| nubes::Error::unexpected(format!("a stored meter is unreadable: {e}")))
}

fn write(meter: &Meter) -> String {
    serde_json::to_string(meter).expect("meters serialize")
}

impl Metering {
    pub fn new(
        db: Db,
        billing: Billing,
        events: Events,
        fleet: Option<nubes_agent::Fleet>,
    ) -> Self {
        Self {
            db,
            billing,
            events,
            fleet,
        }
    }

    /// Opens the meter of an instance about to be made: who pays, what they paid ahead (the
    /// first hour), and its disk, used (and paid) once at creation.
    pub async fn open(
        &self,
        instance: &crate::db::InstanceRow,
        prepaid: Credits,
        disk: Credits,
    ) -> Result<()> {
        let row = MeterRow {
            backend_id: instance.backend_id.clone(),
            user_id: instance.owner_id.clone(),
            prepaid: prepaid.micros(),
            state: write(&Meter::default()),
            instance_id: instance.id.clone(),
            name: instance.name.clone(),
        };
        let now = self.billing.now();
        let used = Breakdown {
            disk,
            ..Breakdown::default()
        };
        self.db
            .settle_meter(&row, false, None, Some((day(now), used)), now)
            .await
    }

    /// Records a transition and settles what it closes.
    pub async fn record(&self, backend_id: &str, transition: Transition, size: Size) -> Result<()> {
        let Some(mut row) = self.db.meter(backend_id).await? else {
            // Not an instance a tenant pays for.
            return Ok(());
        };
        let now = self.billing.now();
        let seq = self
            .db
            .record_usage_event(
                backend_id,
                transition_name(transition),
                now,
                size.millicpus as i64,
                size.memory as i64,
            )
            .await?;
        let mut meter = read(&row)?;
        let event = UsageEvent {
            seq: seq as u64,
            transition,
            at: now,
            size,
        };
        let Some(owed) = meter.apply(&self.billing.prices(), &event) else {
            return Ok(());
        };
        let key = format!("usage:{backend_id}:e{seq}");
        self.settle(&mut row, &meter, owed, key, now).await?;
        Ok(())
    }

    /// Charges `owed`, first from what was paid ahead; stores the meter with it.
    async fn settle(
        &self,
        row: &mut MeterRow,
        meter: &Meter,
        used: Breakdown,
        key: String,
        now: i64,
    ) -> Result<Credits> {
        let owed = used.total();
        let from_prepaid = owed.micros().min(row.prepaid).max(0);
        row.prepaid -= from_prepaid;
        let charged = Credits::from_micros(owed.micros() - from_prepaid);
        row.state = write(meter);
        let agent = self
            .fleet
            .as_ref()
            .and_then(|f| f.agent_of(&row.backend_id));
        let tx = nubes_billing::ledger::usage_with_prepaid(
            key,
            format!("instance {}", row.backend_id),
            &row.user_id,
            agent.as_deref(),
            charged,
            Credits::from_micros(from_prepaid),
            self.billing.fee(),
        );
        let id = token::random_id();
        self.db
            .settle_meter(
                row,
                meter.open.is_some(),
                tx.as_ref().map(|t| (id.as_str(), t)),
                Some((day(now), used)),
                now,
            )
            .await?;
        Ok(charged)
    }

    /// Charges every running instance up to now, as confirmed by `compute`; then stops the
    /// instances of wallets that reached zero.
    pub async fn tick(&self, compute: &dyn Compute) -> Result<()> {
        let now = self.billing.now();
        let live = compute.list(ListOptions::default()).await?;
        let mut payers: BTreeMap<String, Credits> = BTreeMap::new();
        for mut row in self.db.open_meters().await? {
            let running = live
                .iter()
                .any(|i| i.name == row.backend_id && i.state == InstanceState::Running);
            let mut meter = read(&row)?;
            let owed = meter.confirm(&self.billing.prices(), now, running);
            let key = format!("usage:{}:t{now}", row.backend_id);
            let charged = self.settle(&mut row, &meter, owed, key, now).await?;
            if charged > Credits::ZERO {
                let sum = payers.entry(row.user_id.clone()).or_default();
                *sum = sum.checked_add(charged).unwrap_or(*sum);
            }
        }
        for (user, charged) in payers {
            let after = self.billing.balance_of(&user).await?;
            let before = after.checked_add(charged).unwrap_or(after);
            for level in self.billing.crossed(before, after) {
                self.billing.alert(&self.events, &user, level, after).await;
            }
            if after <= Credits::ZERO {
                self.stop_all(compute, &user, &live).await;
            }
        }
        Ok(())
    }

    /// Stops what a user with no credits left runs, and says so.
    async fn stop_all(&self, compute: &dyn Compute, user: &str, live: &[Instance]) {
        let Ok(rows) = self.db.instances_visible_to(user).await else {
            return;
        };
        for row in rows.iter().filter(|r| r.owner_id == user) {
            let running = live
                .iter()
                .any(|i| i.name == row.backend_id && i.state == InstanceState::Running);
            if !running {
                continue;
            }
            match compute.stop(&row.backend_id, StopOptions::default()).await {
                Ok(_) => {
                    let mut e = Event::new("billing.insufficient_credits");
                    e.org_id = Some(row.org_id.clone());
                    e.instance_id = Some(row.id.clone());
                    e.name = Some(row.name.clone());
                    e.state = Some("stopped".into());
                    self.events.publish(e);
                }
                Err(e) => {
                    tracing::warn!(instance = %row.id, error = %e, "cannot stop an instance whose wallet is empty")
                }
            }
        }
    }
}

/// The compute provider, with each transition recorded for metering.
#[derive(Debug)]
pub struct Metered {
    inner: Arc<dyn Compute>,
    metering: Metering,
}

impl Metered {
    pub fn new(inner: Arc<dyn Compute>, metering: Metering) -> Self {
        Self { inner, metering }
    }

    /// The transition happened; failing to record it must not undo it, so it is logged.
    async fn note(&self, name: &str, transition: Transition, size: Size) {
        if let Err(e) = self.metering.record(name, transition, size).await {
            tracing::error!(instance = %name, error = %e, "a usage event was not recorded");
        }
    }
}

#[async_trait]
impl Compute for Metered {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capability(&self) -> ComputeCapability {
        self.inner.capability()
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        let name = spec.name.clone();
        let i = self.inner.create(spec).await?;
        self.note(&name, Transition::Created, size_of(&i)).await;
        Ok(i)
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.inner.get(id).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        self.inner.list(options).await
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        let i = self.inner.start(id).await?;
        self.note(id, Transition::Started, size_of(&i)).await;
        Ok(i)
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let i = self.inner.stop(id, options).await?;
        self.note(id, Transition::Stopped, size_of(&i)).await;
        Ok(i)
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.inner.restart(id, options).await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        self.inner.delete(id, options).await?;
        self.note(id, Transition::Deleted, Size::default()).await;
        Ok(())
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        self.inner.exec(id, request).await
    }

    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        self.inner.exec_stream(id, request, stdin).await
    }

    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        self.inner.logs(id, options).await
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        self.inner.stats(id).await
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let i = self.inner.resize(id, request).await?;
        self.note(id, Transition::Resized, size_of(&i)).await;
        Ok(i)
    }
}
