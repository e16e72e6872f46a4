//! Lessor agents as platform admins manage them.

use std::collections::BTreeMap;

use nubes_core::Resources;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// A name for people: the machine, its owner.
    pub name: String,
}

/// An agent as admins see it: its record, and what the fleet knows of it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked: bool,
    pub cordoned: bool,
    /// online, offline (connected once since the server started, now silent), or never_seen.
    pub state: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub live: Option<AgentStatus>,
    /// The token, in the answer that creates the agent only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// What a drain did, by instance id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrainReport {
    /// Placed on other agents (or waiting for room), restarted.
    pub moved: Vec<String>,
    /// Left where they were: their spec is unknown (adopted after a restart) or the agent failed.
    pub stuck: Vec<String>,
}

/// A tenant's instance on an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentInstance {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    /// Its name on the agent.
    pub backend_id: String,
}

/// What the fleet knows of an agent, for the admin views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub id: String,
    pub name: String,
    pub online: bool,
    pub cordoned: bool,
    pub capacity: Resources,
    pub free: Resources,
    pub providers: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub os: String,
    pub arch: String,
    /// Seconds since the last heartbeat.
    pub last_heartbeat_secs: Option<u64>,
    pub instances: Vec<String>,
    /// Why its provider does not answer, while it does not (it then takes no new work).
    pub backend_error: Option<String>,
}
