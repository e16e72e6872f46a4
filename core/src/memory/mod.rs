//! The in-memory reference provider: all four traits, no backend. It defines the behaviour the
//! conformance kit expects, and runs the kit on every plain `cargo test`.
//!
//! Compute keeps instance records and their lifecycle but runs no processes, so it offers no
//! exec, logs or stats; functions are Rust closures registered by name.

mod compute;
mod disk;
mod function;
mod storage;

use std::sync::Arc;

pub use compute::MemoryCompute;
pub use disk::MemoryDisk;
pub use function::{Handler, MemoryFunction};
pub use storage::MemoryStorage;

use crate::uri::ProviderUri;
use crate::{Cloud, Registry, Result};

pub const SCHEME: &str = "memory";

/// Registers `memory://`. The query string may list images compute accepts:
/// `memory://?images=busybox,alpine`.
pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { connect(&uri) });
}

fn connect(uri: &str) -> Result<Cloud> {
    let u = ProviderUri::parse(uri, "memory", &["images"])?;
    let mut compute = MemoryCompute::new();
    for image in u.option("images").unwrap_or_default().split(',') {
        if !image.is_empty() {
            compute = compute.with_image(image);
        }
    }
    Ok(Cloud::new(SCHEME)
        .with_compute(Arc::new(compute))
        .with_disk(Arc::new(MemoryDisk::new()))
        .with_storage(Arc::new(MemoryStorage::new()))
        .with_function(Arc::new(MemoryFunction::new())))
}
