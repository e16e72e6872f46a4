//! Disk over `/v1/disks`.

use async_trait::async_trait;
use nubes_api::disks::{ConvertDisk, CreateDisk, RenameDisk, ResizeDisk, TenantDisk};
use nubes_core::disk::*;
use nubes_core::{DiskCapability, Result};
use reqwest::Method;
use serde::Serialize;

use crate::client::{path, Client};
use crate::SCHEME;

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
        let r: TenantDisk = self
            .client
            .call(
                Method::POST,
                &self.client.in_org(path(&["v1", "disks", name, action])),
                Some(body),
            )
            .await?;
        self.image(r).await
    }

    /// The SDK's image, its base named as the tenant names it.
    async fn image(&self, r: TenantDisk) -> Result<DiskImage> {
        let base = r.backing_id.clone();
        let mut image = r.into_image().map_err(|e| e.with_provider(SCHEME))?;
        if let Some(id) = base {
            let b: TenantDisk = self
                .client
                .call(
                    Method::GET,
                    &self.client.in_org(path(&["v1", "disks", &id])),
                    NONE,
                )
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
        let body = CreateDisk::of(&spec, self.client.org());
        let r: TenantDisk = self
            .client
            .call(Method::POST, "/v1/disks", Some(&body))
            .await?;
        self.image(r).await
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        let r: TenantDisk = self
            .client
            .call(
                Method::GET,
                &self.client.in_org(path(&["v1", "disks", name])),
                NONE,
            )
            .await?;
        self.image(r).await
    }

    /// Disks whose image the server lost are left out.
    async fn list(&self) -> Result<Vec<DiskImage>> {
        let all: Vec<TenantDisk> = self.client.call(Method::GET, "/v1/disks", NONE).await?;
        let names: std::collections::HashMap<String, String> =
            all.iter().map(|r| (r.id.clone(), r.name.clone())).collect();
        Ok(all
            .into_iter()
            .filter_map(|r| {
                let base = r.backing_id.as_ref().and_then(|id| names.get(id)).cloned();
                let mut image = r.into_image().ok()?;
                image.backing = base;
                Some(image)
            })
            .collect())
    }

    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        self.post(name, "resize", &ResizeDisk::from(&request)).await
    }

    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        self.post(
            name,
            "convert",
            &ConvertDisk {
                format,
                target: target.to_string(),
            },
        )
        .await
    }

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        self.post(
            name,
            "rename",
            &RenameDisk {
                name: new_name.to_string(),
            },
        )
        .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .raw(
                Method::DELETE,
                &self.client.in_org(path(&["v1", "disks", name])),
                NONE,
            )
            .await?;
        Ok(())
    }
}
