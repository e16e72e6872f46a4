//! Clusters on a Nubes fleet server: capacity an organization reserves. Not an SDK trait (no
//! other provider has them), so plain functions over the REST API.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{path, Client};
use nubes_core::Result;

/// A cluster and what of it is in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub cpus: f64,
    pub memory: u64,
    pub gpus: u32,
    pub used_cpus: f64,
    pub used_memory: u64,
    /// Instance ids waiting in it, in the order they will start.
    pub queued: Vec<String>,
    pub created_at: i64,
}

/// What to reserve.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewCluster {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    pub name: String,
    pub cpus: f64,
    pub memory: u64,
    pub gpus: u32,
}

const NONE: Option<&()> = None;

pub async fn create(client: &Client, new: &NewCluster) -> Result<Cluster> {
    client.call(Method::POST, "/v1/clusters", Some(new)).await
}

pub async fn list(client: &Client) -> Result<Vec<Cluster>> {
    client.call(Method::GET, "/v1/clusters", NONE).await
}

pub async fn get(client: &Client, id: &str) -> Result<Cluster> {
    client
        .call(Method::GET, &path(&["v1", "clusters", id]), NONE)
        .await
}

pub async fn delete(client: &Client, id: &str) -> Result<()> {
    client
        .raw(Method::DELETE, &path(&["v1", "clusters", id]), NONE)
        .await?;
    Ok(())
}
