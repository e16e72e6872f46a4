//! Metering: a layer around a compute provider that records each lifecycle transition as a
//! usage event ([`Metered`]), and a tick on billing's clock that charges what running instances
//! owe while they are confirmed running (for a fleet, by its agents' reports). The rules are
//! [`Meter`]'s; where meters are kept is the platform's ([`MeterStore`]).
//!
//! Events go to the usage journal first (durable, numbered per instance, duplicates dropped);
//! one applier takes them from there in order and settles each in the same store transaction
//! as the meter's new state, so nothing is charged twice across restarts or replays.

mod layer;
mod store;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nubes_core::compute::{Instance, InstanceState, ListOptions};
use nubes_core::{Compute, Error, Result};
use tokio::sync::{watch, Mutex};

use crate::journal::{self, Appended, Cursor, Entry, Journal, Record};
use crate::{day, Breakdown, Clock, Credits, Fee, Meter, Owed, Prices, Resources, Transition};
use crate::{ledger, UsageEvent};

pub use layer::Metered;
pub use store::{Lessors, MeterRow, MeterStore, Settlement};

/// How long a transition waits to be applied before its caller goes on; it is durable in the
/// journal already and is applied when the store answers again.
const APPLY_WAIT: Duration = Duration::from_secs(10);
/// Records applied in one pass of the applier.
const APPLY_BATCH: usize = 512;

/// What a meter is charged at, and who else earns from it.
#[derive(Debug, Clone)]
pub struct Tariff {
    pub prices: Prices,
    pub fee: Fee,
    /// Where instances run on leased machines, so their lessors earn.
    pub lessors: Option<Arc<dyn Lessors>>,
}

/// What one tick charged, by payer, and what ran when it looked.
#[derive(Debug, Clone, Default)]
pub struct Tick {
    pub charged: BTreeMap<String, Credits>,
    pub live: Vec<Instance>,
}

impl Tick {
    /// Whether `backend_id` ran when the tick looked.
    pub fn running(&self, backend_id: &str) -> bool {
        running(&self.live, backend_id)
    }
}

fn running(live: &[Instance], backend_id: &str) -> bool {
    live.iter()
        .any(|i| i.name == backend_id && i.state == InstanceState::Running)
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

/// What an instance is metered at: its compute (its disk was paid once at creation).
pub fn size_of(i: &Instance) -> Resources {
    Resources::held(i).compute_only()
}

#[derive(Debug, Clone)]
pub struct Metering {
    store: Arc<dyn MeterStore>,
    clock: Arc<dyn Clock>,
    tariff: Tariff,
    /// Transitions are journaled first, then applied to meters in order.
    journal: Journal,
    /// How far the journal is applied.
    applied: watch::Receiver<Cursor>,
    /// Meters change only under this: the applier and the tick never settle one at once.
    settling: Arc<Mutex<()>>,
}

impl Metering {
    /// Opens the usage journal in `journal_dir`, applies what an earlier run journaled and did
    /// not apply, and goes on applying it as it grows.
    pub async fn new(
        store: Arc<dyn MeterStore>,
        clock: Arc<dyn Clock>,
        tariff: Tariff,
        journal_dir: &Path,
    ) -> Result<Self> {
        let journal = Journal::open(journal_dir, journal::Options::default())?;
        // Numbers whose segments were released live on in the meters: never reuse them.
        let numbers = store
            .all()
            .await?
            .into_iter()
            .map(|row| (row.backend_id, row.meter.seq))
            .collect();
        journal.seed(numbers)?;
        let (applied_tx, applied) = watch::channel(journal.released());
        let metering = Self {
            store,
            clock,
            tariff,
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

    /// What opening a meter uses: `disk`, paid once at creation, today. Written with
    /// [`Settlement::opening`] in the transaction that admits the instance.
    pub fn opening(&self, disk: Credits) -> Vec<(i64, Breakdown)> {
        let used = Breakdown {
            disk,
            ..Breakdown::default()
        };
        vec![(day(self.clock.now()), used)]
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Journals a transition at the clock's time and waits (a while) for it to be applied, so
    /// what it settles shows in the balance when the caller returns.
    pub async fn record(
        &self,
        backend_id: &str,
        transition: Transition,
        size: Resources,
    ) -> Result<()> {
        if self.store.get(backend_id).await?.is_none() {
            // Not an instance anyone pays for.
            return Ok(());
        }
        let entry = Entry {
            instance: backend_id.to_string(),
            seq: None,
            transition,
            at: self.clock.now(),
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
            .map_err(|e| Error::unexpected(format!("usage journal reader: {e}")))??;
        let _settling = self.settling.lock().await;
        for (record, _) in records {
            self.apply(record).await?;
        }
        Ok(next)
    }

    /// Applies one journaled event to its meter and settles what it closes.
    async fn apply(&self, record: Record) -> Result<()> {
        let Some(mut row) = self.store.get(&record.instance).await? else {
            return Ok(());
        };
        let event = record.event;
        let Some(owed) = row.meter.apply(&self.tariff.prices, &event) else {
            return Ok(());
        };
        let key = format!("usage:{}:e{}", record.instance, event.seq);
        let name = transition_name(event.transition);
        self.settle(&mut row, Some((name, &event)), owed, key, event.at)
            .await?;
        Ok(())
    }

    /// Charges `used`, first from what was paid ahead; stores the meter (as `row` holds it now)
    /// with it. Returns what was charged beyond the prepayment.
    async fn settle(
        &self,
        row: &mut MeterRow,
        event: Option<(&str, &UsageEvent)>,
        used: Owed,
        key: String,
        now: i64,
    ) -> Result<Credits> {
        let owed = used.sum().total();
        let from_prepaid = owed.micros().min(row.prepaid).max(0);
        row.prepaid -= from_prepaid;
        let charged = Credits::from_micros(owed.micros() - from_prepaid);
        let lessor = self
            .tariff
            .lessors
            .as_ref()
            .and_then(|l| l.lessor_of(&row.backend_id));
        let tx = ledger::usage_with_prepaid(
            key,
            format!("instance {}", row.backend_id),
            &row.user_id,
            lessor.as_deref(),
            charged,
            Credits::from_micros(from_prepaid),
            self.tariff.fee,
        );
        self.store
            .settle(Settlement {
                row,
                event,
                charge: tx.as_ref(),
                used: &used.days,
                now,
            })
            .await?;
        Ok(charged)
    }

    /// Charges every running instance up to now, as confirmed by `compute`, and meters from now
    /// on whatever runs with its meter closed. Returns what it charged whom (beyond what they
    /// paid ahead), for the platform to act on (alerts, empty wallets).
    pub async fn tick(&self, compute: &dyn Compute) -> Result<Tick> {
        let now = self.clock.now();
        let mut tick = Tick {
            live: compute.list(ListOptions::default()).await?,
            ..Tick::default()
        };
        // Settling holds the applier off; what the caller does next (stopping) must not, as a
        // stop is applied.
        let settling = self.settling.lock().await;
        for mut row in self.store.by_state(true).await? {
            let owed = row
                .meter
                .confirm(&self.tariff.prices, now, tick.running(&row.backend_id));
            let key = format!("usage:{}:t{now}", row.backend_id);
            let charged = self.settle(&mut row, None, owed, key, now).await?;
            if charged > Credits::ZERO {
                let sum = tick.charged.entry(row.user_id.clone()).or_default();
                *sum = sum.checked_add(charged).unwrap_or(*sum);
            }
        }
        drop(settling);
        if let Err(e) = self.open_running(compute, &tick.live).await {
            // The rest of the tick (empty wallets stopped) must not wait on this.
            tracing::error!(error = %e, "meters of running instances were not all opened");
        }
        Ok(tick)
    }

    /// Opens the meter of every instance the backend runs while its meter is closed: whatever
    /// made it run without a transition passing through [`Metered`] (an agent that adopted it
    /// after a reconnect, a move to another agent, a restart policy, a server that crashed
    /// between the engine's answer and the journal) is metered from this tick on.
    async fn open_running(&self, compute: &dyn Compute, live: &[Instance]) -> Result<()> {
        for row in self.store.by_state(false).await? {
            if !running(live, &row.backend_id) || row.meter.deleted {
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
}

/// A meter's state as text, for stores that keep it so.
pub fn encode(meter: &Meter) -> String {
    serde_json::to_string(meter).expect("meters serialize")
}

/// A meter's state from the text [`encode`] made.
pub fn decode(text: &str) -> Result<Meter> {
    serde_json::from_str(text)
        .map_err(|e| Error::unexpected(format!("a stored meter is unreadable: {e}")))
}

#[cfg(test)]
mod tests;
