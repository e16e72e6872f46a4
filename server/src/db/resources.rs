//! Rows for disks, buckets and functions: which tenant owns which backend resource. Like
//! instances, the backend holds the resource itself and this table holds who may reach it.

use nubes::Result;

use super::{map, Db};

/// The kinds of resource this table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Disk,
    Bucket,
    Function,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Disk => "disk",
            Kind::Bucket => "bucket",
            Kind::Function => "function",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRow {
    pub id: String,
    pub kind: Kind,
    pub org_id: String,
    pub owner_id: String,
    pub name: String,
    pub backend_id: String,
    pub created_at: i64,
}

type Tuple = (String, String, String, String, String, i64);

fn row(kind: Kind, (id, org_id, owner_id, name, backend_id, created_at): Tuple) -> ResourceRow {
    ResourceRow {
        id,
        kind,
        org_id,
        owner_id,
        name,
        backend_id,
        created_at,
    }
}

const COLUMNS: &str = "r.id, r.org_id, r.owner_id, r.name, r.backend_id, r.created_at";

impl Db {
    /// Inserts the row unless its organization holds `max` of its kind already: counted and
    /// inserted under the organization's lock, so racing creates cannot pass the bound.
    pub async fn insert_resource_within(&self, r: &ResourceRow, max: u64) -> Result<()> {
        let mut db = self.locked(&[&super::org_lock(&r.org_id)]).await?;
        let held: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE org_id = $1 AND kind = $2")
                .bind(&r.org_id)
                .bind(r.kind.as_str())
                .fetch_one(&mut *db)
                .await
                .map_err(|e| map(e, r.kind.as_str()))?;
        if u64::try_from(held).unwrap_or(0) >= max {
            return Err(crate::bounds::full(r.kind, max));
        }
        Self::insert_resource_on(&mut db, r).await?;
        db.commit().await.map_err(|e| map(e, r.kind.as_str()))
    }

    async fn insert_resource_on(conn: &mut sqlx::AnyConnection, r: &ResourceRow) -> Result<()> {
        sqlx::query("INSERT INTO resources (id, kind, org_id, owner_id, name, backend_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&r.id)
            .bind(r.kind.as_str())
            .bind(&r.org_id)
            .bind(&r.owner_id)
            .bind(&r.name)
            .bind(&r.backend_id)
            .bind(r.created_at)
            .execute(conn)
            .await
            .map_err(|e| map(e, &format!("a {} named {} in this organization", r.kind.as_str(), r.name)))?;
        Ok(())
    }

    pub async fn resource(&self, kind: Kind, id: &str) -> Result<Option<ResourceRow>> {
        let r: Option<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM resources r WHERE r.kind = $1 AND r.id = $2"
        ))
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, kind.as_str()))?;
        Ok(r.map(|t| row(kind, t)))
    }

    /// The resource of `kind` the backend knows as `backend_id`.
    pub async fn resource_by_backend(
        &self,
        kind: Kind,
        backend_id: &str,
    ) -> Result<Option<ResourceRow>> {
        let r: Option<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM resources r WHERE r.kind = $1 AND r.backend_id = $2"
        ))
        .bind(kind.as_str())
        .bind(backend_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, kind.as_str()))?;
        Ok(r.map(|t| row(kind, t)))
    }

    /// Resources of `kind` named `name` in the organizations `user_id` belongs to (in `org_id`
    /// only, when given).
    pub async fn resources_named(
        &self,
        kind: Kind,
        user_id: &str,
        name: &str,
        org_id: Option<&str>,
    ) -> Result<Vec<ResourceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM resources r JOIN members m ON m.org_id = r.org_id
             WHERE r.kind = $1 AND m.user_id = $2 AND r.name = $3 AND ($4 IS NULL OR r.org_id = $4)
             ORDER BY r.created_at, r.id"
        ))
        .bind(kind.as_str())
        .bind(user_id)
        .bind(name)
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, kind.as_str()))?;
        Ok(rows.into_iter().map(|t| row(kind, t)).collect())
    }

    /// Resources of `kind` in the organizations `user_id` belongs to.
    pub async fn resources_visible_to(
        &self,
        kind: Kind,
        user_id: &str,
    ) -> Result<Vec<ResourceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM resources r JOIN members m ON m.org_id = r.org_id
             WHERE r.kind = $1 AND m.user_id = $2 ORDER BY r.name, r.created_at, r.id"
        ))
        .bind(kind.as_str())
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, kind.as_str()))?;
        Ok(rows.into_iter().map(|t| row(kind, t)).collect())
    }

    pub async fn rename_resource(&self, r: &ResourceRow, new_name: &str) -> Result<()> {
        sqlx::query("UPDATE resources SET name = $1 WHERE id = $2")
            .bind(new_name)
            .bind(&r.id)
            .execute(self.pool())
            .await
            .map_err(|e| {
                map(
                    e,
                    &format!(
                        "a {} named {new_name} in this organization",
                        r.kind.as_str()
                    ),
                )
            })?;
        Ok(())
    }

    pub async fn delete_resource(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM resources WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "resource"))?;
        Ok(())
    }
}
