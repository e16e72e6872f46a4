#![doc = include_str!("../README.md")]

mod error;
mod storage;

use std::path::PathBuf;
use std::sync::Arc;

use nubes_core::{Cloud, Error, Registry, Result};

pub use storage::LocalStorage;

/// `local:///absolute/path` or `local://relative/path`.
pub const SCHEME: &str = "local";

/// Opens storage rooted at the directory the URI names, creating it if needed.
pub async fn connect(uri: &str) -> Result<Cloud> {
    let path = uri.strip_prefix("local://").unwrap_or(uri);
    if path.is_empty() {
        return Err(Error::invalid_input(
            "local:// needs a directory, like local:///srv/nubes or local://./data",
        ));
    }
    let storage = LocalStorage::open(PathBuf::from(path)).await?;
    Ok(Cloud::new(SCHEME).with_storage(Arc::new(storage)))
}

pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { connect(&uri).await });
}
