//! Clusters on a Nubes fleet server: capacity an organization reserves. Not an SDK trait (no
//! other provider has them), so plain functions over the REST API.

use reqwest::Method;

use crate::client::{path, Client};
use nubes_core::Result;

pub use nubes_api::clusters::{ClusterView, CreateCluster};

const NONE: Option<&()> = None;

pub async fn create(client: &Client, new: &CreateCluster) -> Result<ClusterView> {
    client.call(Method::POST, "/v1/clusters", Some(new)).await
}

pub async fn list(client: &Client) -> Result<Vec<ClusterView>> {
    client.call(Method::GET, "/v1/clusters", NONE).await
}

pub async fn get(client: &Client, id: &str) -> Result<ClusterView> {
    client
        .call(
            Method::GET,
            &client.in_org(path(&["v1", "clusters", id])),
            NONE,
        )
        .await
}

pub async fn delete(client: &Client, id: &str) -> Result<()> {
    client
        .raw(
            Method::DELETE,
            &client.in_org(path(&["v1", "clusters", id])),
            NONE,
        )
        .await?;
    Ok(())
}
