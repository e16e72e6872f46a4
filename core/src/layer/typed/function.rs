use async_trait::async_trait;
use bytes::Bytes;

use crate::function::*;
use crate::{FunctionCapability, Result};

/// A layer around a [`Function`]: each method forwards to [`FunctionLayer::inner`] unless the
/// layer overrides it.
#[async_trait]
pub trait FunctionLayer: std::fmt::Debug + Send + Sync + 'static {
    fn inner(&self) -> &dyn Function;

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        self.inner().deploy(spec).await
    }
    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        self.inner().get(name).await
    }
    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        self.inner().list().await
    }
    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        self.inner().invoke(name, payload).await
    }
    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        self.inner().invoke_async(name, payload).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        self.inner().delete(name).await
    }
}

#[async_trait]
impl<L: FunctionLayer> Function for L {
    fn provider(&self) -> &str {
        self.inner().provider()
    }
    fn capability(&self) -> FunctionCapability {
        self.inner().capability()
    }
    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        FunctionLayer::deploy(self, spec).await
    }
    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        FunctionLayer::get(self, name).await
    }
    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        FunctionLayer::list(self).await
    }
    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        FunctionLayer::invoke(self, name, payload).await
    }
    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        FunctionLayer::invoke_async(self, name, payload).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        FunctionLayer::delete(self, name).await
    }
}
