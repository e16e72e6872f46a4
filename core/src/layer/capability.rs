use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::Layer;
use crate::{Error, Operation, Result};

/// Fails operations the backend does not support with `Unsupported`, before the backend is
/// touched. [`Cloud`](crate::Cloud) puts one around every trait object it holds.
#[derive(Clone)]
pub struct CapabilityLayer {
    provider: String,
    supports: Arc<dyn Fn(Operation) -> bool + Send + Sync>,
}

impl std::fmt::Debug for CapabilityLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapabilityLayer")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl CapabilityLayer {
    pub fn new(
        provider: impl Into<String>,
        supports: impl Fn(Operation) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            provider: provider.into(),
            supports: Arc::new(supports),
        }
    }
}

impl Layer for CapabilityLayer {
    fn call<'a, T, F, Fut>(&'a self, op: Operation, mut start: F) -> BoxFuture<'a, Result<T>>
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        if (self.supports)(op) {
            Box::pin(start())
        } else {
            let err = Error::unsupported(format!(
                "the {} provider does not support {op}",
                self.provider
            ))
            .with_provider(self.provider.clone());
            Box::pin(async move { Err(err) })
        }
    }
}
