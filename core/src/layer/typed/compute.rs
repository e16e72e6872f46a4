use async_trait::async_trait;

use crate::compute::*;
use crate::{ByteStream, ComputeCapability, Result};

/// A layer around a [`Compute`]: each method forwards to [`ComputeLayer::inner`] unless the
/// layer overrides it.
#[async_trait]
pub trait ComputeLayer: std::fmt::Debug + Send + Sync + 'static {
    fn inner(&self) -> &dyn Compute;

    /// Asked on every call where capabilities change as the backend does (a fleet's agents).
    fn capability(&self) -> ComputeCapability {
        self.inner().capability()
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        self.inner().create(spec).await
    }
    async fn get(&self, id: &str) -> Result<Instance> {
        self.inner().get(id).await
    }
    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        self.inner().list(options).await
    }
    async fn start(&self, id: &str) -> Result<Instance> {
        self.inner().start(id).await
    }
    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.inner().stop(id, options).await
    }
    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.inner().restart(id, options).await
    }
    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        self.inner().delete(id, options).await
    }
    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        self.inner().exec(id, request).await
    }
    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        self.inner().exec_stream(id, request, stdin).await
    }
    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        self.inner().logs(id, options).await
    }
    async fn console(&self, id: &str, kind: ConsoleKind, input: ByteStream) -> Result<ByteStream> {
        self.inner().console(id, kind, input).await
    }
    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        self.inner().stats(id).await
    }
    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        self.inner().resize(id, request).await
    }
    async fn fit(&self, cpus: Option<f64>, memory: Option<u64>) -> Result<Size> {
        self.inner().fit(cpus, memory).await
    }
}

#[async_trait]
impl<L: ComputeLayer> Compute for L {
    fn provider(&self) -> &str {
        self.inner().provider()
    }
    fn capability(&self) -> ComputeCapability {
        ComputeLayer::capability(self)
    }
    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        ComputeLayer::create(self, spec).await
    }
    async fn get(&self, id: &str) -> Result<Instance> {
        ComputeLayer::get(self, id).await
    }
    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        ComputeLayer::list(self, options).await
    }
    async fn start(&self, id: &str) -> Result<Instance> {
        ComputeLayer::start(self, id).await
    }
    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        ComputeLayer::stop(self, id, options).await
    }
    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        ComputeLayer::restart(self, id, options).await
    }
    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        ComputeLayer::delete(self, id, options).await
    }
    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        ComputeLayer::exec(self, id, request).await
    }
    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        ComputeLayer::exec_stream(self, id, request, stdin).await
    }
    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        ComputeLayer::logs(self, id, options).await
    }
    async fn console(&self, id: &str, kind: ConsoleKind, input: ByteStream) -> Result<ByteStream> {
        ComputeLayer::console(self, id, kind, input).await
    }
    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        ComputeLayer::stats(self, id).await
    }
    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        ComputeLayer::resize(self, id, request).await
    }
    async fn fit(&self, cpus: Option<f64>, memory: Option<u64>) -> Result<Size> {
        ComputeLayer::fit(self, cpus, memory).await
    }
}
