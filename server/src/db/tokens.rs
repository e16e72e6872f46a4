//! API tokens: long-lived credentials for automation, stored as hashes.

use nubes::{Error, Result};

use super::{map, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Db {
    pub async fn insert_api_token(
        &self,
        row: &ApiTokenRow,
        user_id: &str,
        hash: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&row.id)
            .bind(user_id)
            .bind(&row.name)
            .bind(hash)
            .bind(row.created_at)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "token"))?;
        Ok(())
    }

    pub async fn api_tokens(&self, user_id: &str) -> Result<Vec<ApiTokenRow>> {
        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "token"))?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, last_used_at)| ApiTokenRow {
                id,
                name,
                created_at,
                last_used_at,
            })
            .collect())
    }

    /// The owner of a live token, recording its use.
    pub async fn use_api_token(&self, hash: &str, now: i64) -> Result<Option<(String, String)>> {
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT id, user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "token"))?;
        if let Some((id, _)) = &found {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await
                .map_err(|e| map(e, "token"))?;
        }
        Ok(found)
    }

    /// The owner of a live token, without recording a use.
    pub async fn api_token_owner(&self, hash: &str) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "token"))
    }

    /// Revokes one of `user_id`'s tokens; another user's token is not found.
    pub async fn revoke_api_token(&self, user_id: &str, id: &str, now: i64) -> Result<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "token"))?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("token {id} not found")));
        }
        Ok(())
    }

    /// Whether the API token `id` exists and is not revoked.
    pub async fn api_token_live(&self, id: &str) -> Result<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| map(e, "api token"))?;
        Ok(found.is_some())
    }
}
