//! Connecting to an engine and learning what it can do.

use std::sync::Arc;

use bollard::Docker;
use nubes_core::{Error, Result};

use crate::error;

/// One engine connection shared by the provider's services.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    /// Whether the storage driver enforces `--storage-opt size=` (overlay2 over ext4 does not).
    pub(crate) disk_limit: bool,
}

impl Engine {
    /// Connects to `docker://` (DOCKER_HOST or the local socket), `docker:///path/to/docker.sock`,
    /// or `docker+tcp://host:port`, and agrees on an API version with the engine.
    pub async fn connect(uri: &str) -> Result<Arc<Self>> {
        let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or("");
        let docker = if uri.starts_with("docker+tcp://") {
            Docker::connect_with_http(&format!("tcp://{rest}"), 120, bollard::API_DEFAULT_VERSION)
        } else if rest.is_empty() {
            Docker::connect_with_defaults()
        } else if rest.starts_with('/') {
            Docker::connect_with_unix(rest, 120, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(Error::invalid_input(format!(
                "cannot read Docker URI `{uri}`: use docker://, docker:///path/to/docker.sock or docker+tcp://host:port"
            )));
        }
        .map_err(error::map)?;
        // Older engines (20.10 speaks 1.41) refuse newer clients; settle on the engine's version.
        let docker = docker.negotiate_version().await.map_err(error::map)?;
        let info = docker.info().await.map_err(error::map)?;
        let driver = info.driver.unwrap_or_default();
        let backing = info
            .driver_status
            .unwrap_or_default()
            .into_iter()
            .find(|kv| kv.first().map(String::as_str) == Some("Backing Filesystem"))
            .and_then(|kv| kv.get(1).cloned())
            .unwrap_or_default();
        let disk_limit = matches!(
            driver.as_str(),
            "btrfs" | "zfs" | "devicemapper" | "windowsfilter"
        ) || (driver == "overlay2" && backing == "xfs");
        Ok(Arc::new(Self { docker, disk_limit }))
    }

    /// The underlying bollard client, for what the traits do not cover.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }
}
