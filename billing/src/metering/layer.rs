use std::sync::Arc;

use async_trait::async_trait;
use nubes_core::compute::*;
use nubes_core::layer::ComputeLayer;
use nubes_core::{Compute, Result};

use super::{size_of, Metering};
use crate::{Resources, Transition};

/// A compute provider with each lifecycle transition recorded for metering.
#[derive(Debug)]
pub struct Metered {
    inner: Arc<dyn Compute>,
    metering: Metering,
}

impl Metered {
    pub fn new(inner: Arc<dyn Compute>, metering: Metering) -> Self {
        Self { inner, metering }
    }

    /// The transition happened; failing to record it must not undo it, so it is logged.
    async fn note(&self, name: &str, transition: Transition, size: Resources) {
        if let Err(e) = self.metering.record(name, transition, size).await {
            tracing::error!(instance = %name, error = %e, "a usage event was not recorded");
        }
    }
}

#[async_trait]
impl ComputeLayer for Metered {
    fn inner(&self) -> &dyn Compute {
        &*self.inner
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        let name = spec.name.clone();
        let i = self.inner.create(spec).await?;
        self.note(&name, Transition::Created, size_of(&i)).await;
        Ok(i)
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        let i = self.inner.start(id).await?;
        self.note(id, Transition::Started, size_of(&i)).await;
        Ok(i)
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let i = self.inner.stop(id, options).await?;
        self.note(id, Transition::Stopped, size_of(&i)).await;
        Ok(i)
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let i = self.inner.restart(id, options).await?;
        // A restart of a stopped instance starts it; of a running one, changes nothing here.
        self.note(id, Transition::Started, size_of(&i)).await;
        Ok(i)
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        self.inner.delete(id, options).await?;
        self.note(id, Transition::Deleted, Resources::default())
            .await;
        Ok(())
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let i = self.inner.resize(id, request).await?;
        self.note(id, Transition::Resized, size_of(&i)).await;
        Ok(i)
    }
}
