//! Disk over `/v1/disks`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nubes_core::disk::*;
use nubes_core::{validate, DiskCapability, Error, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{path, Client};
use crate::SCHEME;

/// A disk as the server shows it to its tenant; the size is unknown when its backend lost it.
#[derive(Deserialize)]
struct RemoteDiskImage {
    id: String,
    name: String,
    format: Option<DiskFormat>,
    virtual_size: Option<u64>,
    actual_size: Option<u64>,
    #[serde(default)]
    backing_id: Option<String>,
    created_at: i64,
}

impl TryFrom<RemoteDiskImage> for DiskImage {
    type Error = Error;

    fn try_from(r: RemoteDiskImage) -> Result<Self> {
        let (Some(format), Some(size)) = (r.format, r.virtual_size) else {
            return Err(Error::not_found(format!(
                "disk {} is recorded on the server but its image is missing",
                r.name
            ))
            .with_provider(SCHEME));
        };
        let mut d = DiskImage::new(r.name, format, size);
        d.actual_size = r.actual_size;
        d.created_at = DateTime::<Utc>::from_timestamp(r.created_at, 0);
        Ok(d)
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    name: &'a str,
    format: DiskFormat,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    backing: Option<&'a str>,
}

#[derive(Serialize)]
struct ResizeBody {
    size: u64,
    allow_shrink: bool,
}

#[derive(Serialize)]
struct ConvertBody<'a> {
    format: DiskFormat,
    target: &'a str,
}

#[derive(Serialize)]
struct RenameBody<'a> {
    name: &'a str,
}

const NONE: Option<&()> = None;

/// Disk images on a Nubes server, as the token's user.
#[derive(Debug, Clone)]
pub struct RemoteDisk {
    client: Client,
    capability: DiskCapability,
}

impl RemoteDisk {
    /// `capability` is what the server says its disks can do.
    pub fn new(client: Client, capability: DiskCapability) -> Self {
        Self { client, capability }
    }

    async fn post<B: Serialize>(&self, name: &str, action: &str, body: &B) -> Result<DiskImage> {
        validate::name("disk", name)?;
        let r: RemoteDiskImage = self
            .client
            .call(
                Method::POST,
                &path(&["v1", "disks", name, action]),
                Some(body),
            )
            .await?;
        self.image(r).await
    }

    /// The SDK's image, its base named as the tenant names it.
    async fn image(&self, r: RemoteDiskImage) -> Result<DiskImage> {
        let base = r.backing_id.clone();
        let mut image = DiskImage::try_from(r)?;
        if let Some(id) = base {
            let b: RemoteDiskImage = self
                .client
                .call(Method::GET, &path(&["v1", "disks", &id]), NONE)
                .await?;
            image.backing = Some(b.name);
        }
        Ok(image)
    }
}

#[async_trait]
impl Disk for RemoteDisk {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> DiskCapability {
        self.capability.clone()
    }

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        spec.validate()?;
        let body = CreateBody {
            name: &spec.name,
            format: spec.format,
            size: spec.size,
            backing: spec.backing.as_deref(),
        };
        let r: RemoteDiskImage = self
            .client
            .call(Method::POST, "/v1/disks", Some(&body))
            .await?;
        self.image(r).await
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        validate::name("disk", name)?;
        let r: RemoteDiskImage = self
            .client
            .call(Method::GET, &path(&["v1", "disks", name]), NONE)
            .await?;
        self.image(r).await
    }

    /// Disks whose image the server lost are left out.
    async fn list(&self) -> Result<Vec<DiskImage>> {
        let all: Vec<RemoteDiskImage> = self.client.call(Method::GET, "/v1/disks", NONE).await?;
        let names: std::collections::HashMap<String, String> =
            all.iter().map(|r| (r.id.clone(), r.name.clone())).collect();
        Ok(all
            .into_iter()
            .filter_map(|r| {
                let base = r.backing_id.as_ref().and_then(|id| names.get(id)).cloned();
                let mut image = DiskImage::try_from(r).ok()?;
                image.backing = base;
                Some(image)
            })
            .collect())
    }

    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        let body = ResizeBody {
            size: request.size,
            allow_shrink: request.allow_shrink,
        };
        self.post(name, "resize", &body).await
    }

    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        validate::name("disk", target)?;
        self.post(name, "convert", &ConvertBody { format, target })
            .await
    }

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        validate::name("disk", new_name)?;
        self.post(name, "rename", &RenameBody { name: new_name })
            .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        validate::name("disk", name)?;
        self.client
            .raw(Method::DELETE, &path(&["v1", "disks", name]), NONE)
            .await?;
        Ok(())
    }
}
