#![doc = include_str!("../README.md")]

mod compute;
mod config;
mod disk;
mod error;
mod exec;
mod function;
pub mod manifest;
mod metrics;
#[cfg(test)]
mod mock_tests;
mod scopes;
pub mod script;
mod status;

use std::sync::Arc;

pub use compute::PodCompute;
pub use config::{Cluster, Settings};
pub use disk::ClaimDisk;
pub use error::{from_kube, from_status};
pub use function::{JobFunction, ASYNC_MAX, PAYLOAD_MAX, RESULT_MAX};
use nubes_core::{Cloud, Registry, Result};
pub use scopes::ScopedCompute;

/// `kubernetes://` with the ambient configuration (`KUBECONFIG`, `~/.kube/config`, or the
/// in-cluster service account), or `kubernetes://?context=NAME&namespace=NS`; see [`Settings`]
/// for every option.
pub const SCHEME: &str = "kubernetes";

/// Connects and offers Compute (pods), Function (Jobs) and Disk (claims) in one namespace.
pub async fn connect(uri: &str) -> Result<Cloud> {
    let cluster = Cluster::connect(Settings::parse(uri)?).await?;
    Ok(cloud(Arc::new(cluster)).await)
}

/// A `Cloud` on a cluster you already connected.
pub async fn cloud(cluster: Arc<Cluster>) -> Cloud {
    let compute: Arc<dyn nubes_core::Compute> = if cluster.settings.scopes {
        Arc::new(ScopedCompute::new(cluster.clone()))
    } else {
        Arc::new(PodCompute::new(cluster.clone()))
    };
    Cloud::new(SCHEME)
        .with_compute(compute)
        .with_function(Arc::new(JobFunction::new(cluster.clone())))
        .with_disk(Arc::new(ClaimDisk::new(cluster).await))
}

pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { connect(&uri).await });
}
