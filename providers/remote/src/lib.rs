#![doc = include_str!("../README.md")]

pub mod admin;
pub mod agents;
pub mod auth;
pub mod billing;
mod client;
pub mod clusters;
mod compute;
mod console_socket;
mod disk;
mod exec_socket;
mod function;
pub mod orgs;
mod storage;

use std::sync::Arc;

pub use client::Client;
pub use compute::RemoteCompute;
pub use disk::RemoteDisk;
pub use function::RemoteFunction;
use nubes_core::{Cloud, Registry, Result};
use reqwest::Method;
pub use storage::RemoteStorage;

/// Shown as the provider of errors and instances.
pub const SCHEME: &str = "remote";

pub use nubes_api::Capabilities;

/// Connects to a Nubes server at `url` (`https://nubes.example.com`) with `token` (an access
/// token or an API token). The server says which services it has and what they can do; the
/// cloud holds those, so what the server cannot do fails before a request is sent.
pub async fn connect_with_token(url: &str, token: &str) -> Result<Cloud> {
    connect(Client::new(url, token)?).await
}

/// As [`connect_with_token`], with a client already made (for one in an organization:
/// [`Client::with_org`]).
pub async fn connect(client: Client) -> Result<Cloud> {
    let caps: Capabilities = client
        .call(Method::GET, "/v1/capabilities", None::<&()>)
        .await?;
    let mut cloud = Cloud::new(SCHEME);
    if let Some(c) = caps.compute {
        cloud = cloud.with_compute(Arc::new(RemoteCompute::new(client.clone(), c)));
    }
    if let Some(c) = caps.storage {
        cloud = cloud.with_storage(Arc::new(RemoteStorage::new(client.clone(), c)));
    }
    if let Some(c) = caps.disk {
        cloud = cloud.with_disk(Arc::new(RemoteDisk::new(client.clone(), c)));
    }
    if let Some(c) = caps.function {
        cloud = cloud.with_function(Arc::new(RemoteFunction::new(client, c)));
    }
    Ok(cloud)
}

/// Registers `http://` and `https://`, taking the token from `NUBES_TOKEN`.
pub fn register(registry: &mut Registry) {
    for scheme in ["http", "https"] {
        registry.register(scheme, |uri: String| async move {
            let token = std::env::var("NUBES_TOKEN").unwrap_or_default();
            connect_with_token(&uri, &token).await
        });
    }
}
