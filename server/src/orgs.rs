//! Organizations: create (the creator is admin), invite codes (expiring, revocable, shown once),
//! join by code, members and their roles.

use nubes::{Error, Result};
use nubes_auth::token::{self, TokenKind};
use nubes_auth::{Action, Role, Target};

use crate::accounts::now;
use crate::db::{Db, InviteRow, OrgRow};
use crate::tenancy;
use crate::tenancy::Principal;
pub use nubes_api::orgs::{Invite, Member, Org};

const MAX_INVITE_HOURS: u64 = 30 * 24;
/// The most joins one invite may be good for.
const MAX_INVITE_USES: u64 = 1000;

fn role(s: &str) -> Result<Role> {
    s.parse().map_err(|_| Error::unexpected("internal error"))
}

fn invite(row: InviteRow, code: Option<String>) -> Result<Invite> {
    Ok(Invite {
        id: row.id,
        role: role(&row.role)?,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked: row.revoked_at.is_some(),
        max_uses: row.max_uses,
        uses: row.uses,
        code,
    })
}

pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "organization name must be 1-100 printable characters",
        ));
    }
    Ok(name.to_string())
}

#[derive(Debug, Clone)]
pub struct Orgs {
    db: Db,
}

impl Orgs {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn create(&self, p: &Principal, name: &str) -> Result<Org> {
        let row = OrgRow {
            id: token::random_id(),
            name: validate_name(name)?,
            created_at: now(),
        };
        self.db.insert_org(&row, &p.user_id).await?;
        Ok(Org {
            id: row.id,
            name: row.name,
            role: Role::Admin,
            created_at: row.created_at,
        })
    }

    pub async fn list(&self, p: &Principal) -> Result<Vec<Org>> {
        self.db
            .orgs_of(&p.user_id)
            .await?
            .into_iter()
            .map(|(o, r)| {
                Ok(Org {
                    id: o.id,
                    name: o.name,
                    role: role(&r)?,
                    created_at: o.created_at,
                })
            })
            .collect()
    }

    async fn authorize(&self, p: &Principal, org_id: &str, action: Action) -> Result<()> {
        let actor = tenancy::actor(&self.db, p, org_id).await?;
        tenancy::check(
            &actor,
            action,
            &Target::Org { org_id },
            &format!("organization {org_id}"),
        )?;
        // A platform admin may pass the policy for an id that does not exist.
        if self.db.org(org_id).await?.is_none() {
            return Err(Error::not_found(format!("organization {org_id} not found")));
        }
        Ok(())
    }

    pub async fn members(&self, p: &Principal, org_id: &str) -> Result<Vec<Member>> {
        self.authorize(p, org_id, Action::ListMembers).await?;
        self.db
            .members(org_id)
            .await?
            .into_iter()
            .map(|m| {
                Ok(Member {
                    user_id: m.user_id,
                    email: m.email,
                    role: role(&m.role)?,
                    joined_at: m.joined_at,
                })
            })
            .collect()
    }

    pub async fn create_invite(
        &self,
        p: &Principal,
        org_id: &str,
        invite_role: Role,
        hours: u64,
        uses: u64,
    ) -> Result<Invite> {
        self.authorize(p, org_id, Action::ManageInvites).await?;
        if hours == 0 || hours > MAX_INVITE_HOURS {
            return Err(Error::invalid_input(format!(
                "an invite lasts 1 to {MAX_INVITE_HOURS} hours"
            )));
        }
        if uses == 0 || uses > MAX_INVITE_USES {
            return Err(Error::invalid_input(format!(
                "an invite is good for 1 to {MAX_INVITE_USES} joins (uses)"
            )));
        }
        let code = token::issue(TokenKind::Invite);
        let created_at = now();
        let row = InviteRow {
            id: token::random_id(),
            org_id: org_id.to_string(),
            role: invite_role.as_str().to_string(),
            created_at,
            expires_at: created_at + (hours * 3600) as i64,
            revoked_at: None,
            max_uses: uses as i64,
            uses: 0,
        };
        self.db.insert_invite(&row, &code.hash, &p.user_id).await?;
        invite(row, Some(code.plaintext))
    }

    pub async fn invites(&self, p: &Principal, org_id: &str) -> Result<Vec<Invite>> {
        self.authorize(p, org_id, Action::ManageInvites).await?;
        self.db
            .invites(org_id)
            .await?
            .into_iter()
            .map(|i| invite(i, None))
            .collect()
    }

    pub async fn revoke_invite(&self, p: &Principal, org_id: &str, invite_id: &str) -> Result<()> {
        self.authorize(p, org_id, Action::ManageInvites).await?;
        self.db.revoke_invite(org_id, invite_id, now()).await
    }

    /// Joins the organization an invite code belongs to, with the invite's role, spending one
    /// of its uses.
    pub async fn join(&self, p: &Principal, code: &str) -> Result<Org> {
        let invalid = || Error::not_found("invalid, expired or used up invite code");
        if !token::looks_like(TokenKind::Invite, code.trim()) {
            return Err(invalid());
        }
        let invite = self
            .db
            .join_by_invite(&token::hash(code.trim()), &p.user_id, now())
            .await?
            .ok_or_else(invalid)?;
        let org = self.db.org(&invite.org_id).await?.ok_or_else(invalid)?;
        Ok(Org {
            id: org.id,
            name: org.name,
            role: role(&invite.role)?,
            created_at: org.created_at,
        })
    }

    /// Changes another member's role; nobody changes their own.
    pub async fn set_role(
        &self,
        p: &Principal,
        org_id: &str,
        user_id: &str,
        new_role: Role,
    ) -> Result<Member> {
        let action = Action::ChangeRole {
            target_is_self: user_id == p.user_id,
        };
        self.authorize(p, org_id, action).await?;
        self.db.set_role(org_id, user_id, new_role.as_str()).await?;
        self.members(p, org_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or_else(|| Error::not_found(format!("user {user_id} is not a member")))
    }
}
