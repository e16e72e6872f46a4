//! Metering against a store in memory: what the platform's database does, minus SQL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use nubes_core::memory::MemoryCompute;
use nubes_core::{InstanceSpec, StopOptions};

use super::*;
use crate::{Account, Transaction};

#[derive(Debug, Default)]
struct Store {
    meters: Mutex<HashMap<String, MeterRow>>,
    /// Posted transactions by key: a key posted twice is posted once.
    posted: Mutex<HashMap<String, Transaction>>,
}

#[async_trait]
impl MeterStore for Store {
    async fn all(&self) -> Result<Vec<MeterRow>> {
        Ok(self.meters.lock().unwrap().values().cloned().collect())
    }
    async fn get(&self, backend_id: &str) -> Result<Option<MeterRow>> {
        Ok(self.meters.lock().unwrap().get(backend_id).cloned())
    }
    async fn by_state(&self, open: bool) -> Result<Vec<MeterRow>> {
        let all = self.all().await?;
        Ok(all
            .into_iter()
            .filter(|r| r.meter.open.is_some() == open)
            .collect())
    }
    async fn settle(&self, s: Settlement<'_>) -> Result<()> {
        if let Some(tx) = s.charge {
            self.posted
                .lock()
                .unwrap()
                .entry(tx.key.clone())
                .or_insert_with(|| tx.clone());
        }
        self.meters
            .lock()
            .unwrap()
            .insert(s.row.backend_id.clone(), s.row.clone());
        Ok(())
    }
}

impl Store {
    /// What `user`'s wallet paid in all.
    fn paid_by(&self, user: &str) -> Credits {
        self.posted
            .lock()
            .unwrap()
            .values()
            .flat_map(|tx| tx.entries.iter())
            .filter(|e| e.account == Account::Wallet(user.to_string()))
            .map(|e| -e.amount)
            .sum()
    }
}

#[derive(Debug)]
struct Manual(AtomicI64);

impl Clock for Manual {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const HOUR: i64 = 3600;

#[tokio::test]
async fn running_time_is_charged_once_after_what_was_paid_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::default());
    let clock = Arc::new(Manual(AtomicI64::new(1_700_000_000)));
    let prices = Prices::default();
    let tariff = Tariff {
        prices,
        fee: Fee::default(),
        lessors: None,
    };
    let metering = Metering::new(store.clone(), clock.clone(), tariff.clone(), dir.path())
        .await
        .unwrap();
    let compute = Metered::new(
        Arc::new(MemoryCompute::new().with_image("img")),
        metering.clone(),
    );

    let spec = InstanceSpec::new("web", "img").cpus(1.0).memory(1 << 30);
    let size = Resources::of(&spec).compute_only();
    let hour = prices.hourly(size);
    let row = MeterRow::new("web", "ann", hour, "i-1", "web");
    let used = metering.opening(Credits::ZERO);
    store
        .settle(Settlement::opening(&row, &used, metering.now()))
        .await
        .unwrap();
    Compute::create(&compute, spec).await.unwrap();

    // Three hours on: the first was paid ahead, two are charged; a second tick at the same
    // moment, or a replay of the tick's key, charges nothing more.
    clock.0.fetch_add(3 * HOUR, Ordering::SeqCst);
    let tick = metering.tick(&compute).await.unwrap();
    let two_hours = prices.accrued(size, 3 * HOUR as u64).total().micros() - hour.micros();
    assert_eq!(
        tick.charged.get("ann"),
        Some(&Credits::from_micros(two_hours))
    );
    assert!(metering.tick(&compute).await.unwrap().charged.is_empty());
    assert_eq!(store.paid_by("ann"), Credits::from_micros(two_hours));

    // Stopped, it owes nothing however long it stays so.
    Compute::stop(&compute, "web", StopOptions::default())
        .await
        .unwrap();
    clock.0.fetch_add(10 * HOUR, Ordering::SeqCst);
    assert!(metering.tick(&compute).await.unwrap().charged.is_empty());
    assert_eq!(store.paid_by("ann"), Credits::from_micros(two_hours));

    // A restart of the server opens the journal again: nothing applied twice.
    drop(metering);
    let again = Metering::new(store.clone(), clock, tariff, dir.path())
        .await
        .unwrap();
    assert!(again.tick(&compute).await.unwrap().charged.is_empty());
    assert_eq!(store.paid_by("ann"), Credits::from_micros(two_hours));
}
