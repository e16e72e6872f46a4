use async_trait::async_trait;

use super::{Layer, Layered};
use crate::disk::*;
use crate::{DiskCapability, Operation, Result};

#[async_trait]
impl<L: Layer> Disk for Layered<L, dyn Disk> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capability(&self) -> DiskCapability {
        self.inner.capability()
    }

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        self.run(Operation::DiskCreate, || self.inner.create(spec.clone()))
            .await
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        self.run(Operation::DiskGet, || self.inner.get(name)).await
    }

    async fn list(&self) -> Result<Vec<DiskImage>> {
        self.run(Operation::DiskList, || self.inner.list()).await
    }

    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        self.run(Operation::DiskResize, || {
            self.inner.resize(name, request.clone())
        })
        .await
    }

    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        self.run(Operation::DiskConvert, || {
            self.inner.convert(name, format, target)
        })
        .await
    }

    async fn convert_with_progress(
        &self,
        name: &str,
        format: DiskFormat,
        target: &str,
        progress: Progress,
    ) -> Result<DiskImage> {
        // Conversions are not retried (they write a new image), so the one callback goes to
        // the first attempt.
        let progress = std::sync::Mutex::new(Some(progress));
        self.run(Operation::DiskConvert, || {
            let p = progress.lock().expect("progress").take();
            let p = p.unwrap_or_else(|| Box::new(|_| {}));
            self.inner.convert_with_progress(name, format, target, p)
        })
        .await
    }

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        self.run(Operation::DiskRename, || self.inner.rename(name, new_name))
            .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.run(Operation::DiskDelete, || self.inner.delete(name))
            .await
    }
}
