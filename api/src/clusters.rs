//! Clusters: fleet capacity an organization reserves.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCluster {
    /// Defaults to the caller's personal organization.
    pub org_id: Option<String>,
    pub name: String,
    pub cpus: f64,
    /// Bytes.
    pub memory: u64,
    #[serde(default)]
    pub gpus: u32,
}

/// A cluster and what of it is in use now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterView {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub created_by: String,
    pub created_at: i64,
    pub cpus: f64,
    pub memory: u64,
    pub gpus: u32,
    pub used_cpus: f64,
    pub used_memory: u64,
    /// Instances waiting in it, in the order they will start.
    pub queued: Vec<String>,
}
