//! Lessor agents on a Nubes fleet server, for platform admins: issue a token, list, inspect,
//! cordon, drain, revoke. Not an SDK trait (only a fleet has agents), so plain functions.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{path, Client};
use nubes_core::{Resources, Result};

/// An agent's record and, once it has connected, what the fleet knows of it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked: bool,
    pub cordoned: bool,
    /// online, offline or never_seen.
    pub state: String,
    pub live: Option<AgentLive>,
    /// Only in the answer that issues the agent: shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// An agent as it last reported itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentLive {
    pub capacity: Resources,
    pub free: Resources,
    #[serde(default)]
    pub providers: Vec<String>,
    pub os: String,
    pub arch: String,
    pub last_heartbeat_secs: Option<u64>,
    #[serde(default)]
    pub instances: Vec<String>,
}

/// A tenant's instance on an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInstance {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    /// Its name on the agent.
    pub backend_id: String,
}

/// What a drain did, by instance id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainReport {
    pub moved: Vec<String>,
    pub stuck: Vec<String>,
}

const NONE: Option<&()> = None;

fn agent_path(id: &str, action: Option<&str>) -> String {
    match action {
        Some(a) => path(&["v1", "admin", "agents", id, a]),
        None => path(&["v1", "admin", "agents", id]),
    }
}

/// Issues a new agent; its token is in the answer, and nowhere else ever again.
pub async fn issue(client: &Client, name: &str) -> Result<Agent> {
    let body = serde_json::json!({ "name": name });
    client
        .call(Method::POST, "/v1/admin/agents", Some(&body))
        .await
}

pub async fn list(client: &Client) -> Result<Vec<Agent>> {
    client.call(Method::GET, "/v1/admin/agents", NONE).await
}

pub async fn get(client: &Client, id: &str) -> Result<Agent> {
    client.call(Method::GET, &agent_path(id, None), NONE).await
}

pub async fn instances(client: &Client, id: &str) -> Result<Vec<AgentInstance>> {
    client
        .call(Method::GET, &agent_path(id, Some("instances")), NONE)
        .await
}

/// Cordoned, an agent keeps what it runs but is given nothing new.
pub async fn cordon(client: &Client, id: &str, cordoned: bool) -> Result<Agent> {
    let action = if cordoned { "cordon" } else { "uncordon" };
    client
        .call(Method::POST, &agent_path(id, Some(action)), NONE)
        .await
}

/// Cordons the agent and moves its instances to others.
pub async fn drain(client: &Client, id: &str) -> Result<DrainReport> {
    client
        .call(Method::POST, &agent_path(id, Some("drain")), NONE)
        .await
}

/// Revokes the agent's token; it is disconnected at once.
pub async fn revoke(client: &Client, id: &str) -> Result<()> {
    client
        .raw(Method::DELETE, &agent_path(id, None), NONE)
        .await?;
    Ok(())
}
