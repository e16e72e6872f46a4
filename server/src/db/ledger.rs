//! The ledger's storage: a transaction, its entries and the balances they move are written in
//! one database transaction, or not at all.

use nubes::{Error, ErrorKind, Result};
use nubes_billing::{Credits, Transaction};

use super::{map, Db, Locked};

/// How a post ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Done,
    /// A transaction with the same key was posted before; nothing changed.
    Replayed,
}

/// A transaction as one account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRow {
    pub id: String,
    pub kind: String,
    pub memo: String,
    pub amount: i64,
    pub created_at: i64,
}

fn posted_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Db {
    /// Posts `tx`. With `guard`, that account may not go below zero: the post is refused with
    /// `InsufficientCredits` and nothing is written. The check and the change are one statement,
    /// so concurrent posts against one balance never overspend it.
    pub async fn post(
        &self,
        id: &str,
        tx: &Transaction,
        guard: Option<&str>,
        now: i64,
    ) -> Result<Posted> {
        let mut db = self.pool().begin().await.map_err(|e| map(e, "ledger"))?;
        let posted = Self::post_in(&mut db, id, tx, guard, now).await?;
        db.commit().await.map_err(|e| map(e, "ledger"))?;
        Ok(posted)
    }

    /// `post` inside a database transaction the caller commits (an error leaves it to be
    /// rolled back).
    pub async fn post_in(
        db: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &str,
        tx: &Transaction,
        guard: Option<&str>,
        now: i64,
    ) -> Result<Posted> {
        tx.validate()?;
        let inserted = sqlx::query(
            "INSERT INTO ledger_transactions (id, tx_key, kind, memo, created_at, posted_ns) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tx_key) DO NOTHING",
        )
        .bind(id)
        .bind(&tx.key)
        .bind(tx.kind.as_str())
        .bind(&tx.memo)
        .bind(now)
        // Orders transactions of the same second as they were posted.
        .bind(posted_ns())
        .execute(&mut **db)
        .await
        .map_err(|e| map(e, "ledger"))?;
        if inserted.rows_affected() == 0 {
            return Ok(Posted::Replayed);
        }
        for e in &tx.entries {
            let account = e.account.key();
            let amount = e.amount.micros();
            sqlx::query("INSERT INTO ledger_entries (tx_id, account, amount) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(&account)
                .bind(amount)
                .execute(&mut **db)
                .await
                .map_err(|e| map(e, "ledger"))?;
            let guarded = guard == Some(account.as_str()) && amount < 0;
            let moved = if guarded {
                sqlx::query(
                    "UPDATE ledger_accounts SET balance = balance + $1 WHERE account = $2 AND balance + $1 >= 0",
                )
            } else {
                sqlx::query("UPDATE ledger_accounts SET balance = balance + $1 WHERE account = $2")
            }
            .bind(amount)
            .bind(&account)
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "ledger"))?;
            if moved.rows_affected() == 1 {
                continue;
            }
            if guarded {
                return Err(Error::new(
                    ErrorKind::InsufficientCredits,
                    format!("the balance cannot cover {}", -e.amount),
                ));
            }
            sqlx::query("INSERT INTO ledger_accounts (account, balance) VALUES ($1, $2)")
                .bind(&account)
                .bind(amount)
                .execute(&mut **db)
                .await
                .map_err(|e| map(e, "ledger"))?;
        }
        Ok(Posted::Done)
    }

    pub async fn balance(&self, account: &str) -> Result<Credits> {
        let b: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM ledger_accounts WHERE account = $1")
                .bind(account)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| map(e, "ledger"))?;
        Ok(Credits::from_micros(b.unwrap_or(0)))
    }

    /// An account's transactions, newest first, each with what it did to the account in all.
    pub async fn account_transactions(&self, account: &str, limit: i64) -> Result<Vec<TxRow>> {
        let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT t.id, t.kind, t.memo, CAST(SUM(e.amount) AS BIGINT), t.created_at FROM ledger_entries e \
             JOIN ledger_transactions t ON t.id = e.tx_id WHERE e.account = $1 \
             GROUP BY t.id, t.kind, t.memo, t.created_at, t.posted_ns \
             ORDER BY t.created_at DESC, t.posted_ns DESC LIMIT $2",
        )
        .bind(account)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "ledger"))?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, memo, amount, created_at)| TxRow {
                id,
                kind,
                memo,
                amount,
                created_at,
            })
            .collect())
    }

    /// What the transaction keyed `key` took from `user_id`'s wallet, if it was posted.
    pub async fn posted_to(&self, key: &str, user_id: &str) -> Result<Option<Credits>> {
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(-SUM(e.amount) AS BIGINT) FROM ledger_entries e \
             JOIN ledger_transactions t ON t.id = e.tx_id WHERE t.tx_key = $1 AND e.account = $2",
        )
        .bind(key)
        .bind(nubes_billing::Account::Wallet(user_id.to_string()).key())
        .fetch_one(self.pool())
        .await
        .map_err(|e| map(e, "ledger"))?;
        Ok(taken.filter(|t| *t > 0).map(Credits::from_micros))
    }

    /// Sums that must be zero for a sound ledger: every transaction's entries, and all
    /// balances together. Returns the transactions that do not balance and the balances' sum.
    pub async fn ledger_audit(&self) -> Result<(Vec<String>, i64)> {
        let unbalanced: Vec<String> = sqlx::query_scalar(
            "SELECT tx_id FROM ledger_entries GROUP BY tx_id HAVING SUM(amount) <> 0",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "ledger"))?;
        let total: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM ledger_accounts",
        )
        .fetch_one(self.pool())
        .await
        .map_err(|e| map(e, "ledger"))?;
        Ok((unbalanced, total.unwrap_or(0)))
    }

    /// A user's plan and the start of its current month.
    pub async fn user_plan(&self, user_id: &str) -> Result<Option<(String, i64)>> {
        let mut conn = self.pool().acquire().await.map_err(|e| map(e, "plan"))?;
        Self::user_plan_on(&mut conn, user_id).await
    }

    /// `user_plan`, on `conn` (the transaction holding the user's lock, say).
    pub async fn user_plan_on(
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Option<(String, i64)>> {
        sqlx::query_as("SELECT plan, period_start FROM billing_plans WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await
            .map_err(|e| map(e, "plan"))
    }

    /// A balance, inside the caller's transaction.
    pub async fn balance_in(db: &mut Locked, account: &str) -> Result<Credits> {
        let b: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM ledger_accounts WHERE account = $1")
                .bind(account)
                .fetch_optional(&mut **db)
                .await
                .map_err(|e| map(e, "ledger"))?;
        Ok(Credits::from_micros(b.unwrap_or(0)))
    }

    pub async fn set_user_plan_in(
        db: &mut Locked,
        user_id: &str,
        plan: &str,
        period_start: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO billing_plans (user_id, plan, period_start) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET plan = excluded.plan, period_start = excluded.period_start",
        )
        .bind(user_id)
        .bind(plan)
        .bind(period_start)
        .execute(&mut **db)
        .await
        .map_err(|e| map(e, "plan"))?;
        Ok(())
    }
}
