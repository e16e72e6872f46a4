use async_trait::async_trait;

use crate::disk::*;
use crate::{DiskCapability, Result};

/// A layer around a [`Disk`]: each method forwards to [`DiskLayer::inner`] unless the layer
/// overrides it.
#[async_trait]
pub trait DiskLayer: std::fmt::Debug + Send + Sync + 'static {
    fn inner(&self) -> &dyn Disk;

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        self.inner().create(spec).await
    }
    async fn get(&self, name: &str) -> Result<DiskImage> {
        self.inner().get(name).await
    }
    async fn list(&self) -> Result<Vec<DiskImage>> {
        self.inner().list().await
    }
    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        self.inner().resize(name, request).await
    }
    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        self.inner().convert(name, format, target).await
    }
    async fn convert_with_progress(
        &self,
        name: &str,
        format: DiskFormat,
        target: &str,
        progress: Progress,
    ) -> Result<DiskImage> {
        self.inner()
            .convert_with_progress(name, format, target, progress)
            .await
    }
    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        self.inner().rename(name, new_name).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        self.inner().delete(name).await
    }
}

#[async_trait]
impl<L: DiskLayer> Disk for L {
    fn provider(&self) -> &str {
        self.inner().provider()
    }
    fn capability(&self) -> DiskCapability {
        self.inner().capability()
    }
    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        DiskLayer::create(self, spec).await
    }
    async fn get(&self, name: &str) -> Result<DiskImage> {
        DiskLayer::get(self, name).await
    }
    async fn list(&self) -> Result<Vec<DiskImage>> {
        DiskLayer::list(self).await
    }
    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        DiskLayer::resize(self, name, request).await
    }
    async fn convert(&self, name: &str, format: DiskFormat, target: &str) -> Result<DiskImage> {
        DiskLayer::convert(self, name, format, target).await
    }
    async fn convert_with_progress(
        &self,
        name: &str,
        format: DiskFormat,
        target: &str,
        progress: Progress,
    ) -> Result<DiskImage> {
        DiskLayer::convert_with_progress(self, name, format, target, progress).await
    }
    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        DiskLayer::rename(self, name, new_name).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        DiskLayer::delete(self, name).await
    }
}
