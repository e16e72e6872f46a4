//! EBS volumes as Disk. A volume is known by its `Name` tag, and only volumes that carry the
//! Nubes ownership tag are seen: get, list, rename and delete never touch what Nubes did not
//! make. Volumes are raw block devices sized in whole GiB; they grow, never shrink.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, Volume, VolumeState};
use aws_sdk_ec2::Client;
use chrono::DateTime;
use nubes_core::disk::*;
use nubes_core::{DiskCapability, Error, ErrorKind, Result};

use crate::error::map;
use crate::{OWNER_TAG, SCHEME};

const NAME_TAG: &str = "Name";
const GIB: u64 = 1 << 30;

/// Disks on EBS, in one availability zone.
#[derive(Debug, Clone)]
pub struct EbsDisk {
    client: Client,
    zone: String,
}

fn tag<'a>(v: &'a Volume, key: &str) -> Option<&'a str> {
    v.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn image(v: &Volume) -> DiskImage {
    let size = v.size().map_or(0, |s| s as u64 * GIB);
    let mut image = DiskImage::new(tag(v, NAME_TAG).unwrap_or_default(), DiskFormat::Raw, size);
    image.created_at = v
        .create_time()
        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
    image
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn whole_gib(bytes: u64) -> Result<i32> {
    if !bytes.is_multiple_of(GIB) {
        return Err(Error::invalid_input(format!(
            "EBS volumes are sized in whole GiB; {bytes} bytes is not"
        )));
    }
    i32::try_from(bytes / GIB)
        .map_err(|_| Error::invalid_input(format!("{bytes} bytes is larger than EBS allows")))
}

fn missing(name: &str) -> Error {
    Error::not_found(format!("disk {name} not found")).with_provider(SCHEME)
}

impl EbsDisk {
    pub fn new(client: Client, zone: impl Into<String>) -> Self {
        Self {
            client,
            zone: zone.into(),
        }
    }

    /// Nubes' volumes that are not on their way out, by name if given.
    async fn volumes(&self, name: Option<&str>) -> Result<Vec<Volume>> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let mut req = self
                .client
                .describe_volumes()
                .filters(filter(&format!("tag:{OWNER_TAG}"), "true"))
                .filters(
                    Filter::builder()
                        .name("status")
                        .values("creating")
                        .values("available")
                        .values("in-use")
                        .values("error")
                        .build(),
                )
                .set_next_token(token);
            if let Some(n) = name {
                req = req.filters(filter(&format!("tag:{NAME_TAG}"), n));
            }
            let page = req.send().await.map_err(|e| map(e, "listing volumes"))?;
            all.extend(page.volumes().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    async fn find(&self, name: &str) -> Result<Volume> {
        self.volumes(Some(name))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| missing(name))
    }

    async fn exists(&self, name: &str) -> Result<bool> {
        Ok(!self.volumes(Some(name)).await?.is_empty())
    }

    /// The volume once it has left `creating` (at once on moto; seconds on AWS), with backoff.
    async fn settled(&self, id: &str) -> Result<Volume> {
        let mut wait = Duration::from_millis(200);
        for _ in 0..40 {
            let out = self
                .client
                .describe_volumes()
                .volume_ids(id)
                .send()
                .await
                .map_err(|e| map(e, &format!("volume {id}")))?;
            if let Some(v) = out.volumes().first() {
                if v.state() != Some(&VolumeState::Creating) {
                    return Ok(v.clone());
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        Err(Error::new(
            ErrorKind::Timeout,
            format!("volume {id} is still being made"),
        )
        .with_provider(SCHEME))
    }
}

#[async_trait]
impl Disk for EbsDisk {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> DiskCapability {
        let mut cap = DiskCapability::default();
        cap.resize = true;
        cap.rename = true;
        cap.formats = vec![DiskFormat::Raw];
        cap
    }

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        if spec.format != DiskFormat::Raw {
            return Err(Error::invalid_input(format!(
                "EBS volumes are raw block devices, not {}",
                spec.format
            )));
        }
        let size = whole_gib(spec.size)?;
        if self.exists(&spec.name).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("disk {} already exists", spec.name),
            )
            .with_provider(SCHEME));
        }
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Volume)
            .tags(Tag::builder().key(NAME_TAG).value(&spec.name).build())
            .tags(Tag::builder().key(OWNER_TAG).value("true").build())
            .build();
        let made = self
            .client
            .create_volume()
            .availability_zone(&self.zone)
            .size(size)
            .tag_specifications(tags)
            .send()
            .await
            .map_err(|e| map(e, &format!("disk {}", spec.name)))?;
        let id = made
            .volume_id()
            .ok_or_else(|| Error::unexpected("EC2 made a volume without an id"))?;
        Ok(image(&self.settled(id).await?))
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        Ok(image(&self.find(name).await?))
    }

    async fn list(&self) -> Result<Vec<DiskImage>> {
        let mut all: Vec<DiskImage> = self.volumes(None).await?.iter().map(image).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        let v = self.find(name).await?;
        let current = image(&v).virtual_size;
        request.validate(current)?;
        if request.size < current {
            return Err(
                Error::unsupported("EBS volumes grow; they never shrink").with_provider(SCHEME)
            );
        }
        let size = whole_gib(request.size)?;
        let id = v.volume_id().unwrap_or_default();
        if request.size > current {
            self.client
                .modify_volume()
                .volume_id(id)
                .size(size)
                .send()
                .await
                .map_err(|e| map(e, &format!("disk {name}")))?;
        }
        Ok(image(&self.settled(id).await?))
    }

    async fn convert(&self, name: &str, _: DiskFormat, _: &str) -> Result<DiskImage> {
        Err(
            Error::unsupported(format!("EBS volumes are not converted (disk {name})"))
                .with_provider(SCHEME),
        )
    }

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        let v = self.find(name).await?;
        if self.exists(new_name).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("disk {new_name} already exists"),
            )
            .with_provider(SCHEME));
        }
        let id = v.volume_id().unwrap_or_default();
        self.client
            .create_tags()
            .resources(id)
            .tags(Tag::builder().key(NAME_TAG).value(new_name).build())
            .send()
            .await
            .map_err(|e| map(e, &format!("disk {name}")))?;
        self.get(new_name).await
    }

    /// Refused while the volume is attached (`Conflict`): detach it first.
    async fn delete(&self, name: &str) -> Result<()> {
        let v = self.find(name).await?;
        if v.state() == Some(&VolumeState::InUse) {
            return Err(Error::conflict(format!(
                "disk {name} is attached to an instance: detach it first"
            ))
            .with_provider(SCHEME));
        }
        self.client
            .delete_volume()
            .volume_id(v.volume_id().unwrap_or_default())
            .send()
            .await
            .map_err(|e| map(e, &format!("disk {name}")))?;
        Ok(())
    }
}
