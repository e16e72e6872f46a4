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

use crate::{Cloud, Registry};

pub const SCHEME: &str = "memory";

/// Registers `memory://`. The query string may list images compute accepts:
/// `memory://?images=busybox,alpine`.
pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { Ok(connect(&uri)) });
}

fn connect(uri: &str) -> Cloud {
    let mut compute = MemoryCompute::new();
    if let Some((_, query)) = uri.split_once('?') {
        for pair in query.split('&') {
            if let Some(("images", list)) = pair.split_once('=') {
                for image in list.split(',').filter(|s| !s.is_empty()) {
                    compute = compute.with_image(image);
                }
            }
        }
    }
    Cloud::new(SCHEME)
        .with_compute(Arc::new(compute))
        .with_disk(Arc::new(MemoryDisk::new()))
        .with_storage(Arc::new(MemoryStorage::new()))
        .with_function(Arc::new(MemoryFunction::new()))
}
