//! Clusters: capacity an organization reserves out of the fleet.

use nubes::Result;

use super::{map, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub millicpus: i64,
    pub memory: i64,
    pub gpus: i64,
    pub created_by: String,
    pub created_at: i64,
}

type Tuple = (String, String, String, i64, i64, i64, String, i64);

fn row((id, org_id, name, millicpus, memory, gpus, created_by, created_at): Tuple) -> ClusterRow {
    ClusterRow {
        id,
        org_id,
        name,
        millicpus,
        memory,
        gpus,
        created_by,
        created_at,
    }
}

const COLUMNS: &str =
    "c.id, c.org_id, c.name, c.millicpus, c.memory, c.gpus, c.created_by, c.created_at";

impl Db {
    pub async fn insert_cluster(&self, c: &ClusterRow) -> Result<()> {
        sqlx::query("INSERT INTO clusters (id, org_id, name, millicpus, memory, gpus, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&c.id)
            .bind(&c.org_id)
            .bind(&c.name)
            .bind(c.millicpus)
            .bind(c.memory)
            .bind(c.gpus)
            .bind(&c.created_by)
            .bind(c.created_at)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, &format!("a cluster named {} in this organization", c.name)))?;
        Ok(())
    }

    pub async fn cluster(&self, id: &str) -> Result<Option<ClusterRow>> {
        let r: Option<Tuple> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM clusters c WHERE c.id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| map(e, "cluster"))?;
        Ok(r.map(row))
    }

    /// Clusters named `name` in the organizations `user_id` belongs to (in `org_id` only, when
    /// given).
    pub async fn clusters_named(
        &self,
        user_id: &str,
        name: &str,
        org_id: Option<&str>,
    ) -> Result<Vec<ClusterRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM clusters c JOIN members m ON m.org_id = c.org_id
             WHERE m.user_id = $1 AND c.name = $2 AND ($3 IS NULL OR c.org_id = $3)
             ORDER BY c.created_at, c.id"
        ))
        .bind(user_id)
        .bind(name)
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "cluster"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// Clusters of the organizations `user_id` belongs to.
    pub async fn clusters_visible_to(&self, user_id: &str) -> Result<Vec<ClusterRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM clusters c JOIN members m ON m.org_id = c.org_id
             WHERE m.user_id = $1 ORDER BY c.created_at, c.id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "cluster"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    pub async fn all_clusters(&self) -> Result<Vec<ClusterRow>> {
        let rows: Vec<Tuple> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM clusters c ORDER BY c.created_at, c.id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "cluster"))?;
        Ok(rows.into_iter().map(row).collect())
    }

    pub async fn delete_cluster(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM clusters WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "cluster"))?;
        Ok(())
    }
}
