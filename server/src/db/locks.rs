//! Per-tenant locks: a check and the change it guards run in one database transaction that
//! first takes the lock of every tenant involved, so two requests of one tenant (on one server
//! or on several sharing a PostgreSQL database) are admitted one after the other.
//!
//! The lock is a row written as the transaction's first statement. On PostgreSQL the write
//! holds that row's lock until commit; on SQLite the first write takes the database's write lock
//! (waiting out the busy timeout), and because nothing was read before it, the transaction can
//! never be refused later for having read a stale snapshot.

use nubes::Result;

use super::{map, Db};

/// A database transaction holding tenants' locks; dropped without `commit`, it rolls back.
pub type Locked = sqlx::Transaction<'static, sqlx::Any>;

impl Db {
    /// Begins a transaction holding the locks of `keys` (taken in sorted order, so two callers
    /// never wait on each other in a cycle).
    pub async fn locked(&self, keys: &[&str]) -> Result<Locked> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let mut db = self.pool().begin().await.map_err(|e| map(e, "lock"))?;
        for key in keys {
            sqlx::query(
                "INSERT INTO tenant_locks (key, version) VALUES ($1, 1) \
                 ON CONFLICT (key) DO UPDATE SET version = tenant_locks.version + 1",
            )
            .bind(key)
            .execute(&mut *db)
            .await
            .map_err(|e| map(e, "lock"))?;
        }
        Ok(db)
    }

    /// How often the lock `key` was taken, counting the caller's own holding of it: a number
    /// unique to each holder, for keys of operations that must never look like replays.
    pub async fn lock_version(db: &mut Locked, key: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT version FROM tenant_locks WHERE key = $1")
            .bind(key)
            .fetch_one(&mut **db)
            .await
            .map_err(|e| map(e, "lock"))
    }
}

/// The lock of a user's own holdings, plan and wallet.
pub fn user_lock(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The lock of an organization's holdings.
pub fn org_lock(org_id: &str) -> String {
    format!("org:{org_id}")
}
