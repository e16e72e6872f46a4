//! Metering's storage: usage events numbered per instance, and meters whose state changes in
//! the same database transaction as the charge it makes.

use nubes::Result;
use nubes_billing::Transaction;

use super::{map, Db};

/// A meter as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterRow {
    pub backend_id: String,
    pub user_id: String,
    /// Micro-credits paid ahead (at create), spent before anything is charged.
    pub prepaid: i64,
    /// `nubes_billing::Meter` as JSON.
    pub state: String,
}

impl Db {
    /// Records the instance's next event; returns its number.
    pub async fn record_usage_event(
        &self,
        backend_id: &str,
        transition: &str,
        at: i64,
        millicpus: i64,
        memory: i64,
    ) -> Result<i64> {
        // Numbers come from the table itself; a clash (two events at once) is retried.
        for _ in 0..5 {
            let next: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(MAX(seq), 0) + 1 AS BIGINT) FROM usage_events WHERE backend_id = $1",
            )
            .bind(backend_id)
            .fetch_one(self.pool())
            .await
            .map_err(|e| map(e, "usage"))?;
            let done = sqlx::query(
                "INSERT INTO usage_events (backend_id, seq, transition, at, millicpus, memory) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (backend_id, seq) DO NOTHING",
            )
            .bind(backend_id)
            .bind(next)
            .bind(transition)
            .bind(at)
            .bind(millicpus)
            .bind(memory)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "usage"))?;
            if done.rows_affected() == 1 {
                return Ok(next);
            }
        }
        Err(nubes::Error::unexpected("usage events kept clashing"))
    }

    pub async fn meter(&self, backend_id: &str) -> Result<Option<MeterRow>> {
        let r: Option<(String, String, i64, String)> = sqlx::query_as(
            "SELECT backend_id, user_id, prepaid, state FROM meters WHERE backend_id = $1",
        )
        .bind(backend_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "meter"))?;
        Ok(r.map(|(backend_id, user_id, prepaid, state)| MeterRow {
            backend_id,
            user_id,
            prepaid,
            state,
        }))
    }

    /// Meters of instances that are running (by their last events).
    pub async fn open_meters(&self) -> Result<Vec<MeterRow>> {
        let rows: Vec<(String, String, i64, String)> =
            sqlx::query_as("SELECT backend_id, user_id, prepaid, state FROM meters WHERE open = 1")
                .fetch_all(self.pool())
                .await
                .map_err(|e| map(e, "meter"))?;
        Ok(rows
            .into_iter()
            .map(|(backend_id, user_id, prepaid, state)| MeterRow {
                backend_id,
                user_id,
                prepaid,
                state,
            })
            .collect())
    }

    /// Stores the meter and, when it charged something, posts the charge: one transaction.
    pub async fn settle_meter(
        &self,
        meter: &MeterRow,
        open: bool,
        charge: Option<(&str, &Transaction)>,
        now: i64,
    ) -> Result<()> {
        let mut db = self.pool().begin().await.map_err(|e| map(e, "meter"))?;
        if let Some((id, tx)) = charge {
            Self::post_in(&mut db, id, tx, None, now).await?;
        }
        sqlx::query(
            "INSERT INTO meters (backend_id, user_id, prepaid, state, open) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (backend_id) DO UPDATE SET prepaid = excluded.prepaid, state = excluded.state, open = excluded.open",
        )
        .bind(&meter.backend_id)
        .bind(&meter.user_id)
        .bind(meter.prepaid)
        .bind(&meter.state)
        .bind(i64::from(open))
        .execute(&mut *db)
        .await
        .map_err(|e| map(e, "meter"))?;
        db.commit().await.map_err(|e| map(e, "meter"))
    }
}
