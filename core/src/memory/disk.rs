use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use super::SCHEME;
use crate::disk::*;
use crate::{DiskCapability, Error, Result};

/// Image records: formats and sizes, no bytes.
#[derive(Debug, Default)]
pub struct MemoryDisk {
    images: Mutex<BTreeMap<String, DiskImage>>,
}

impl MemoryDisk {
    pub fn new() -> Self {
        Self::default()
    }
}

fn missing(name: &str) -> Error {
    Error::not_found(format!("disk {name} not found"))
}

fn exists(name: &str) -> Error {
    Error::already_exists(format!("a disk named {name} already exists"))
}

#[async_trait]
impl Disk for MemoryDisk {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> DiskCapability {
        DiskCapability {
            resize: true,
            shrink: true,
            convert: true,
            rename: true,
            formats: DiskFormat::ALL.to_vec(),
        }
    }

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        let mut map = self.images.lock().expect("memory disk lock");
        if map.contains_key(&spec.name) {
            return Err(exists(&spec.name));
        }
        if let Some(base) = &spec.backing {
            if !map.contains_key(base) {
                return Err(missing(base));
            }
        }
        let mut image = DiskImage::new(spec.name.clone(), spec.format, spec.size);
        image.actual_size = Some(0);
        image.created_at = Some(Utc::now());
        image.backing = spec.backing;
        map.insert(spec.name, image.clone());
        Ok(image)
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        let map = self.images.lock().expect("memory disk lock");
        map.get(name).cloned().ok_or_else(|| missing(name))
    }

    async fn list(&self) -> Result<Vec<DiskImage>> {
        Ok(self
            .images
            .lock()
            .expect("memory disk lock")
            .values()
            .cloned()
            .collect())
    }

    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        let mut map = self.images.lock().expect("memory disk lock");
        let image = map.get_mut(name).ok_or_else(|| missing(name))?;
        request.validate(image.virtual_size)?;
        image.virtual_size = request.size;
        Ok(image.clone())
    }

    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        let mut map = self.images.lock().expect("memory disk lock");
        let source = map.get(name).ok_or_else(|| missing(name))?;
        if map.contains_key(target) {
            return Err(exists(target));
        }
        let mut image = DiskImage::new(target, format, source.virtual_size);
        image.actual_size = source.actual_size;
        image.created_at = Some(Utc::now());
        map.insert(target.to_string(), image.clone());
        Ok(image)
    }

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        let mut map = self.images.lock().expect("memory disk lock");
        if !map.contains_key(name) {
            return Err(missing(name));
        }
        if map.contains_key(new_name) {
            return Err(exists(new_name));
        }
        let mut image = map.remove(name).expect("checked above");
        image.name = new_name.to_string();
        map.insert(new_name.to_string(), image.clone());
        for overlay in map.values_mut() {
            if overlay.backing.as_deref() == Some(name) {
                overlay.backing = Some(new_name.to_string());
            }
        }
        Ok(image)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let mut map = self.images.lock().expect("memory disk lock");
        if let Some(overlay) = map.values().find(|i| i.backing.as_deref() == Some(name)) {
            return Err(Error::conflict(format!(
                "disk {name} is the base of disk {}; delete that first",
                overlay.name
            )));
        }
        map.remove(name).map(|_| ()).ok_or_else(|| missing(name))
    }
}
