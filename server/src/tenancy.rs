//! Tenancy, in one place: who the caller is in an organization, and what `nubes_auth::authorize`
//! says they may do there. Handlers and services never compare owners or roles themselves.

use nubes::{Error, ErrorKind, Result};
use nubes_auth::{authorize, Action, Actor, Decision, Role, Target};

use nubes::async_trait;

use crate::db::{ClusterRow, Db, InstanceRow, Kind, ResourceRow};

/// Who a valid access token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    /// The login session, or `token:<id>` for an API token.
    pub session_id: String,
    /// When the credential presented stops being valid (seconds since the epoch; API tokens
    /// do not expire, until revoked).
    pub expires_at: Option<i64>,
}

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

/// How a request names a resource of any kind: its id, or its name in one of the caller's
/// organizations (in `org_id` when given, for a name more than one of them uses).
#[derive(Debug, Clone, Copy)]
pub struct Ref<'a> {
    pub id_or_name: &'a str,
    pub org_id: Option<&'a str>,
}

impl<'a> Ref<'a> {
    /// By id (or by name in any of the caller's organizations).
    pub fn id(id_or_name: &'a str) -> Self {
        Self {
            id_or_name,
            org_id: None,
        }
    }
}

/// A kind of tenant resource as tenancy judges it: where its rows are found, by id or by name
/// among a user's organizations, and which policy target an action on one meets.
#[async_trait]
pub trait Tenanted: Sized + Send {
    /// "instance", "disk", ...: how errors name it.
    const KIND: &'static str;
    async fn by_id(db: &Db, id: &str) -> Result<Option<Self>>;
    async fn named(db: &Db, user_id: &str, name: &str, org_id: Option<&str>) -> Result<Vec<Self>>;
    fn org_id(&self) -> &str;
    fn target(&self, action: Action) -> Target<'_>;
}

/// The resource of kind `T` that `r` names, if the caller may do `action` to it. A name that
/// matches in several of the caller's organizations is refused, not guessed at.
pub async fn find<T: Tenanted>(
    db: &Db,
    principal: &Principal,
    r: Ref<'_>,
    action: Action,
) -> Result<T> {
    let reference = r.id_or_name;
    let what = format!("{} {reference}", T::KIND);
    let mut found = candidates::<T>(db, &principal.user_id, r).await?;
    let row = match found.len() {
        0 => return Err(Error::not_found(format!("{what} not found"))),
        1 => found.remove(0),
        n => {
            return Err(Error::invalid_input(format!(
                "{n} of your organizations have a {} named {reference}: pass org_id or use its id",
                T::KIND
            )))
        }
    };
    let actor = actor(db, principal, row.org_id()).await?;
    check(&actor, action, &row.target(action), &what)?;
    Ok(row)
}

/// Whether `principal` may still do `action` to the resource of kind `T` with this id, looked
/// up by id alone (a name is never tried: another resource may be named what this one's id
/// was); `None` when that cannot be told now (the database did not answer).
pub async fn allows<T: Tenanted>(
    db: &Db,
    principal: &Principal,
    id: &str,
    action: Action,
) -> Option<bool> {
    let row = match T::by_id(db, id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Some(false),
        Err(_) => return None,
    };
    let actor = actor(db, principal, row.org_id()).await.ok()?;
    Some(check(&actor, action, &row.target(action), T::KIND).is_ok())
}

/// What `r` may name for `user_id`: the row with that id (in `r.org_id`, when given), else the
/// rows with that name in the user's organizations. Nothing is authorized here.
async fn candidates<T: Tenanted>(db: &Db, user_id: &str, r: Ref<'_>) -> Result<Vec<T>> {
    match T::by_id(db, r.id_or_name).await? {
        Some(row) if r.org_id.is_none_or(|o| o == row.org_id()) => Ok(vec![row]),
        _ => T::named(db, user_id, r.id_or_name, r.org_id).await,
    }
}

/// The organization of the one resource of kind `T` that `r` names for `user_id`, for the audit
/// log; none when it names none or several.
pub async fn org_of<T: Tenanted>(db: &Db, user_id: &str, r: Ref<'_>) -> Option<String> {
    match candidates::<T>(db, user_id, r).await.ok()?.as_slice() {
        [one] => Some(one.org_id().to_string()),
        _ => None,
    }
}

/// The disk, bucket or function `r` names, if the caller may do `action` to it.
pub async fn resource(
    db: &Db,
    principal: &Principal,
    kind: Kind,
    r: Ref<'_>,
    action: Action,
) -> Result<ResourceRow> {
    let row = match kind {
        Kind::Disk => find::<Disk>(db, principal, r, action).await?.0,
        Kind::Bucket => find::<Bucket>(db, principal, r, action).await?.0,
        Kind::Function => find::<Function>(db, principal, r, action).await?.0,
    };
    Ok(row)
}

/// The kinds kept in the resources table, each a `Tenanted` kind of its own.
macro_rules! resource_kinds {
    ($($name:ident => $kind:expr, $what:literal),*) => {$(
        /// A row of the resources table of this kind.
        #[derive(Debug)]
        pub struct $name(pub ResourceRow);

        #[async_trait]
        impl Tenanted for $name {
            const KIND: &'static str = $what;
            async fn by_id(db: &Db, id: &str) -> Result<Option<Self>> {
                Ok(db.resource($kind, id).await?.map($name))
            }
            async fn named(db: &Db, user_id: &str, name: &str, org_id: Option<&str>) -> Result<Vec<Self>> {
                let rows = db.resources_named($kind, user_id, name, org_id).await?;
                Ok(rows.into_iter().map($name).collect())
            }
            fn org_id(&self) -> &str {
                &self.0.org_id
            }
            fn target(&self, _: Action) -> Target<'_> {
                Target::Resource { owner_id: &self.0.owner_id, org_id: &self.0.org_id }
            }
        }
    )*};
}

resource_kinds!(
    Disk => Kind::Disk, "disk",
    Bucket => Kind::Bucket, "bucket",
    Function => Kind::Function, "function"
);

#[async_trait]
impl Tenanted for InstanceRow {
    const KIND: &'static str = "instance";
    async fn by_id(db: &Db, id: &str) -> Result<Option<Self>> {
        db.instance(id).await
    }
    async fn named(db: &Db, user_id: &str, name: &str, org_id: Option<&str>) -> Result<Vec<Self>> {
        db.instances_named(user_id, name, org_id).await
    }
    fn org_id(&self) -> &str {
        &self.org_id
    }
    fn target(&self, _: Action) -> Target<'_> {
        Target::Resource {
            owner_id: &self.owner_id,
            org_id: &self.org_id,
        }
    }
}

#[async_trait]
impl Tenanted for ClusterRow {
    const KIND: &'static str = "cluster";
    async fn by_id(db: &Db, id: &str) -> Result<Option<Self>> {
        db.cluster(id).await
    }
    async fn named(db: &Db, user_id: &str, name: &str, org_id: Option<&str>) -> Result<Vec<Self>> {
        db.clusters_named(user_id, name, org_id).await
    }
    fn org_id(&self) -> &str {
        &self.org_id
    }
    fn target(&self, action: Action) -> Target<'_> {
        match action {
            Action::Read => Target::Resource {
                owner_id: &self.created_by,
                org_id: &self.org_id,
            },
            // Ending a reservation is an organization decision, whoever made it.
            _ => Target::Org {
                org_id: &self.org_id,
            },
        }
    }
}

/// The name a resource has on the backend. It is ours, not the tenant's: tenants' names only need
/// to be unique within their organization, so two organizations may each have a "web".
pub fn backend_name(id: &str) -> String {
    format!("nb-{}", &id[..16])
}

/// A backend error as the tenant should read it: backend messages name the backend's resource,
/// which the tenant knows by their own name. A provider refusing the server's own credentials is
/// the server's trouble, not the tenant's: it is `Unavailable`, and the provider's message
/// (which can name accounts and roles) goes to the server's log only.
pub fn tenant_error(e: Error, backend_id: &str, name: &str) -> Error {
    if let (Some(provider), ErrorKind::PermissionDenied | ErrorKind::Unauthenticated) =
        (e.provider(), e.kind())
    {
        tracing::error!(%provider, error = %e, "a provider refused the server's credentials");
        return Error::new(
            ErrorKind::Unavailable,
            format!("the {provider} provider behind this server refused its credentials; the operator is told"),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_refusal_of_the_servers_credentials_is_not_shown_to_tenants() {
        let refused = Error::new(
            ErrorKind::PermissionDenied,
            "object nb-1/k: User arn:aws:iam::123456789012:user/ops is not authorized",
        )
        .with_provider("aws");
        let e = tenant_error(refused, "nb-1", "reports");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(!e.message().contains("123456789012"), "{e}");
        let missing = Error::not_found("object nb-1/k not found").with_provider("aws");
        assert_eq!(
            tenant_error(missing, "nb-1", "reports").message(),
            "object reports/k not found"
        );
    }
}
