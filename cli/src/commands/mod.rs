pub mod account;
pub mod admin;
pub mod agent;
pub mod billing;
pub mod bucket;
pub mod cluster;
pub mod disk;
pub mod events;
pub mod function;
pub mod image;
pub mod instance;
pub mod login;
pub mod object;
pub mod org;
#[cfg(feature = "server")]
pub mod serve;

use std::path::Path;

use nubes::{Bytes, Error, Result};
use tokio::io::AsyncReadExt;

/// Reads a whole file, or stdin for "-".
pub async fn read_input(path: &Path) -> Result<Bytes> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        tokio::io::stdin()
            .read_to_end(&mut buf)
            .await
            .map_err(|e| Error::io(e, "stdin"))?;
    } else {
        buf = tokio::fs::read(path)
            .await
            .map_err(|e| Error::io(e, &path.display().to_string()))?;
    }
    Ok(buf.into())
}
