//! Tenancy, in one place: who the caller is in an organization, and what `nubes_auth::authorize`
//! says they may do there. Handlers and services never compare owners or roles themselves.

use nubes::{Error, ErrorKind, Result};
use nubes_auth::{authorize, Action, Actor, Decision, Role, Target};

use crate::accounts::Principal;
use crate::db::{Db, Kind, ResourceRow};

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

/// Where a new resource goes: the organization asked for, or the caller's personal one, once the
/// caller may create there.
pub async fn creating_in(db: &Db, principal: &Principal, org_id: Option<String>) -> Result<String> {
    let org_id = match org_id {
        Some(id) => id,
        None => db.personal_org(&principal.user_id).await?,
    };
    let actor = actor(db, principal, &org_id).await?;
    check(
        &actor,
        Action::Create,
        &Target::Org { org_id: &org_id },
        &format!("organization {org_id}"),
    )?;
    Ok(org_id)
}

/// How a request names a disk, bucket or function: its id, or its name in one of the caller's
/// organizations (in `org_id` when given, for a name more than one of them uses).
#[derive(Debug, Clone, Copy)]
pub struct Ref<'a> {
    pub id_or_name: &'a str,
    pub org_id: Option<&'a str>,
}

/// The resource `r` names, if the caller may do `action` to it.
pub async fn resource(
    db: &Db,
    principal: &Principal,
    kind: Kind,
    r: Ref<'_>,
    action: Action,
) -> Result<ResourceRow> {
    let (reference, org_id) = (r.id_or_name, r.org_id);
    let what = format!("{} {reference}", kind.as_str());
    let by_id = match db.resource(kind, reference).await? {
        Some(row) if org_id.is_none_or(|o| o == row.org_id) => Some(row),
        _ => None,
    };
    let row = match by_id {
        Some(row) => row,
        None => {
            let mut named = db
                .resources_named(kind, &principal.user_id, reference, org_id)
                .await?;
            match named.len() {
                0 => return Err(Error::not_found(format!("{what} not found"))),
                1 => named.remove(0),
                n => {
                    return Err(Error::invalid_input(format!(
                        "{n} of your organizations have a {} named {reference}: pass org_id or use its id",
                        kind.as_str()
                    )))
                }
            }
        }
    };
    let actor = actor(db, principal, &row.org_id).await?;
    check(
        &actor,
        action,
        &Target::Resource {
            owner_id: &row.owner_id,
            org_id: &row.org_id,
        },
        &what,
    )?;
    Ok(row)
}

/// The name a resource has on the backend. It is ours, not the tenant's: tenants' names only need
/// to be unique within their organization, so two organizations may each have a "web".
pub fn backend_name(id: &str) -> String {
    format!("nb-{}", &id[..16])
}

/// A backend error as the tenant should read it: backend messages name the backend's resource,
/// which the tenant knows by their own name.
pub fn tenant_error(e: Error, backend_id: &str, name: &str) -> Error {
    if e.message().contains(backend_id) {
        let message = e.message().replace(backend_id, name);
        let temporary = e.is_temporary();
        let e = Error::new(e.kind(), message);
        if temporary {
            e.set_temporary()
        } else {
            e
        }
    } else {
        e
    }
}

impl ResourceRow {
    /// A backend error about this resource, in the tenant's terms.
    pub fn explain(&self, e: Error) -> Error {
        tenant_error(e, &self.backend_id, &self.name)
    }
}
