//! Metering: a layer around the compute provider that records each lifecycle transition as a
//! usage event, and a tick on server time that charges what running instances owe while they
//! are confirmed running (for a fleet, by its agents' reports). The rules are
//! `nubes_billing::Meter`'s.
//!
//! Events go to the usage journal first (durable, numbered per instance, duplicates dropped);
//! one applier takes them from there in order and settles each in the same database
//! transaction as the meter's new state, so nothing is charged twice across restarts or
//! replays. A wallet that reaches zero has its instances stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nubes::compute::*;
use nubes::layer::ComputeLayer;
use nubes::{Compute, Result};
use nubes_auth::token;
use nubes_billing::journal::{self, Appended, Cursor, Entry, Journal, Record};
use nubes_billing::{day, Breakdown, Credits, Meter, Owed, Resources, Transition, UsageEvent};
use tokio::sync::{watch, Mutex};

use crate::billing::Billing;
use crate::db::{Db, Locked, MeterRow, Settlement};
use crate::events::Events;

#[derive(Debug, Clone)]
pub struct Metering {
    db: Db,
    billing: Billing,
    events: Events,
    /// Where fleet instances run, so their lessors earn.
    fleet: Option<nubes_agent::Fleet>,
    /// Transitions are journaled first, then applied to meters in order.
    journal: Journal,
    /// How far the journal is applied.
    applied: watch::Receiver<Cursor>,
    /// Meters change only under this: the applier and the tick never settle one at once.
    settling: Arc<Mutex<()>>,
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

fn size_of(i: &Instance) -> Resources {
    Resources::held(i).compute_only()
}

fn read(row: &MeterRow) -> Result<Meter> {
    serde_json::from_str(&row.state)
        .map_err(|e| nubes::Error::unexpected(format!("a stored meter is unreadable: {e}")))
}

fn write(meter: &Meter) -> String {
    serde_json::to_string(meter).expect("meters serialize")
}

/// How long a transition waits to be applied before its caller goes on; it is durable in the
/// journal already and is applied when the database answers again.
const APPLY_WAIT: Duration = Duration::from_secs(10);
/// Records applied in one pass of the applier.
const APPLY_BATCH: usize = 512;

impl Metering {
    /// Opens the usage journal in `journal_dir`, applies what an earlier run journaled and did
    /// not apply, and goes on applying it as it grows.
    pub async fn new(
        db: Db,
        billing: Billing,
        events: Events,
        fleet: Option<nubes_agent::Fleet>,
        journal_dir: &Path,
    ) -> Result<Self> {
        let journal = Journal::open(journal_dir, journal::Options::default())?;
        // Numbers whose segments were released live on in the meters: never reuse them.
        let mut numbers = Vec::new();
        for (backend_id, state) in db.meter_states().await? {
            let meter: Meter = serde_json::from_str(&state).map_err(|e| {
                nubes::Error::unexpected(format!("a stored meter is unreadable: {e}"))
            })?;
            numbers.push((backend_id, meter.seq));
        }
        journal.seed(numbers)?;
        let (applied_tx, applied) = watch::channel(journal.released());
        let metering = Self {
            db,
            billing,
            events,
            fleet,
            journal,
            applied,
            settling: Arc::default(),
        };
        // Balances are served only once what an earlier run journaled is applied.
        metering
            .catch_up(metering.journal.released(), &applied_tx)
            .await?;
        tokio::spawn(metering.clone().apply_forever(applied_tx));
        Ok(metering)
    }

    /// Opens the meter of an instance about to be made: who pays, what they paid ahead (the
    /// first hour), and its disk, used (and paid) once at creation.
    pub async fn open_in(
        &self,
        db: &mut Locked,
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
        let settlement = Settlement {
            meter: &row,
            open: false,
            event: None,
            charge: None,
            used: &[(day(now), used)],
            now,
        };
        Db::settle_meter_in(db, settlement).await
    }

    /// Journals a transition at server time and waits (a while) for it to be applied, so what
    /// it settles shows in the balance when the caller returns.
    pub async fn record(
        &self,
        backend_id: &str,
        transition: Transition,
        size: Resources,
    ) -> Result<()> {
        if self.db.meter(backend_id).await?.is_none() {
            // Not an instance a tenant pays for.
            return Ok(());
        }
        let entry = Entry {
            instance: backend_id.to_string(),
            seq: None,
            transition,
            at: self.billing.now(),
            size,
        };
        let appended = self.journal.append(vec![entry]).await?;
        if let Some(Appended::Recorded { end, .. }) = appended.first() {
            let mut applied = self.applied.clone();
            let done = tokio::time::timeout(APPLY_WAIT, applied.wait_for(|at| at >= end)).await;
            if done.is_err() {
                tracing::warn!(instance = %backend_id, "a usage event is journaled but not applied yet");
            }
        }
        Ok(())
    }

    /// Applies the journal as it grows, for as long as it is open.
    async fn apply_forever(self, applied: watch::Sender<Cursor>) {
        let mut durable = self.journal.durable();
        loop {
            let from = *applied.borrow();
            let at = match self.catch_up(from, &applied).await {
                Ok(at) => at,
                Err(e) => {
                    tracing::error!(error = %e, "usage events wait to be applied");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if *durable.borrow_and_update() > at {
                continue;
            }
            if durable.changed().await.is_err() {
                return;
            }
        }
    }

    /// Applies everything journaled from `at`, noting how far as it goes; returns where it
    /// stopped.
    async fn catch_up(&self, mut at: Cursor, applied: &watch::Sender<Cursor>) -> Result<Cursor> {
        loop {
            let next = self.apply_from(at).await?;
            if next == at {
                return Ok(at);
            }
            at = next;
            applied.send_replace(at);
            if let Err(e) = self.journal.release(at) {
                tracing::warn!(error = %e, "the usage journal keeps applied events");
            }
        }
    }

    /// Applies the next records from `at`; returns where the rest begin. A record applied
    /// already (a retry after an error, a restart) changes nothing.
    async fn apply_from(&self, at: Cursor) -> Result<Cursor> {
        let journal = self.journal.clone();
        let (records, next) = tokio::task::spawn_blocking(move || journal.read(at, APPLY_BATCH))
            .await
            .map_err(|e| nubes::Error::unexpected(format!("usage journal reader: {e}")))??;
        let _settling = self.settling.lock().await;
        for (record, _) in records {
            self.apply(record).await?;
        }
        Ok(next)
    }

    /// Applies one journaled event to its meter and settles what it closes.
    async fn apply(&self, record: Record) -> Result<()> {
        let Some(mut row) = self.db.meter(&record.instance).await? else {
            return Ok(());
        };
        let mut meter = read(&row)?;
        let event = record.event;
        let Some(owed) = meter.apply(&self.billing.prices(), &event) else {
            return Ok(());
        };
        let key = format!("usage:{}:e{}", record.instance, event.seq);
        let name = transition_name(event.transition);
        self.settle(&mut row, &meter, Some((name, &event)), owed, key, event.at)
            .await?;
        Ok(())
    }

    /// Charges `owed`, first from what was paid ahead; stores the meter with it.
    async fn settle(
        &self,
        row: &mut MeterRow,
        meter: &Meter,
        event: Option<(&str, &UsageEvent)>,
        used: Owed,
        key: String,
        now: i64,
    ) -> Result<Credits> {
        let owed = used.sum().total();
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
            .settle_meter(Settlement {
                meter: row,
                open: meter.open.is_some(),
                event,
                charge: tx.as_ref().map(|t| (id.as_str(), t)),
                used: &used.days,
                now,
            })
            .await?;
        Ok(charged)
    }

    /// Charges every running instance up to now, as confirmed by `compute`; then stops the
    /// instances of wallets that reached zero.
    pub async fn tick(&self, compute: &dyn Compute) -> Result<()> {
        let now = self.billing.now();
        let live = compute.list(ListOptions::default()).await?;
        let mut payers: BTreeMap<String, Credits> = BTreeMap::new();
        // Settling holds the applier off; stopping (below) must not, as a stop is applied.
        let settling = self.settling.lock().await;
        for mut row in self.db.open_meters().await? {
            let running = live
                .iter()
                .any(|i| i.name == row.backend_id && i.state == InstanceState::Running);
            let mut meter = read(&row)?;
            let owed = meter.confirm(&self.billing.prices(), now, running);
            let key = format!("usage:{}:t{now}", row.backend_id);
            let charged = self.settle(&mut row, &meter, None, owed, key, now).await?;
            if charged > Credits::ZERO {
                let sum = payers.entry(row.user_id.clone()).or_default();
                *sum = sum.checked_add(charged).unwrap_or(*sum);
            }
        }
        drop(settling);
        if let Err(e) = self.open_running(compute, &live).await {
            // The rest of the tick (empty wallets stopped) must not wait on this.
            tracing::error!(error = %e, "meters of running instances were not all opened");
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

    /// Opens the meter of every instance the backend runs while its meter is closed: whatever
    /// made it run without a transition passing through this layer (an agent that adopted it
    /// after a reconnect, a move to another agent, a restart policy, a server that crashed
    /// between the engine's answer and the journal) is metered from this tick on.
    async fn open_running(&self, compute: &dyn Compute, live: &[Instance]) -> Result<()> {
        for row in self.db.closed_meters().await? {
            if !live
                .iter()
                .any(|i| i.name == row.backend_id && i.state == InstanceState::Running)
            {
                continue;
            }
            if read(&row)?.deleted {
                continue;
            }
            // The listing is from the start of the tick: a stop since then must not reopen it.
            let i = match compute.get(&row.backend_id).await {
                Ok(i) if i.state == InstanceState::Running => i,
                _ => continue,
            };
            tracing::info!(instance = %row.backend_id, "running with its meter closed: metered from now");
            self.record(&row.backend_id, Transition::Started, size_of(&i))
                .await?;
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
                    let mut e = crate::events::event("billing.insufficient_credits");
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
    async fn note(&self, name: &str, transition: Transition, size: Resources) {
        if let Err(e) = self.metering.record(name, transition, size).await {
            tracing::error!(instance = %name, error = %e, "a usage event was not recorded");
        }
    }
}

#[async_trait]
impl ComputeLayer for Metered {
    fn inner(&self) -> &dyn Compute {
        &*self.inner
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        let name = spec.name.clone();
        let i = self.inner.create(spec).await?;
        self.note(&name, Transition::Created, size_of(&i)).await;
        Ok(i)
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
        let i = self.inner.restart(id, options).await?;
        // A restart of a stopped instance starts it; of a running one, changes nothing here.
        self.note(id, Transition::Started, size_of(&i)).await;
        Ok(i)
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        self.inner.delete(id, options).await?;
        self.note(id, Transition::Deleted, Resources::default())
            .await;
        Ok(())
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let i = self.inner.resize(id, request).await?;
        self.note(id, Transition::Resized, size_of(&i)).await;
        Ok(i)
    }
}
