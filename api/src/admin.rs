//! Platform-wide views for platform admins: users, instances, the queue, the audit log.

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
    /// Their plan as last renewed (`free` until one is).
    #[serde(default)]
    pub plan: String,
    /// Their wallet's credits, exact.
    #[serde(default)]
    pub balance: String,
}

/// A page of `GET /v1/admin/users`, in the order they registered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// At most this many (default and most: 500).
    pub limit: Option<u32>,
    /// The users after this one (the last id of the previous page).
    pub after: Option<String>,
}

impl UsersQuery {
    pub const MAX: u32 = 500;

    /// The page's size: 1 to [`Self::MAX`], the most when none was asked for.
    pub fn limit(&self) -> nubes_core::Result<u32> {
        match self.limit.unwrap_or(Self::MAX) {
            n @ 1..=Self::MAX => Ok(n),
            n => Err(nubes_core::Error::invalid_input(format!(
                "limit {n} is not between 1 and {}",
                Self::MAX
            ))),
        }
    }
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
    /// The lessor agent it runs on, where the server runs a fleet and it is placed.
    #[serde(default)]
    pub agent_id: Option<String>,
}

/// An instance waiting in the fleet's queue for capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuedInstance {
    pub instance_id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    /// Higher is admitted first.
    pub priority: i32,
    /// The cluster it waits in, when it waits for a cluster's reservation rather than the
    /// fleet's open capacity.
    pub cluster_id: Option<String>,
    pub cpus: f64,
    /// Bytes.
    pub memory: u64,
    pub gpus: u32,
}
