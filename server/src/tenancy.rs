//! Tenancy, in one place: who the caller is in an organization, and what `nubes_auth::authorize`
//! says they may do there. Handlers and services never compare owners or roles themselves.

use nubes::{Error, ErrorKind, Result};
use nubes_auth::{authorize, Action, Actor, Decision, Role, Target};

use crate::accounts::Principal;
use crate::db::Db;

/// The caller as the policy sees them, acting in `org_id` (one query: user and membership).
pub async fn actor(db: &Db, principal: &Principal, org_id: &str) -> Result<Actor> {
    let (platform_admin, role) = db.standing(&principal.user_id, org_id).await?;
    let org = match role {
        Some(r) => Some((
            org_id.to_string(),
            r.parse::<Role>()
                .map_err(|_| Error::unexpected("internal error"))?,
        )),
        None => None,
    };
    Ok(Actor {
        user_id: principal.user_id.clone(),
        platform_admin,
        org,
    })
}

/// Allows, or fails with `NotFound` ("{what} not found": it stays invisible) or
/// `PermissionDenied`.
pub fn check(actor: &Actor, action: Action, target: &Target<'_>, what: &str) -> Result<()> {
    match authorize(actor, action, target) {
        Decision::Allow => Ok(()),
        Decision::Hidden => Err(Error::not_found(format!("{what} not found"))),
        Decision::Deny => Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("your role does not allow this on {what}"),
        )),
    }
}
