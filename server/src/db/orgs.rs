//! Organizations, their members and invite codes.

use nubes::{Error, Result};

use super::{map, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub joined_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub id: String,
    pub org_id: String,
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// How many joins it is good for, and how many it has had.
    pub max_uses: i64,
    pub uses: i64,
}

type InviteTuple = (String, String, String, i64, i64, Option<i64>, i64, i64);

const INVITE_COLUMNS: &str = "id, org_id, role, created_at, expires_at, revoked_at, max_uses, uses";

fn invite_row(
    (id, org_id, role, created_at, expires_at, revoked_at, max_uses, uses): InviteTuple,
) -> InviteRow {
    InviteRow {
        id,
        org_id,
        role,
        created_at,
        expires_at,
        revoked_at,
        max_uses,
        uses,
    }
}

/// The organization row and its first admin, on `conn` (inside the caller's transaction).
pub(super) async fn add_org(
    conn: &mut sqlx::AnyConnection,
    org: &OrgRow,
    creator: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO orgs (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&org.id)
        .bind(&org.name)
        .bind(creator)
        .bind(org.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "organization"))?;
    sqlx::query(
        "INSERT INTO members (org_id, user_id, role, joined_at) VALUES ($1, $2, 'admin', $3)",
    )
    .bind(&org.id)
    .bind(creator)
    .bind(org.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| map(e, "membership"))?;
    Ok(())
}

impl Db {
    /// Creates the organization with `creator` as its admin, in one transaction.
    pub async fn insert_org(&self, org: &OrgRow, creator: &str) -> Result<()> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| map(e, "organization"))?;
        add_org(&mut tx, org, creator).await?;
        tx.commit().await.map_err(|e| map(e, "organization"))
    }

    fn forget_standing(&self, user_id: &str, org_id: &str) {
        self.cache()
            .standing
            .remove(&(user_id.to_string(), org_id.to_string()));
    }

    /// Whether the user is a platform admin, and their role in `org_id` if a member.
    pub async fn standing(&self, user_id: &str, org_id: &str) -> Result<(bool, Option<String>)> {
        let key = (user_id.to_string(), org_id.to_string());
        if let Some(standing) = self.cache().standing.get(&key) {
            return Ok(standing);
        }
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT u.platform_admin, m.role FROM users u
             LEFT JOIN members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.id = $1",
        )
        .bind(user_id)
        .bind(org_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "membership"))?;
        let (admin, role) = row.ok_or_else(|| Error::not_found("user not found"))?;
        let standing = (admin != 0, role);
        self.cache().standing.insert(key, standing.clone());
        Ok(standing)
    }

    /// The caller's role in `org_id`, if a member.
    pub async fn role(&self, org_id: &str, user_id: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT role FROM members WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "membership"))
    }

    pub async fn org(&self, id: &str) -> Result<Option<OrgRow>> {
        let row: Option<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM orgs WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| map(e, "organization"))?;
        Ok(row.map(|(id, name, created_at)| OrgRow {
            id,
            name,
            created_at,
        }))
    }

    /// Who made the organization: its instances together are held to that user's plan.
    pub async fn org_creator(&self, id: &str) -> Result<String> {
        sqlx::query_scalar("SELECT created_by FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| map(e, "organization"))?
            .ok_or_else(|| Error::not_found("organization not found"))
    }

    /// The organizations `user_id` belongs to, with their role in each.
    pub async fn orgs_of(&self, user_id: &str) -> Result<Vec<(OrgRow, String)>> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT o.id, o.name, o.created_at, m.role FROM orgs o JOIN members m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.created_at, o.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "organization"))?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, role)| {
                (
                    OrgRow {
                        id,
                        name,
                        created_at,
                    },
                    role,
                )
            })
            .collect())
    }

    pub async fn members(&self, org_id: &str) -> Result<Vec<MemberRow>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT m.user_id, u.email, m.role, m.joined_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY m.joined_at, u.email",
        )
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "member"))?;
        Ok(rows
            .into_iter()
            .map(|(user_id, email, role, joined_at)| MemberRow {
                user_id,
                email,
                role,
                joined_at,
            })
            .collect())
    }

    pub async fn set_role(&self, org_id: &str, user_id: &str, role: &str) -> Result<()> {
        let done = sqlx::query("UPDATE members SET role = $1 WHERE org_id = $2 AND user_id = $3")
            .bind(role)
            .bind(org_id)
            .bind(user_id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "member"))?;
        self.forget_standing(user_id, org_id);
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id} is not a member")));
        }
        Ok(())
    }

    pub async fn insert_invite(
        &self,
        invite: &InviteRow,
        code_hash: &str,
        created_by: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO invites (id, org_id, code_hash, role, created_by, created_at, expires_at, max_uses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&invite.id)
            .bind(&invite.org_id)
            .bind(code_hash)
            .bind(&invite.role)
            .bind(created_by)
            .bind(invite.created_at)
            .bind(invite.expires_at)
            .bind(invite.max_uses)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "invite"))?;
        Ok(())
    }

    pub async fn invites(&self, org_id: &str) -> Result<Vec<InviteRow>> {
        let rows: Vec<InviteTuple> = sqlx::query_as(&format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE org_id = $1 ORDER BY created_at, id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| map(e, "invite"))?;
        Ok(rows.into_iter().map(invite_row).collect())
    }

    pub async fn revoke_invite(&self, org_id: &str, id: &str, now: i64) -> Result<()> {
        let done = sqlx::query("UPDATE invites SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(self.pool())
            .await
            .map_err(|e| map(e, "invite"))?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("invite {id} not found")));
        }
        Ok(())
    }

    /// Spends one use of the live invite with this code hash (not revoked, not expired, not used
    /// up) on `user_id` joining its organization: the use and the membership are one
    /// transaction, so racing joins never exceed the uses and a refused join spends none.
    /// `None` when there is no such invite; `Conflict` when the user is a member already.
    pub async fn join_by_invite(
        &self,
        code_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<InviteRow>> {
        // A write first (the code's lock): on SQLite a transaction that read first could be
        // refused at its first write, when another commit came in between.
        let mut db = self.locked(&[&format!("invite:{code_hash}")]).await?;
        let org: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM invites WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&mut *db)
                .await
                .map_err(|e| map(e, "invite"))?;
        let Some(org) = org else {
            return Ok(None);
        };
        let member: Option<String> =
            sqlx::query_scalar("SELECT role FROM members WHERE org_id = $1 AND user_id = $2")
                .bind(&org)
                .bind(user_id)
                .fetch_optional(&mut *db)
                .await
                .map_err(|e| map(e, "membership"))?;
        if member.is_some() {
            return Err(Error::conflict(
                "you are already a member of this organization",
            ));
        }
        let row: Option<InviteTuple> = sqlx::query_as(&format!(
            "UPDATE invites SET uses = uses + 1 WHERE code_hash = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND uses < max_uses RETURNING {INVITE_COLUMNS}"
        ))
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *db)
        .await
        .map_err(|e| map(e, "invite"))?;
        let Some(invite) = row.map(invite_row) else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO members (org_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&invite.org_id)
        .bind(user_id)
        .bind(&invite.role)
        .bind(now)
        .execute(&mut *db)
        .await
        .map_err(|e| map(e, "membership"))?;
        db.commit().await.map_err(|e| map(e, "invite"))?;
        self.forget_standing(user_id, &invite.org_id);
        Ok(Some(invite))
    }
}

impl Db {
    /// The organization made for the user at registration: the oldest one they administer.
    pub async fn personal_org(&self, user_id: &str) -> Result<String> {
        sqlx::query_scalar(
            "SELECT o.id FROM orgs o JOIN members m ON m.org_id = o.id
             WHERE m.user_id = $1 AND m.role = 'admin' AND o.created_by = $1 ORDER BY o.created_at, o.id LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| map(e, "organization"))?
        .ok_or_else(|| Error::invalid_input("you have no organization to create this in: pass org_id"))
    }
}
