//! Organizations, their members and invites.

use nubes_auth::Role;
use serde::{Deserialize, Serialize};

/// `?org_id=`: which organization a resource name is looked up in, when several have one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    pub org_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    #[serde(default = "default_role")]
    pub role: Role,
    #[serde(default = "default_hours")]
    pub expires_in_hours: u64,
    /// How many joins it is good for (1 unless said).
    #[serde(default = "one")]
    pub uses: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Join {
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Org {
    pub id: String,
    pub name: String,
    /// The caller's role in it.
    pub role: Role,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub joined_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invite {
    pub id: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    /// How many joins it is good for, and how many it has had.
    pub max_uses: i64,
    pub uses: i64,
    /// Only in the response that creates it: the code is stored hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

fn default_role() -> Role {
    Role::Member
}

fn default_hours() -> u64 {
    72
}

fn one() -> u64 {
    1
}

impl Default for NewInvite {
    fn default() -> Self {
        Self {
            role: default_role(),
            expires_in_hours: default_hours(),
            uses: one(),
        }
    }
}
