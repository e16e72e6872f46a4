//! Instance rows: which tenant owns which backend instance. The backend holds the live state;
//! this table holds ownership, so every read and write can be scoped before the backend is asked.

use nubes::Result;

use super::{map, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub id: String,
    pub org_id: String,
    pub owner_id: String,
    pub name: String,
    pub backend_id: String,
    pub created_at: i64,
}

type Tuple = (String, String, String, String, String, i64);

fn row((id, org_id, owner_id, name, backend_id, created_at): Tuple) -> InstanceRow {
    InstanceRow {
        id,
        org_id,
        owner_id,
        name,
        backend_id,
        created_at,
    }
}

impl Db {
    pub async fn insert_instance(&self, r: &InstanceRow) -> Result<()> {
        sqlx::query("INSERT INTO instances (id, org_id, owner_id, name, backend_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&r.id)
            .bind(&r.org_id)
            .bind(&r.owner_id)
            .bind(&r.name)
            .bind(&r.backend_id)
            .bind(r.created_at)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, &format!("an instance named {} in this organization", r.name)))?;
        Ok(())
    }

    pub async fn instance(&self, id: &str) -> Result<Option<InstanceRow>> {
        if let Some(row) = self.cache().instances.get(id) {
            return Ok(Some(row));
        }
        let r: Option<Tuple> = sqlx::query_as("SELECT id, org_id, owner_id, name, backend_id, created_at FROM instances WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "instance"))?;
        let found = r.map(row);
        if let Some(row) = &found {
            self.cache().instances.insert(id.to_string(), row.clone());
        }
        Ok(found)
    }

    /// Instances in the organizations `user_id` belongs to.
    pub async fn instances_visible_to(&self, user_id: &str) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(
            "SELECT i.id, i.org_id, i.owner_id, i.name, i.backend_id, i.created_at FROM instances i
             JOIN members m ON m.org_id = i.org_id WHERE m.user_id = $1 ORDER BY i.created_at, i.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// Every instance in one organization, whoever made it.
    pub async fn instances_in_org(&self, org_id: &str) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(
            "SELECT id, org_id, owner_id, name, backend_id, created_at FROM instances WHERE org_id = $1 ORDER BY created_at, id",
        )
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// The tenants' instances with these backend names.
    pub async fn instances_by_backend(&self, names: &[String]) -> Result<Vec<InstanceRow>> {
        let mut rows = Vec::new();
        // One query per name keeps the SQL portable; agents report tens, not thousands.
        for name in names {
            let found: Option<Tuple> = sqlx::query_as(
                "SELECT id, org_id, owner_id, name, backend_id, created_at FROM instances WHERE backend_id = $1",
            )
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "instance"))?;
            rows.extend(found.map(row));
        }
        Ok(rows)
    }

    /// Every instance on the server, for platform admins.
    pub async fn all_instances(&self) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(
            "SELECT id, org_id, owner_id, name, backend_id, created_at FROM instances ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    pub async fn delete_instance(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "instance"))?;
        self.cache().instances.remove(id);
        Ok(())
    }
}
