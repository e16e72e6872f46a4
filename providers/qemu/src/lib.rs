#![doc = include_str!("../README.md")]

pub mod accel;
mod disk;
pub mod domain;
pub mod img;
mod pool;

use std::path::PathBuf;
use std::sync::Arc;

use nubes_core::{Cloud, Error, Registry, Result};

pub use disk::{InUse, QemuDisk, Unused};
pub use pool::Pool;

/// `qemu://?pool=/var/lib/nubes/images`: disk images in that directory.
pub const SCHEME: &str = "qemu";

/// Where images live when the URI names no pool: `$XDG_DATA_HOME/nubes/images`, or
/// `~/.local/share/nubes/images`.
pub fn default_pool() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("nubes/images")
}

/// What a `qemu://` URI asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub pool: PathBuf,
}

/// Reads `qemu://?pool=DIR`.
pub fn parse_uri(uri: &str) -> Result<Target> {
    let rest = uri.strip_prefix("qemu://").ok_or_else(|| {
        Error::invalid_input(format!("a QEMU URI starts with qemu://, got `{uri}`"))
    })?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !path.is_empty() {
        return Err(Error::invalid_input(format!(
            "qemu:// takes its settings as query parameters (qemu://?pool=/dir), not `{path}`"
        )));
    }
    let mut target = Target {
        pool: default_pool(),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("pool", dir)) if !dir.is_empty() => target.pool = PathBuf::from(dir),
            _ => {
                return Err(Error::invalid_input(format!(
                    "unknown qemu:// setting `{pair}`: expected pool=DIR"
                )))
            }
        }
    }
    Ok(target)
}

pub async fn connect(uri: &str) -> Result<Cloud> {
    let target = parse_uri(uri)?;
    let pool = Arc::new(Pool::open(target.pool).await?);
    Ok(Cloud::new(SCHEME).with_disk(Arc::new(QemuDisk::new(pool))))
}

pub fn register(registry: &mut Registry) {
    registry.register(SCHEME, |uri: String| async move { connect(&uri).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("qemu://?pool=/srv/img").unwrap().pool,
            PathBuf::from("/srv/img")
        );
        assert_eq!(parse_uri("qemu://").unwrap().pool, default_pool());
        for bad in [
            "qemu:///srv",
            "qemu://?pool=",
            "qemu://?colour=red",
            "docker://",
        ] {
            assert_eq!(
                parse_uri(bad).unwrap_err().kind(),
                nubes_core::ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }
}
