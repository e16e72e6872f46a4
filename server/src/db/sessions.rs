//! Sessions: one per login, holding the current refresh token's hash. Rotated-out hashes are
//! kept, so a stolen, already-used refresh token is recognised and its session revoked.

use nubes::Result;

use super::{map, Db};

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshLookup {
    /// The session's current token: `(session id, user id)`.
    Current {
        session_id: String,
        user_id: String,
    },
    /// A token that was already rotated out: someone replayed it.
    Spent {
        session_id: String,
    },
    Unknown,
}

impl Db {
    pub async fn insert_session(
        &self,
        id: &str,
        user_id: &str,
        refresh_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (id, user_id, refresh_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(user_id)
            .bind(refresh_hash)
            .bind(now)
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "session"))?;
        Ok(())
    }

    /// Whether the session exists, is not revoked and has not expired.
    pub async fn session_active(&self, id: &str, now: i64) -> Result<bool> {
        if let Some(expires_at) = self.cache().sessions.get(id) {
            return Ok(now < expires_at);
        }
        let expires_at: Option<i64> = sqlx::query_scalar(
            "SELECT expires_at FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "session"))?;
        match expires_at {
            Some(at) => {
                self.cache().sessions.insert(id.to_string(), at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn lookup_refresh(&self, hash: &str, now: i64) -> Result<RefreshLookup> {
        let current: Option<(String, String)> = sqlx::query_as(
            "SELECT id, user_id FROM sessions WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "session"))?;
        if let Some((session_id, user_id)) = current {
            return Ok(RefreshLookup::Current {
                session_id,
                user_id,
            });
        }
        let spent: Option<String> =
            sqlx::query_scalar("SELECT session_id FROM spent_refresh_tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| map(e, "session"))?;
        Ok(
            spent.map_or(RefreshLookup::Unknown, |session_id| RefreshLookup::Spent {
                session_id,
            }),
        )
    }

    /// Replaces the session's refresh token if it is still `old_hash`; false if another request
    /// rotated it first.
    pub async fn rotate_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await.map_err(|e| map(e, "session"))?;
        let done = sqlx::query("UPDATE sessions SET refresh_hash = $1 WHERE id = $2 AND refresh_hash = $3 AND revoked_at IS NULL")
            .bind(new_hash)
            .bind(session_id)
            .bind(old_hash)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "session"))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO spent_refresh_tokens (hash, session_id) VALUES ($1, $2)")
            .bind(old_hash)
            .bind(session_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "session"))?;
        tx.commit().await.map_err(|e| map(e, "session"))?;
        Ok(true)
    }

    pub async fn revoke_session(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "session"))?;
        // After the write, so a read racing it cannot cache the session as live again.
        self.cache().sessions.remove(id);
        Ok(())
    }
}
