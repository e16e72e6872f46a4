//! Lessor agents on a Nubes fleet server, for platform admins: issue a token, list, inspect,
//! cordon, drain, revoke. Not an SDK trait (only a fleet has agents), so plain functions.

use reqwest::Method;

use crate::client::{path, Client};
use nubes_core::Result;

use nubes_api::agents::NewAgent;
pub use nubes_api::agents::{AgentInstance, AgentStatus, AgentView, DrainReport};

const NONE: Option<&()> = None;

fn agent_path(id: &str, action: Option<&str>) -> String {
    match action {
        Some(a) => path(&["v1", "admin", "agents", id, a]),
        None => path(&["v1", "admin", "agents", id]),
    }
}

/// Issues a new agent; its token is in the answer, and nowhere else ever again.
pub async fn issue(client: &Client, name: &str) -> Result<AgentView> {
    let body = NewAgent {
        name: name.to_string(),
    };
    client
        .call(Method::POST, "/v1/admin/agents", Some(&body))
        .await
}

pub async fn list(client: &Client) -> Result<Vec<AgentView>> {
    client.call(Method::GET, "/v1/admin/agents", NONE).await
}

pub async fn get(client: &Client, id: &str) -> Result<AgentView> {
    client.call(Method::GET, &agent_path(id, None), NONE).await
}

pub async fn instances(client: &Client, id: &str) -> Result<Vec<AgentInstance>> {
    client
        .call(Method::GET, &agent_path(id, Some("instances")), NONE)
        .await
}

/// Cordoned, an agent keeps what it runs but is given nothing new.
pub async fn cordon(client: &Client, id: &str, cordoned: bool) -> Result<AgentView> {
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
