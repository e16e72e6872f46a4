//! Disk images.

use nubes_core::{DiskFormat, DiskImage, DiskResizeRequest, DiskSpec, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDisk {
    /// Defaults to the caller's personal organization.
    pub org_id: Option<String>,
    pub name: String,
    pub format: DiskFormat,
    /// Virtual size in bytes.
    pub size: u64,
    /// A disk of the same organization (id or name) to start from: the new one is a qcow2
    /// copy-on-write overlay on it.
    pub backing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResizeDisk {
    /// New virtual size in bytes.
    pub size: u64,
    #[serde(default)]
    pub allow_shrink: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConvertDisk {
    pub format: DiskFormat,
    /// The new disk's name, in the source's organization.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenameDisk {
    pub name: String,
}

/// A disk as its tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantDisk {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub owner_id: String,
    pub format: Option<DiskFormat>,
    pub virtual_size: Option<u64>,
    pub actual_size: Option<u64>,
    /// The id of the disk this one is an overlay on.
    pub backing_id: Option<String>,
    pub created_at: i64,
}

impl TenantDisk {
    /// The SDK's image (its base, an id here, is left for the caller to name). A disk whose
    /// image its backend lost is not found.
    pub fn into_image(self) -> nubes_core::Result<DiskImage> {
        let (Some(format), Some(size)) = (self.format, self.virtual_size) else {
            return Err(Error::not_found(format!(
                "disk {} is recorded on the server but its image is missing",
                self.name
            )));
        };
        let mut d = DiskImage::new(self.name, format, size);
        d.actual_size = self.actual_size;
        d.created_at = chrono::DateTime::from_timestamp(self.created_at, 0);
        Ok(d)
    }
}

impl CreateDisk {
    pub fn of(spec: &DiskSpec, org_id: Option<String>) -> Self {
        Self {
            org_id,
            name: spec.name.clone(),
            format: spec.format,
            size: spec.size,
            backing: spec.backing.clone(),
        }
    }
}

impl From<&DiskResizeRequest> for ResizeDisk {
    fn from(r: &DiskResizeRequest) -> Self {
        Self {
            size: r.size,
            allow_shrink: r.allow_shrink,
        }
    }
}
