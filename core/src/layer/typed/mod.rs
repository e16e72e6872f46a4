//! Typed layers, after OpenDAL's `LayeredAccess`: a layer that needs a call's own arguments and
//! answer (metering a create, checking a spec) implements the layer trait of the service it
//! wraps and overrides only the calls it changes; every other call goes to the inner service
//! untouched, and a blanket impl makes the layer the service itself.

mod compute;
mod disk;
mod function;
mod storage;

pub use compute::ComputeLayer;
pub use disk::DiskLayer;
pub use function::FunctionLayer;
pub use storage::StorageLayer;

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::compute::*;
    use crate::memory::MemoryCompute;
    use crate::{Compute, Result};
    use async_trait::async_trait;

    /// Counts creates and nothing else: the rest is forwarded by default.
    #[derive(Debug)]
    struct CountCreates {
        inner: Arc<dyn Compute>,
        creates: AtomicUsize,
    }

    #[async_trait]
    impl ComputeLayer for CountCreates {
        fn inner(&self) -> &dyn Compute {
            &*self.inner
        }

        async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
            self.creates.fetch_add(1, Ordering::SeqCst);
            self.inner.create(spec).await
        }
    }

    #[tokio::test]
    async fn a_layer_overrides_only_what_it_changes() {
        let layer = CountCreates {
            inner: Arc::new(MemoryCompute::new().with_image("img")),
            creates: AtomicUsize::new(0),
        };
        let compute: &dyn Compute = &layer;
        let i = compute.create(InstanceSpec::new("a", "img")).await.unwrap();
        assert_eq!(compute.get("a").await.unwrap().id, i.id);
        compute.stop("a", StopOptions::default()).await.unwrap();
        assert_eq!(compute.provider(), "memory");
        assert_eq!(layer.creates.load(Ordering::SeqCst), 1);
    }
}
