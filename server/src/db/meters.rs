//! Metering's storage: meters whose state changes in the same database transaction as the
//! charge it makes and the usage event it applied (events are numbered by the usage journal).

use async_trait::async_trait;
use nubes::Result;
use nubes_auth::token;
use nubes_billing::metering::{self, MeterStore};
pub use nubes_billing::metering::{MeterRow, Settlement};
use nubes_billing::Credits;

use super::{map, Db, Locked};

/// What one instance used on one day, by resource, in micro-credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub day: i64,
    pub instance_id: String,
    pub name: String,
    pub instance: i64,
    pub cpu: i64,
    pub memory: i64,
    pub disk: i64,
}

type MeterTuple = (String, String, i64, String, String, String);

const METER_COLUMNS: &str = "backend_id, user_id, prepaid, state, instance_id, name";

fn meter_row(
    (backend_id, user_id, prepaid, state, instance_id, name): MeterTuple,
) -> Result<MeterRow> {
    Ok(MeterRow {
        backend_id,
        user_id,
        prepaid,
        meter: metering::decode(&state)?,
        instance_id,
        name,
    })
}

/// Meters in the database: a settlement is one transaction.
#[async_trait]
impl MeterStore for Db {
    async fn all(&self) -> Result<Vec<MeterRow>> {
        let rows: Vec<MeterTuple> = sqlx::query_as(&format!("SELECT {METER_COLUMNS} FROM meters"))
            .fetch_all(self.pool())
            .await
            .map_err(|e| map(e, "meter"))?;
        rows.into_iter().map(meter_row).collect()
    }

    async fn get(&self, backend_id: &str) -> Result<Option<MeterRow>> {
        self.meter(backend_id).await
    }

    async fn by_state(&self, open: bool) -> Result<Vec<MeterRow>> {
        let rows: Vec<MeterTuple> = sqlx::query_as(&format!(
            "SELECT {METER_COLUMNS} FROM meters WHERE open = $1"
        ))
        .bind(i64::from(open))
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "meter"))?;
        rows.into_iter().map(meter_row).collect()
    }

    async fn settle(&self, settlement: Settlement<'_>) -> Result<()> {
        let mut db = self.pool().begin().await.map_err(|e| map(e, "meter"))?;
        Self::settle_meter_in(&mut db, settlement).await?;
        db.commit().await.map_err(|e| map(e, "meter"))
    }
}

impl Db {
    pub async fn meter(&self, backend_id: &str) -> Result<Option<MeterRow>> {
        let r: Option<MeterTuple> = sqlx::query_as(&format!(
            "SELECT {METER_COLUMNS} FROM meters WHERE backend_id = $1"
        ))
        .bind(backend_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "meter"))?;
        r.map(meter_row).transpose()
    }

    /// Stores the meter, keeps the event it applied, posts its charge if it made one, and adds
    /// what it metered to the usage of the days it ran in, inside the caller's transaction.
    pub async fn settle_meter_in(db: &mut Locked, settlement: Settlement<'_>) -> Result<()> {
        let open = settlement.open();
        let Settlement {
            row: meter,
            event,
            charge,
            used,
            now,
        } = settlement;
        if let Some((transition, e)) = event {
            sqlx::query(
                "INSERT INTO usage_events (backend_id, seq, transition, at, millicpus, memory) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (backend_id, seq) DO NOTHING",
            )
            .bind(&meter.backend_id)
            .bind(e.seq as i64)
            .bind(transition)
            .bind(e.at)
            .bind(e.size.millicpus as i64)
            .bind(e.size.memory as i64)
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "usage"))?;
        }
        if let Some(tx) = charge {
            Self::post_in(db, &token::random_id(), tx, None, now).await?;
        }
        sqlx::query(
            "INSERT INTO meters (backend_id, user_id, prepaid, state, open, instance_id, name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (backend_id) DO UPDATE \
             SET prepaid = excluded.prepaid, state = excluded.state, open = excluded.open",
        )
        .bind(&meter.backend_id)
        .bind(&meter.user_id)
        .bind(meter.prepaid)
        .bind(metering::encode(&meter.meter))
        .bind(i64::from(open))
        .bind(&meter.instance_id)
        .bind(&meter.name)
        .execute(&mut **db)
        .await
        .map_err(|e| map(e, "meter"))?;
        for (day, b) in used.iter().filter(|(_, b)| b.total() != Credits::ZERO) {
            sqlx::query(
                "INSERT INTO usage_daily (user_id, backend_id, day, instance_id, name, instance, cpu, memory, disk) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (user_id, backend_id, day) DO UPDATE SET \
                 instance = usage_daily.instance + excluded.instance, cpu = usage_daily.cpu + excluded.cpu, \
                 memory = usage_daily.memory + excluded.memory, disk = usage_daily.disk + excluded.disk",
            )
            .bind(&meter.user_id)
            .bind(&meter.backend_id)
            .bind(day)
            .bind(&meter.instance_id)
            .bind(&meter.name)
            .bind(b.instance.micros())
            .bind(b.cpu.micros())
            .bind(b.memory.micros())
            .bind(b.disk.micros())
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "usage"))?;
        }
        Ok(())
    }

    /// Forgets the meter of an instance that was never made, inside the caller's transaction.
    pub async fn delete_meter_in(db: &mut Locked, backend_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM meters WHERE backend_id = $1")
            .bind(backend_id)
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "meter"))?;
        sqlx::query("DELETE FROM usage_daily WHERE backend_id = $1")
            .bind(backend_id)
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "usage"))?;
        Ok(())
    }

    /// A user's usage between two days (inclusive, as day numbers since the epoch).
    pub async fn usage(&self, user_id: &str, from: i64, to: i64) -> Result<Vec<UsageRow>> {
        let rows: Vec<(i64, String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT day, instance_id, name, instance, cpu, memory, disk FROM usage_daily \
             WHERE user_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, name, instance_id",
        )
        .bind(user_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "usage"))?;
        Ok(rows
            .into_iter()
            .map(
                |(day, instance_id, name, instance, cpu, memory, disk)| UsageRow {
                    day,
                    instance_id,
                    name,
                    instance,
                    cpu,
                    memory,
                    disk,
                },
            )
            .collect())
    }
}
