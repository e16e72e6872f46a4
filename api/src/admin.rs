//! Platform-wide views for platform admins: users, instances, the audit log.

use nubes_core::InstanceState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    /// Entries whose action starts with this, like `POST /v1/instances`.
    pub action: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    /// Method and route, like `POST /v1/instances/{id}/stop`.
    pub action: String,
    /// The path as requested.
    pub resource: String,
    /// The HTTP status it ended with.
    pub status: i64,
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUser {
    pub id: String,
    pub email: String,
    pub platform_admin: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminInstance {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    pub state: InstanceState,
    pub created_at: i64,
}
