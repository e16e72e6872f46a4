#![doc = include_str!("../README.md")]

use std::future::Future;

#[cfg(any(feature = "aws-s3", feature = "aws-ec2", feature = "aws-lambda"))]
pub use nubes_aws as aws;
pub use nubes_core::*;
#[cfg(feature = "docker")]
pub use nubes_docker as docker;
#[cfg(feature = "kubernetes")]
pub use nubes_kubernetes as kubernetes;
#[cfg(feature = "local")]
pub use nubes_local as local;
#[cfg(feature = "qemu")]
pub use nubes_qemu as qemu;
#[cfg(feature = "remote")]
pub use nubes_remote as remote;

/// Everything a program using Nubes usually needs.
pub mod prelude {
    pub use crate::Connect;
    pub use nubes_core::{
        Cloud, Compute, Disk, Error, ErrorKind, ExecRequest, Function, InstanceSpec, Result,
        Storage,
    };
}

/// A registry with every provider this build was compiled with (`memory` always).
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    nubes_core::memory::register(&mut registry);
    #[cfg(feature = "docker")]
    nubes_docker::register(&mut registry);
    #[cfg(feature = "local")]
    nubes_local::register(&mut registry);
    #[cfg(feature = "remote")]
    nubes_remote::register(&mut registry);
    #[cfg(feature = "qemu")]
    nubes_qemu::register(&mut registry);
    #[cfg(any(feature = "aws-s3", feature = "aws-ec2", feature = "aws-lambda"))]
    nubes_aws::register(&mut registry);
    #[cfg(feature = "kubernetes")]
    nubes_kubernetes::register(&mut registry);
    registry
}

/// `Cloud::connect(uri)` with the providers of this build.
pub trait Connect: Sized {
    fn connect(uri: &str) -> impl Future<Output = Result<Self>> + Send;
}

impl Connect for Cloud {
    fn connect(uri: &str) -> impl Future<Output = Result<Self>> + Send {
        let uri = uri.to_string();
        async move { registry().connect(&uri).await }
    }
}

#[cfg(test)]
mod tests {
    use super::prelude::*;

    #[tokio::test]
    async fn connects_by_scheme() {
        let memory = Cloud::connect("memory://").await.unwrap();
        assert_eq!(memory.provider(), "memory");
        assert!(memory.compute().is_ok());
        let e = Cloud::connect("nope://").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("memory"), "{e}");
    }

    #[cfg(feature = "local")]
    #[tokio::test]
    async fn local_offers_only_storage() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = Cloud::connect(&format!("local://{}", dir.path().display()))
            .await
            .unwrap();
        assert!(cloud.storage().is_ok());
        assert_eq!(cloud.compute().unwrap_err().kind(), ErrorKind::Unsupported);
    }
}
