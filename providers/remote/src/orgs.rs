//! Organizations on a Nubes server: create, list, join with an invite's code, members and their
//! roles, invites. Not an SDK trait (it is the platform's), so plain functions.

pub use nubes_api::orgs::{Invite, Member, NewInvite, Org};
use nubes_api::orgs::{Join, NewOrg, RoleChange};
pub use nubes_auth::Role;
use nubes_core::Result;
use reqwest::Method;

use crate::client::{path, Client};

const NONE: Option<&()> = None;

pub async fn create(client: &Client, name: &str) -> Result<Org> {
    let body = NewOrg {
        name: name.to_string(),
    };
    client.call(Method::POST, "/v1/orgs", Some(&body)).await
}

/// The organizations the caller belongs to, with the caller's role in each.
pub async fn list(client: &Client) -> Result<Vec<Org>> {
    client.call(Method::GET, "/v1/orgs", NONE).await
}

/// Joins the organization an invite's code is for.
pub async fn join(client: &Client, code: &str) -> Result<Org> {
    let body = Join {
        code: code.to_string(),
    };
    client
        .call(Method::POST, "/v1/orgs/join", Some(&body))
        .await
}

pub async fn members(client: &Client, org: &str) -> Result<Vec<Member>> {
    client
        .call(Method::GET, &path(&["v1", "orgs", org, "members"]), NONE)
        .await
}

/// Changes a member's role (organization admins).
pub async fn set_role(client: &Client, org: &str, user: &str, role: Role) -> Result<Member> {
    client
        .call(
            Method::PUT,
            &path(&["v1", "orgs", org, "members", user]),
            Some(&RoleChange { role }),
        )
        .await
}

/// A new invite; its code is in this answer only.
pub async fn invite(client: &Client, org: &str, invite: &NewInvite) -> Result<Invite> {
    client
        .call(
            Method::POST,
            &path(&["v1", "orgs", org, "invites"]),
            Some(invite),
        )
        .await
}

pub async fn invites(client: &Client, org: &str) -> Result<Vec<Invite>> {
    client
        .call(Method::GET, &path(&["v1", "orgs", org, "invites"]), NONE)
        .await
}

pub async fn revoke_invite(client: &Client, org: &str, invite: &str) -> Result<()> {
    client
        .raw(
            Method::DELETE,
            &path(&["v1", "orgs", org, "invites", invite]),
            NONE,
        )
        .await
        .map(|_| ())
}
