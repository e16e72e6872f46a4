//! Disk over qemu-img: images in a pool directory.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use nubes_core::disk::*;
use nubes_core::{DiskCapability, Error, ErrorKind, Result};

use crate::img;
use crate::pool::{Pool, Record};
use crate::SCHEME;

/// Images in a pool directory, made and changed by qemu-img.
#[derive(Debug, Clone)]
pub struct QemuDisk {
    pool: Arc<Pool>,
    in_use: Arc<dyn InUse>,
}

/// Tells whether a VM uses an image file, so it is not deleted or changed under it.
#[async_trait]
pub trait InUse: std::fmt::Debug + Send + Sync + 'static {
    /// The VM that has the file attached and running, if one does.
    async fn user_of(&self, file: &std::path::Path) -> Result<Option<String>>;
}

/// For a pool no VM uses.
#[derive(Debug)]
pub struct Unused;

#[async_trait]
impl InUse for Unused {
    async fn user_of(&self, _: &std::path::Path) -> Result<Option<String>> {
        Ok(None)
    }
}

impl QemuDisk {
    pub fn new(pool: Arc<Pool>) -> Self {
        Self {
            pool,
            in_use: Arc::new(Unused),
        }
    }

    pub fn with_in_use(mut self, in_use: Arc<dyn InUse>) -> Self {
        self.in_use = in_use;
        self
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    async fn image(&self, r: &Record) -> Result<DiskImage> {
        let out = img::run(&img::info_args(&self.pool.file(&r.id, r.format), r.format)).await?;
        let info = img::parse_info(&out)?;
        let mut image = DiskImage::new(r.name.clone(), r.format, info.virtual_size);
        image.actual_size = info.actual_size;
        image.created_at = Some(r.created_at);
        if let Some(base) = &r.backing {
            image.backing = Some(match self.pool.by_id(base).await? {
                Some(b) => b.name,
                None => format!("(missing image {base})"),
            });
        }
        Ok(image)
    }

    async fn refuse_if_used(&self, r: &Record, doing: &str) -> Result<()> {
        let file = self.pool.file(&r.id, r.format);
        if let Some(vm) = self.in_use.user_of(&file).await? {
            return Err(Error::conflict(format!(
                "cannot {doing} disk {}: instance {vm} is running with it attached",
                r.name
            ))
            .with_provider(SCHEME));
        }
        Ok(())
    }

    /// Copies `source` into a new image `target` of `format`, flattening any backing chain.
    async fn copy(
        &self,
        source: &Record,
        format: DiskFormat,
        target: &str,
        progress: &mut (dyn FnMut(f32) + Send),
    ) -> Result<DiskImage> {
        let record = Record {
            id: Pool::new_id(),
            name: target.to_string(),
            format,
            created_at: Utc::now(),
            backing: None,
        };
        let from = self.pool.file(&source.id, source.format);
        let to = self.pool.file(&record.id, format);
        let args = img::convert_args(&from, source.format, &to, format);
        if let Err(e) = img::run_with_progress(&args, progress).await {
            let _ = tokio::fs::remove_file(&to).await;
            return Err(e);
        }
        self.pool.save(&record).await?;
        self.image(&record).await
    }
}

#[async_trait]
impl Disk for QemuDisk {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> DiskCapability {
        let mut cap = DiskCapability::default();
        cap.resize = true;
        cap.shrink = true;
        cap.convert = true;
        cap.rename = true;
        cap.formats = DiskFormat::ALL.to_vec();
        cap
    }

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        let _changing = self.pool.lock().await;
        self.pool.ensure_free(&spec.name).await?;
        let base = match &spec.backing {
            Some(name) => Some(self.pool.find(name).await?),
            None => None,
        };
        let record = Record {
            id: Pool::new_id(),
            name: spec.name.clone(),
            format: spec.format,
            created_at: Utc::now(),
            backing: base.as_ref().map(|b| b.id.clone()),
        };
        let file = self.pool.file(&record.id, record.format);
        let base_file = base
            .as_ref()
            .map(|b| (self.pool.file(&b.id, b.format), b.format));
        let args = img::create_args(
            &file,
            spec.format,
            spec.size,
            base_file.as_ref().map(|(p, f)| (p.as_path(), *f)),
        );
        let made = async {
            img::run(&args).await?;
            self.pool.save(&record).await
        };
        if let Err(e) = made.await {
            let _ = tokio::fs::remove_file(&file).await;
            return Err(e);
        }
        self.image(&record).await
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        let r = self.pool.find(name).await?;
        self.image(&r).await
    }

    async fn list(&self) -> Result<Vec<DiskImage>> {
        let mut out = Vec::new();
        for r in self.pool.records().await? {
            match self.image(&r).await {
                Ok(i) => out.push(i),
                // Deleted while listing.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Grows any format; qcow2 and raw in place, the others through a qcow2 copy (qemu-img
    /// resizes only those two). Shrinks qcow2 and raw only, and only when asked.
    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        let _changing = self.pool.lock().await;
        let r = self.pool.find(name).await?;
        let current = self.image(&r).await?.virtual_size;
        request.validate(current)?;
        self.refuse_if_used(&r, "resize").await?;
        let shrink = request.size < current;
        let file = self.pool.file(&r.id, r.format);
        if img::resizes_in_place(r.format) {
            img::run(&img::resize_args(&file, r.format, request.size, shrink)).await?;
            return self.image(&r).await;
        }
        if shrink {
            return Err(Error::unsupported(format!(
                "{} images cannot shrink; convert to qcow2 or raw first",
                r.format
            ))
            .with_provider(SCHEME));
        }
        let wide = self.pool.scratch(DiskFormat::Qcow2);
        let back = self.pool.scratch(r.format);
        let steps = async {
            img::run(&img::convert_args(
                &file,
                r.format,
                &wide,
                DiskFormat::Qcow2,
            ))
            .await?;
            img::run(&img::resize_args(
                &wide,
                DiskFormat::Qcow2,
                request.size,
                false,
            ))
            .await?;
            img::run(&img::convert_args(
                &wide,
                DiskFormat::Qcow2,
                &back,
                r.format,
            ))
            .await?;
            // The grown copy replaces the image in one step.
            tokio::fs::rename(&back, &file).await.map_err(|e| {
                Error::unexpected(format!("cannot replace the image: {e}")).with_provider(SCHEME)
            })
        };
        let done = steps.await;
        let _ = tokio::fs::remove_file(&wide).await;
        let _ = tokio::fs::remove_file(&back).await;
        done?;
        self.image(&r).await
    }

    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        self.convert_with_progress(name, format, target, Box::new(|_| {}))
            .await
    }

    async fn convert_with_progress(
        &self,
        name: &str,
        format: DiskFormat,
        target: &str,
        mut progress: Progress,
    ) -> Result<DiskImage> {
        // The copy may take long: it holds its target's name, not the pool.
        let (source, _target) = {
            let _changing = self.pool.lock().await;
            let source = self.pool.find(name).await?;
            (source, self.pool.reserve(target).await?)
        };
        self.copy(&source, format, target, &mut progress).await
    }

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        let _changing = self.pool.lock().await;
        let mut r = self.pool.find(name).await?;
        if name != new_name {
            self.pool.ensure_free(new_name).await?;
        }
        r.name = new_name.to_string();
        self.pool.save(&r).await?;
        self.image(&r).await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let _changing = self.pool.lock().await;
        let r = self.pool.find(name).await?;
        if let Some(overlay) = self
            .pool
            .records()
            .await?
            .into_iter()
            .find(|o| o.backing.as_deref() == Some(r.id.as_str()))
        {
            return Err(Error::conflict(format!(
                "disk {name} is the base of disk {}; delete that first",
                overlay.name
            ))
            .with_provider(SCHEME));
        }
        self.refuse_if_used(&r, "delete").await?;
        self.pool.remove(&r).await
    }
}
