//! User rows.

use nubes::{Error, Result};
use sqlx::any::AnyRow;

use super::{col, map, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub platform_admin: bool,
    pub totp_secret: Option<String>,
    pub totp_pending: Option<String>,
    pub totp_last_step: Option<i64>,
    pub email_otp: bool,
    pub created_at: i64,
}

fn row(r: &AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        id: col(r, "id")?,
        email: col(r, "email")?,
        password_hash: col(r, "password_hash")?,
        platform_admin: col::<i64>(r, "platform_admin")? != 0,
        totp_secret: col(r, "totp_secret")?,
        totp_pending: col(r, "totp_pending")?,
        totp_last_step: col(r, "totp_last_step")?,
        email_otp: col::<i64>(r, "email_otp")? != 0,
        created_at: col(r, "created_at")?,
    })
}

const COLUMNS: &str =
    "id, email, password_hash, platform_admin, totp_secret, totp_pending, totp_last_step, email_otp, created_at";

impl Db {
    /// Creates the user and their personal organization together: neither exists without the other.
    pub async fn insert_user_with_org(&self, user: &UserRow, org: &super::OrgRow) -> Result<()> {
        let mut tx = self.pool().begin().await.map_err(|e| map(e, "user"))?;
        sqlx::query("INSERT INTO users (id, email, password_hash, platform_admin, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&user.id)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(user.platform_admin as i64)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "an account with this email"))?;
        super::orgs::add_org(&mut tx, org, &user.id).await?;
        tx.commit().await.map_err(|e| map(e, "user"))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        r.as_ref().map(row).transpose()
    }

    pub async fn user(&self, id: &str) -> Result<UserRow> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| Error::not_found("user not found"))
    }

    pub async fn set_totp_pending(&self, id: &str, secret: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
            .bind(secret)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        Ok(())
    }

    /// Turns the pending secret into the active one, recording the step its confirmation used.
    pub async fn activate_totp(&self, id: &str, secret: &str, step: i64) -> Result<()> {
        sqlx::query("UPDATE users SET totp_secret = $1, totp_pending = NULL, totp_last_step = $2 WHERE id = $3")
            .bind(secret)
            .bind(step)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        Ok(())
    }

    /// Records a used TOTP step, only if it is newer than the last one: two requests racing with
    /// the same code cannot both win.
    pub async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(|e| map(e, "user"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_email_otp(&self, id: &str, enabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET email_otp = $1 WHERE id = $2")
            .bind(enabled as i64)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "user"))?;
        Ok(())
    }

    pub async fn insert_email_code(
        &self,
        challenge_id: &str,
        user_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO email_codes (challenge_id, user_id, code_hash, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(challenge_id)
            .bind(user_id)
            .bind(code_hash)
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "sign-in code"))?;
        Ok(())
    }

    /// The unused, unexpired code hash for a challenge.
    pub async fn email_code(
        &self,
        challenge_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT code_hash FROM email_codes WHERE challenge_id = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(challenge_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "sign-in code"))
    }

    /// Marks a code used; false if another request used it first.
    pub async fn use_email_code(&self, challenge_id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE email_codes SET used_at = $1 WHERE challenge_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(challenge_id)
        .execute(self.pool())
        .await
        .map_err(|e| map(e, "sign-in code"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "setting"))
    }

    /// Stores `value` unless the key is set already; returns what is stored afterwards, so two
    /// replicas starting at once agree on one value.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        let _ = sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
            .bind(key)
            .bind(value)
            .execute(self.pool())
            .await;
        self.setting(key)
            .await?
            .ok_or_else(|| Error::unexpected("internal error"))
    }
}
