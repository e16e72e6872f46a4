//! Disk: images in qcow2, raw, vhdx, vmdk or vdi.

use std::fmt::Debug;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{validate, DiskCapability, Error, Result};

/// An image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    Qcow2,
    Raw,
    Vhdx,
    Vmdk,
    Vdi,
}

impl DiskFormat {
    pub const ALL: [DiskFormat; 5] = [
        DiskFormat::Qcow2,
        DiskFormat::Raw,
        DiskFormat::Vhdx,
        DiskFormat::Vmdk,
        DiskFormat::Vdi,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Raw => "raw",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vmdk => "vmdk",
            DiskFormat::Vdi => "vdi",
        }
    }
}

impl std::fmt::Display for DiskFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DiskFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DiskFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "unknown disk format `{s}`: expected one of qcow2, raw, vhdx, vmdk, vdi"
                ))
            })
    }
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskSpec {
    pub name: String,
    pub format: DiskFormat,
    /// Virtual size in bytes.
    pub size: u64,
    /// An image of the same provider to start from: the new one is a copy-on-write overlay on
    /// it (qcow2 only), which keeps the base's content and writes only what changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing: Option<String>,
}

impl DiskSpec {
    pub fn new(name: impl Into<String>, format: DiskFormat, size: u64) -> Self {
        Self {
            name: name.into(),
            format,
            size,
            backing: None,
        }
    }

    /// Starts from `base`, as a copy-on-write overlay.
    pub fn backing(mut self, base: impl Into<String>) -> Self {
        self.backing = Some(base.into());
        self
    }

    pub fn validate(&self) -> Result<()> {
        validate::name("disk", &self.name)?;
        if self.size == 0 {
            return Err(Error::invalid_input("disk size must be greater than zero"));
        }
        if self.backing.is_some() && self.format != DiskFormat::Qcow2 {
            return Err(Error::invalid_input(format!(
                "only qcow2 images can start from a backing image, not {}",
                self.format
            )));
        }
        Ok(())
    }
}

/// How far a long operation has come, in percent (0 to 100), as it goes.
pub type Progress = Box<dyn FnMut(f32) + Send>;

/// An image as the backend reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskImage {
    pub name: String,
    pub format: DiskFormat,
    /// Size the guest sees.
    pub virtual_size: u64,
    /// Bytes used on the host, where known.
    pub actual_size: Option<u64>,
    pub created_at: Option<DateTime<Utc>>,
    /// The image this one is an overlay on, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing: Option<String>,
}

impl DiskImage {
    pub fn new(name: impl Into<String>, format: DiskFormat, virtual_size: u64) -> Self {
        Self {
            name: name.into(),
            format,
            virtual_size,
            actual_size: None,
            created_at: None,
            backing: None,
        }
    }
}

/// How to resize.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskResizeRequest {
    pub size: u64,
    /// Shrinking loses data past the new end, so it must be asked for.
    pub allow_shrink: bool,
}

impl DiskResizeRequest {
    pub fn new(size: u64) -> Self {
        Self {
            size,
            allow_shrink: false,
        }
    }

    pub fn allow_shrink(mut self) -> Self {
        self.allow_shrink = true;
        self
    }

    /// Checks the request against the image's current size.
    pub fn validate(&self, current: u64) -> Result<()> {
        if self.size == 0 {
            return Err(Error::invalid_input("disk size must be greater than zero"));
        }
        if self.size < current && !self.allow_shrink {
            return Err(Error::invalid_input(format!(
                "shrinking a disk from {current} to {} bytes loses data; ask for it explicitly",
                self.size
            )));
        }
        Ok(())
    }
}

/// Disk images.
#[async_trait]
pub trait Disk: Debug + Send + Sync + 'static {
    fn provider(&self) -> &str;
    fn capability(&self) -> DiskCapability;

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage>;
    async fn get(&self, name: &str) -> Result<DiskImage>;
    async fn list(&self) -> Result<Vec<DiskImage>>;
    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage>;
    /// Writes a copy of `name` in `format` as `target`; the source stays as it is.
    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage>;
    /// As `convert`, reporting how far it has come. Backends that cannot tell report 100 at
    /// the end.
    async fn convert_with_progress(
        &self,
        name: &str,
        format: DiskFormat,
        target: &str,
        mut progress: Progress,
    ) -> Result<DiskImage> {
        let image = self.convert(name, format, target).await?;
        progress(100.0);
        Ok(image)
    }
    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage>;
    async fn delete(&self, name: &str) -> Result<()>;
}
