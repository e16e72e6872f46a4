//! Cross-cutting behaviour that wraps a trait object: retry, timeout, capability and input checks.
//!
//! A [`Layer`] sees every call as an [`Operation`] plus a closure that starts the call; the
//! [`Layered`] wrapper implements all four traits on top of any layer, so a new layer is one
//! small type, not four trait impls. A layer that needs the calls' own arguments and answers is
//! a typed layer instead ([`ComputeLayer`], [`DiskLayer`], [`StorageLayer`],
//! [`FunctionLayer`]): it overrides only the calls it changes, as [`Validated`] does.

mod capability;
mod compute;
mod disk;
mod function;
mod retry;
mod storage;
mod timeout;
mod typed;
mod validate;

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

pub use capability::CapabilityLayer;
pub use retry::RetryLayer;
pub use timeout::TimeoutLayer;
pub use typed::{ComputeLayer, DiskLayer, FunctionLayer, StorageLayer};
pub use validate::Validated;

use crate::{Operation, Result};

/// Behaviour around every call of a trait object.
pub trait Layer: std::fmt::Debug + Send + Sync + 'static {
    /// Runs the call that `start` begins. A layer may call `start` more than once (retry) or not
    /// at all (a failed check).
    fn call<'a, T, F, Fut>(&'a self, op: Operation, start: F) -> BoxFuture<'a, Result<T>>
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a;
}

/// A trait object wrapped in a layer; implements the same trait as `S`.
#[derive(Debug)]
pub struct Layered<L, S: ?Sized> {
    inner: Arc<S>,
    layer: L,
}

impl<L: Layer, S: ?Sized> Layered<L, S> {
    pub fn new(inner: Arc<S>, layer: L) -> Self {
        Self { inner, layer }
    }

    /// Runs one call through the layer and names the operation on any error.
    async fn run<'a, T, F, Fut>(&'a self, op: Operation, start: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        self.layer
            .call(op, start)
            .await
            .map_err(|e| e.with_operation(op))
    }
}
