#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod convert;
mod error;
mod exec;
mod function;
mod image;
mod labels;
mod network;

use std::sync::Arc;

pub use client::Engine;
pub use compute::DockerCompute;
pub use function::{DockerFunction, ASYNC_MAX};
pub use image::{ImageInfo, PullProgress};
pub use network::{body as network_request, name_for as network_name, NetworkMode, Subnets};
use nubes_core::{Cloud, Registry, Result};

/// `docker://`, `docker:///path/to/docker.sock`, `docker+tcp://host:port`; each may end in
/// `?network=isolated|private|bridge` and `&subnets=10.213.0.0/16` (see [`NetworkMode`]).
pub const SCHEME: &str = "docker";

/// Connects to an engine and offers Compute and Function on it.
pub async fn connect(uri: &str) -> Result<Cloud> {
    let engine = Engine::connect(uri).await?;
    Ok(cloud(engine))
}

/// A `Cloud` over an engine you already connected.
pub fn cloud(engine: Arc<Engine>) -> Cloud {
    Cloud::new(SCHEME)
        .with_compute(Arc::new(DockerCompute::new(engine.clone())))
        .with_function(Arc::new(DockerFunction::new(engine)))
}

pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { connect(&uri).await });
    registry.register(
        "docker+tcp",
        |uri: String| async move { connect(&uri).await },
    );
}
