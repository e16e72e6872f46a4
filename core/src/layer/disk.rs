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

    async fn rename(&self, name: &str, new_name: &str) -> Result<DiskImage> {
        self.run(Operation::DiskRename, || self.inner.rename(name, new_name))
            .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.run(Operation::DiskDelete, || self.inner.delete(name))
            .await
    }
}
