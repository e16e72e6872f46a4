//! The audit log: one row per mutating request.

use nubes::Result;

use super::{map, Db};
pub use nubes_api::admin::AuditEntry;

/// Filters for reading the log; all optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub action_prefix: Option<String>,
    pub limit: i64,
}

type Tuple = (
    String,
    i64,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    Option<String>,
);

impl Db {
    pub async fn insert_audit(&self, e: &AuditEntry) -> Result<()> {
        sqlx::query("INSERT INTO audit (id, at, user_id, org_id, action, resource, status, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&e.id)
            .bind(e.at)
            .bind(&e.user_id)
            .bind(&e.org_id)
            .bind(&e.action)
            .bind(&e.resource)
            .bind(e.status)
            .bind(&e.source)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "audit entry"))?;
        Ok(())
    }

    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        // Unset filters compare a column with itself (always true, NULLs aside), which keeps one
        // statement with parameters numbered in order for both engines.
        let rows: Vec<Tuple> = sqlx::query_as(
            "SELECT id, at, user_id, org_id, action, resource, status, source FROM audit
             WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR org_id = $2) AND ($3 = '' OR action LIKE $4)
             ORDER BY at DESC, id DESC LIMIT $5",
        )
        .bind(f.user_id.clone().unwrap_or_default())
        .bind(f.org_id.clone().unwrap_or_default())
        .bind(f.action_prefix.clone().unwrap_or_default())
        .bind(format!("{}%", f.action_prefix.clone().unwrap_or_default().replace('%', "")))
        .bind(f.limit)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "audit"))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, user_id, org_id, action, resource, status, source)| AuditEntry {
                    id,
                    at,
                    user_id,
                    org_id,
                    action,
                    resource,
                    status,
                    source,
                },
            )
            .collect())
    }

    /// Users in the order they registered, `limit` after the one `after` names: each with
    /// their plan as last renewed and their wallet's balance in micro-credits.
    pub async fn users_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<UserRow>> {
        const SELECT: &str = "SELECT u.id, u.email, u.platform_admin, u.created_at, p.plan, \
             l.balance FROM users u LEFT JOIN billing_plans p ON p.user_id = u.id \
             LEFT JOIN ledger_accounts l ON l.account = 'wallet:' || u.id";
        type Row = (String, String, i64, i64, Option<String>, Option<i64>);
        let rows: Vec<Row> = match after {
            // A cursor on (created_at, id), both columns of the order, so a page never
            // repeats or skips a user that registered in the same second.
            Some(after) => {
                sqlx::query_as(&format!(
                    "{SELECT} JOIN users a ON a.id = $1 WHERE u.created_at > a.created_at \
                 OR (u.created_at = a.created_at AND u.id > a.id) \
                 ORDER BY u.created_at, u.id LIMIT $2"
                ))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query_as(&format!("{SELECT} ORDER BY u.created_at, u.id LIMIT $1"))
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await
            }
        }
        .map_err(|e| map(e, "user"))?;
        Ok(rows
            .into_iter()
            .map(|(id, email, admin, created_at, plan, balance)| UserRow {
                id,
                email,
                platform_admin: admin != 0,
                created_at,
                plan,
                balance,
            })
            .collect())
    }

    /// How many users and instances there are, for `/metrics`.
    pub async fn counts(&self) -> Result<(i64, i64)> {
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        let instances: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instances")
            .fetch_one(self.pool())
            .await
            .map_err(|e| map(e, "instance"))?;
        Ok((users, instances))
    }

    pub async fn has_platform_admin(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE platform_admin = 1")
            .fetch_one(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        Ok(n > 0)
    }
}

/// A user as the admin list shows them.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub platform_admin: bool,
    pub created_at: i64,
    pub plan: Option<String>,
    /// Micro-credits; none before their wallet's first transaction.
    pub balance: Option<i64>,
}
