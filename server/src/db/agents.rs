//! Agents the platform admits: each has a token (stored hashed) an admin issued, and may be
//! revoked or cordoned. Their live state is the fleet's, in memory.

use std::collections::HashMap;

use nubes::Result;

use super::{map, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub cordoned: bool,
}

type Tuple = (String, String, i64, Option<i64>, i64);

fn row((id, name, created_at, revoked_at, cordoned): Tuple) -> AgentRow {
    AgentRow {
        id,
        name,
        created_at,
        revoked_at,
        cordoned: cordoned != 0,
    }
}

impl Db {
    pub async fn insert_agent(
        &self,
        id: &str,
        name: &str,
        token_hash: &str,
        created_by: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO agents (id, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(name)
            .bind(token_hash)
            .bind(created_by)
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "agent"))?;
        Ok(())
    }

    /// The live (not revoked) agent holding this token.
    pub async fn agent_by_token(&self, token_hash: &str) -> Result<Option<AgentRow>> {
        let r: Option<Tuple> = sqlx::query_as("SELECT id, name, created_at, revoked_at, cordoned FROM agents WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "agent"))?;
        Ok(r.map(row))
    }

    /// The first platform admin, who owns what the platform makes for itself.
    pub async fn first_platform_admin(&self) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT id FROM users WHERE platform_admin = 1 ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "user"))
    }

    pub async fn agent(&self, id: &str) -> Result<Option<AgentRow>> {
        let r: Option<Tuple> = sqlx::query_as(
            "SELECT id, name, created_at, revoked_at, cordoned FROM agents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "agent"))?;
        Ok(r.map(row))
    }

    pub async fn agent_rows(&self) -> Result<Vec<AgentRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(
            "SELECT id, name, created_at, revoked_at, cordoned FROM agents ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "agent"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    pub async fn revoke_agent(&self, id: &str, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE agents SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await
                .map_err(|e| map(e, "agent"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_agent_cordoned(&self, id: &str, cordoned: bool) -> Result<()> {
        sqlx::query("UPDATE agents SET cordoned = $1 WHERE id = $2")
            .bind(i64::from(cordoned))
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "agent"))?;
        Ok(())
    }

    /// Adds a request to the fleet's stored queue (a second add of the same name is a no-op).
    pub async fn enqueue(&self, name: &str, spec: &str, priority: i32, seq: i64) -> Result<()> {
        sqlx::query("INSERT INTO fleet_queue (name, spec, priority, seq) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(spec)
            .bind(i64::from(priority))
            .bind(seq)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "queue"))?;
        Ok(())
    }

    pub async fn dequeue(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM fleet_queue WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "queue"))?;
        Ok(())
    }

    /// The stored queue in arrival order: (spec JSON, priority).
    pub async fn fleet_queue(&self) -> Result<Vec<(String, i32)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT spec, priority FROM fleet_queue ORDER BY seq, name")
                .fetch_all(self.pool())
                .await
                .map_err(|e| map(e, "queue"))?;
        Ok(rows
            .into_iter()
            .map(|(s, p)| (s, i32::try_from(p).unwrap_or(0)))
            .collect())
    }

    /// Records (or replaces) how a fleet instance was asked for.
    pub async fn save_spec(&self, name: &str, spec: &str, priority: i32) -> Result<()> {
        sqlx::query(
            "INSERT INTO fleet_specs (name, spec, priority) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, priority = excluded.priority",
        )
        .bind(name)
        .bind(spec)
        .bind(i64::from(priority))
        .execute(self.pool())
        .await
        .map_err(|e| map(e, "spec"))?;
        Ok(())
    }

    pub async fn drop_spec(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM fleet_specs WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "spec"))?;
        Ok(())
    }

    /// Every stored spec: (spec JSON, priority).
    pub async fn fleet_specs(&self) -> Result<Vec<(String, i32)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT spec, priority FROM fleet_specs")
            .fetch_all(self.pool())
            .await
            .map_err(|e| map(e, "spec"))?;
        Ok(rows
            .into_iter()
            .map(|(s, p)| (s, i32::try_from(p).unwrap_or(0)))
            .collect())
    }

    /// Which of these backend names belong to a tenant's instance.
    /// Which of `names` are tenants' instances, each with the agent it was placed on.
    pub async fn owned_backend_ids(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, Option<String>>> {
        let mut owned = HashMap::new();
        // One query per name keeps the SQL portable; agents report tens, not thousands.
        for name in names {
            let found: Option<Option<String>> =
                sqlx::query_scalar("SELECT agent_id FROM instances WHERE backend_id = $1")
                    .bind(name)
                    .fetch_optional(self.pool())
                    .await
                    .map_err(|e| map(e, "instance"))?;
            if let Some(agent) = found {
                owned.insert(name.clone(), agent);
            }
        }
        Ok(owned)
    }

    /// Records the agent an instance is placed on.
    pub async fn set_instance_agent(&self, backend_id: &str, agent_id: &str) -> Result<()> {
        sqlx::query("UPDATE instances SET agent_id = $1 WHERE backend_id = $2")
            .bind(agent_id)
            .bind(backend_id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "instance"))?;
        Ok(())
    }
}
