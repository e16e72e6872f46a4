//! Connecting to an engine and learning what it can do.

use std::sync::Arc;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::RemoveContainerOptions;
use bollard::Docker;
use nubes_core::uri::ProviderUri;
use nubes_core::{Error, Result};

use crate::{convert, error};

/// One engine connection shared by the provider's services.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) docker: Docker,
    /// Whether the storage driver enforces `--storage-opt size=` (overlay2 over ext4 does not).
    pub(crate) disk_limit: bool,
    /// How instances are networked.
    pub(crate) network: crate::NetworkMode,
    /// Where per-instance networks take their subnets from.
    pub(crate) subnets: crate::Subnets,
}

impl Engine {
    /// Connects to `docker://` (DOCKER_HOST or the local socket), `docker:///path/to/docker.sock`,
    /// or `docker+tcp://host:port`, and agrees on an API version with the engine.
    pub async fn connect(uri: &str) -> Result<Arc<Self>> {
        let u = ProviderUri::parse(uri, "Docker", &["network", "subnets"])?;
        let rest = u.target.as_str();
        let network = match u.option("network") {
            Some(v) => v.parse()?,
            None => crate::NetworkMode::default(),
        };
        let subnets = match u.option("subnets") {
            Some(v) => v.parse()?,
            None => crate::Subnets::default(),
        };
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
        Ok(Arc::new(Self {
            docker,
            disk_limit,
            network,
            subnets,
        }))
    }

    /// Inspects a container and checks it is a Nubes container of `kind`; `None` when there is no
    /// such container or it is not ours, so other containers on the engine stay invisible.
    pub(crate) async fn inspect_managed(
        &self,
        id: &str,
        kind: &str,
    ) -> Result<Option<ContainerInspectResponse>> {
        match self.docker.inspect_container(id, None).await {
            Ok(c) if convert::is_managed(&c, kind) => Ok(Some(c)),
            Ok(_) => Ok(None),
            Err(e) if error::status(&e) == Some(404) => Ok(None),
            Err(e) => Err(error::map(e)),
        }
    }

    /// Removes a container and its anonymous volumes.
    pub(crate) async fn remove(
        &self,
        id: &str,
        force: bool,
    ) -> std::result::Result<(), bollard::errors::Error> {
        let options = RemoveContainerOptions {
            force,
            v: true,
            ..Default::default()
        };
        self.docker.remove_container(id, Some(options)).await
    }

    /// The underlying bollard client, for what the traits do not cover.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }
}
