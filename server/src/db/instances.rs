//! Instance rows: which tenant owns which backend instance, and the size it was admitted at.
//! The backend holds the live state; this table holds ownership and what plans count, so every
//! read and write can be scoped, and every admission checked, before the backend is asked.

use nubes::Result;
use nubes_billing::Resources;

use super::{map, Db, Locked};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub id: String,
    pub org_id: String,
    pub owner_id: String,
    pub name: String,
    pub backend_id: String,
    pub created_at: i64,
    /// What it holds against plans (cpus, memory and disk as admitted or last resized).
    pub size: Resources,
}

type Tuple = (String, String, String, String, String, i64, i64, i64, i64);

const COLUMNS: &str = "id, org_id, owner_id, name, backend_id, created_at, millicpus, memory, disk";

fn row(
    (id, org_id, owner_id, name, backend_id, created_at, millicpus, memory, disk): Tuple,
) -> InstanceRow {
    InstanceRow {
        id,
        org_id,
        owner_id,
        name,
        backend_id,
        created_at,
        size: Resources::new(millicpus as u64, memory as u64, disk as u64, 0),
    }
}

fn sum((millicpus, memory, disk): (i64, i64, i64)) -> Resources {
    Resources::new(millicpus as u64, memory as u64, disk as u64, 0)
}

/// The `i`-prefixed columns, for queries that join.
fn prefixed() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("i.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    pub async fn insert_instance(&self, r: &InstanceRow) -> Result<()> {
        let mut db = self.pool().begin().await.map_err(|e| map(e, "instance"))?;
        Self::insert_instance_in(&mut db, r).await?;
        db.commit().await.map_err(|e| map(e, "instance"))
    }

    /// Inserts the row inside the caller's transaction; a taken name is `AlreadyExists`.
    pub async fn insert_instance_in(db: &mut Locked, r: &InstanceRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO instances ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&r.id)
        .bind(&r.org_id)
        .bind(&r.owner_id)
        .bind(&r.name)
        .bind(&r.backend_id)
        .bind(r.created_at)
        .bind(r.size.millicpus as i64)
        .bind(r.size.memory as i64)
        .bind(r.size.disk as i64)
        .execute(&mut **db)
        .await
        .map_err(|e| {
            map(
                e,
                &format!("an instance named {} in this organization", r.name),
            )
        })?;
        Ok(())
    }

    /// Sets the size an instance holds, inside the caller's transaction.
    pub async fn resize_instance_in(db: &mut Locked, id: &str, size: Resources) -> Result<()> {
        sqlx::query("UPDATE instances SET millicpus = $1, memory = $2, disk = $3 WHERE id = $4")
            .bind(size.millicpus as i64)
            .bind(size.memory as i64)
            .bind(size.disk as i64)
            .bind(id)
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "instance"))?;
        Ok(())
    }

    /// What a user's own instances hold together (leaving out `except`), read on `conn`: the
    /// transaction that holds the user's lock, or any connection for a preview.
    pub async fn held_by_user(
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        except: &str,
    ) -> Result<Resources> {
        Self::held(conn, "owner_id", user_id, except).await
    }

    /// What an organization's instances hold together (leaving out `except`), read on `conn`.
    pub async fn held_in_org(
        conn: &mut sqlx::AnyConnection,
        org_id: &str,
        except: &str,
    ) -> Result<Resources> {
        Self::held(conn, "org_id", org_id, except).await
    }

    /// The sum of the sizes of the instances whose `column` (a fixed name, never input) is
    /// `value`, leaving out `except`.
    async fn held(
        conn: &mut sqlx::AnyConnection,
        column: &'static str,
        value: &str,
        except: &str,
    ) -> Result<Resources> {
        sqlx::query_as(&format!(
            "SELECT CAST(COALESCE(SUM(millicpus), 0) AS BIGINT), CAST(COALESCE(SUM(memory), 0) AS BIGINT), \
             CAST(COALESCE(SUM(disk), 0) AS BIGINT) FROM instances WHERE {column} = $1 AND id <> $2"
        ))
        .bind(value)
        .bind(except)
        .fetch_one(conn)
        .await
        .map(sum)
        .map_err(|e| map(e, "instance"))
    }

    pub async fn instance(&self, id: &str) -> Result<Option<InstanceRow>> {
        if let Some(row) = self.cache().instances.get(id) {
            return Ok(Some(row));
        }
        let r: Option<Tuple> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM instances WHERE id = $1"))
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

    /// Instances named `name` in the organizations `user_id` belongs to (in `org_id` only, when
    /// given).
    pub async fn instances_named(
        &self,
        user_id: &str,
        name: &str,
        org_id: Option<&str>,
    ) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {} FROM instances i JOIN members m ON m.org_id = i.org_id
             WHERE m.user_id = $1 AND i.name = $2 AND ($3 IS NULL OR i.org_id = $3)
             ORDER BY i.created_at, i.id",
            prefixed()
        ))
        .bind(user_id)
        .bind(name)
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// Instances in the organizations `user_id` belongs to.
    pub async fn instances_visible_to(&self, user_id: &str) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {} FROM instances i
             JOIN members m ON m.org_id = i.org_id WHERE m.user_id = $1 ORDER BY i.created_at, i.id",
            prefixed()
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// Every instance in one organization, whoever made it.
    pub async fn instances_in_org(&self, org_id: &str) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM instances WHERE org_id = $1 ORDER BY created_at, id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// The tenants' instances with these backend names.
    pub async fn instances_by_backend(&self, names: &[String]) -> Result<Vec<InstanceRow>> {
        let mut rows = Vec::new();
        // A query per hundred names: well under either database's limit on parameters.
        for names in names.chunks(100) {
            let params: Vec<String> = (1..=names.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT {COLUMNS} FROM instances WHERE backend_id IN ({})",
                params.join(", ")
            );
            let mut query = sqlx::query_as::<_, Tuple>(&sql);
            for name in names {
                query = query.bind(name);
            }
            let found = query
                .fetch_all(self.pool())
                .await
                .map_err(|e| map(e, "instance"))?;
            rows.extend(found.into_iter().map(row));
        }
        Ok(rows)
    }

    /// Every instance on the server, for platform admins.
    pub async fn all_instances(&self) -> Result<Vec<InstanceRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM instances ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "instance"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    pub async fn delete_instance(&self, id: &str) -> Result<()> {
        let mut db = self.pool().begin().await.map_err(|e| map(e, "instance"))?;
        Self::delete_instance_in(&mut db, id).await?;
        db.commit().await.map_err(|e| map(e, "instance"))?;
        self.cache().instances.remove(id);
        Ok(())
    }

    /// Deletes the row inside the caller's transaction (the caller forgets it from the cache
    /// once committed, through `forget_instance`).
    pub async fn delete_instance_in(db: &mut Locked, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id)
            .execute(&mut **db)
            .await
            .map_err(|e| map(e, "instance"))?;
        Ok(())
    }

    /// Drops a cached row changed by a transaction the caller committed.
    pub fn forget_instance(&self, id: &str) {
        self.cache().instances.remove(id);
    }
}
