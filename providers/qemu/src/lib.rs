#![doc = include_str!("../README.md")]

pub mod accel;
#[cfg(feature = "libvirt")]
mod agent;
#[cfg(feature = "libvirt")]
mod attach;
#[cfg(feature = "libvirt")]
pub mod compute;
#[cfg(feature = "libvirt")]
mod console;
mod disk;
pub mod domain;
pub mod img;
mod pool;

use std::path::PathBuf;
use std::sync::Arc;

use nubes_core::uri::ProviderUri;
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
    /// libvirt's URI (`qemu:///system`, `test:///default`): VMs, besides disks.
    pub libvirt: Option<String>,
    /// ISOs, kernels and initrds VMs may name (default: `boot` beside the pool).
    pub boot: Option<PathBuf>,
    /// Console logs (default: `state` beside the pool).
    pub state: Option<PathBuf>,
    pub machine: Option<String>,
    pub emulator: Option<PathBuf>,
    /// Host bridges VMs may join (`bridge:NAME`); none unless the operator lists them, since a
    /// bridge puts a VM on whatever network the host has there.
    pub bridges: Vec<String>,
}

/// Reads `qemu://?pool=DIR&libvirt=URI&boot=DIR&state=DIR&machine=TYPE&emulator=PATH&bridges=BR,BR`;
/// every setting is optional.
pub fn parse_uri(uri: &str) -> Result<Target> {
    uri.strip_prefix("qemu://").ok_or_else(|| {
        Error::invalid_input(format!("a QEMU URI starts with qemu://, got `{uri}`"))
    })?;
    let u = ProviderUri::parse(
        uri,
        "qemu://",
        &[
            "pool", "libvirt", "boot", "state", "machine", "emulator", "bridges",
        ],
    )?;
    if !u.target.is_empty() {
        return Err(Error::invalid_input(format!(
            "qemu:// takes its settings as query parameters (qemu://?pool=/dir), not `{}`",
            u.target
        )));
    }
    let path = |key: &str| u.option(key).map(PathBuf::from);
    let text = |key: &str| u.option(key).map(str::to_string);
    let target = Target {
        pool: path("pool").unwrap_or_else(default_pool),
        libvirt: text("libvirt"),
        boot: path("boot"),
        state: path("state"),
        machine: text("machine"),
        emulator: path("emulator"),
        bridges: u
            .option("bridges")
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    };
    Ok(target)
}

/// Disks in the pool; with `libvirt=`, VMs too, whose boot disks live in the same pool.
pub async fn connect(uri: &str) -> Result<Cloud> {
    let target = parse_uri(uri)?;
    let beside = |dir: &str| {
        target
            .pool
            .parent()
            .map_or_else(|| PathBuf::from(dir), |p| p.join(dir))
    };
    let (boot, state) = (
        target.boot.clone().unwrap_or_else(|| beside("boot")),
        target.state.clone().unwrap_or_else(|| beside("state")),
    );
    let pool = Arc::new(Pool::open(target.pool.clone()).await?);
    let disk = QemuDisk::new(pool);
    let Some(libvirt) = target.libvirt else {
        return Ok(Cloud::new(SCHEME).with_disk(Arc::new(disk)));
    };
    #[cfg(feature = "libvirt")]
    {
        let settings = compute::Settings {
            accel: accel::detect(),
            machine: target.machine.unwrap_or_else(|| "pc".into()),
            emulator: target.emulator,
            boot_dir: boot,
            state_dir: state,
            bridges: target.bridges,
        };
        let compute = tokio::task::spawn_blocking(move || {
            compute::QemuCompute::open(&libvirt, disk, settings)
        })
        .await
        .map_err(|e| Error::unexpected(format!("connecting to libvirt failed: {e}")))??;
        Ok(Cloud::new(SCHEME)
            .with_disk(Arc::new(compute.disk()))
            .with_compute(Arc::new(compute)))
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = (libvirt, boot, state);
        Err(Error::unsupported(
            "this build has no libvirt: VMs need nubes-qemu's `libvirt` feature",
        ))
    }
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
        assert!(
            parse_uri("qemu://").unwrap().bridges.is_empty(),
            "no bridge unless allowed"
        );
        assert_eq!(
            parse_uri("qemu://?bridges=br0,lab").unwrap().bridges,
            ["br0", "lab"]
        );
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
