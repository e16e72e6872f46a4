//! Live events, one JSON text frame each on `/v1/events`.

use serde::{Deserialize, Serialize};

/// One event, as `/v1/events` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// instance.created, instance.state, instance.deleted, instance.queued, instance.admitted,
    /// instance.lost, agent.online, agent.offline, agent.backend_down, agent.claim_refused,
    /// disk.converting
    pub kind: String,
    pub at: i64,
    /// The organization it concerns; none for platform events (agents).
    pub org_id: Option<String>,
    pub instance_id: Option<String>,
    pub name: Option<String>,
    pub state: Option<String>,
    pub agent_id: Option<String>,
    /// For events about one user (their credits, their conversions): only they (and platform
    /// admins) see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// disk.converting: the disk being copied (`name` is the new disk's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_id: Option<String>,
    /// disk.converting: how far, in percent, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f32>,
}
