use async_trait::async_trait;
use bytes::Bytes;

use super::{Layer, Layered};
use crate::function::*;
use crate::{FunctionCapability, Operation, Result};

#[async_trait]
impl<L: Layer> Function for Layered<L, dyn Function> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capability(&self) -> FunctionCapability {
        self.inner.capability()
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        self.run(Operation::FunctionDeploy, || {
            self.inner.deploy(spec.clone())
        })
        .await
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        self.run(Operation::FunctionGet, || self.inner.get(name))
            .await
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        self.run(Operation::FunctionList, || self.inner.list())
            .await
    }

    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        self.run(Operation::FunctionInvoke, || {
            self.inner.invoke(name, payload.clone())
        })
        .await
    }

    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        self.run(Operation::FunctionInvokeAsync, || {
            self.inner.invoke_async(name, payload.clone())
        })
        .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.run(Operation::FunctionDelete, || self.inner.delete(name))
            .await
    }
}
