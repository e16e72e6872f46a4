use async_trait::async_trait;

use super::{Layer, Layered};
use crate::compute::*;
use crate::{ComputeCapability, Operation, Result};

#[async_trait]
impl<L: Layer> Compute for Layered<L, dyn Compute> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn capability(&self) -> ComputeCapability {
        self.inner.capability()
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        self.run(Operation::ComputeCreate, || self.inner.create(spec.clone()))
            .await
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.run(Operation::ComputeGet, || self.inner.get(id)).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        self.run(Operation::ComputeList, || self.inner.list(options.clone()))
            .await
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        self.run(Operation::ComputeStart, || self.inner.start(id))
            .await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.run(Operation::ComputeStop, || {
            self.inner.stop(id, options.clone())
        })
        .await
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.run(Operation::ComputeRestart, || {
            self.inner.restart(id, options.clone())
        })
        .await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        self.run(Operation::ComputeDelete, || {
            self.inner.delete(id, options.clone())
        })
        .await
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        self.run(Operation::ComputeExec, || {
            self.inner.exec(id, request.clone())
        })
        .await
    }

    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<crate::ByteStream>,
    ) -> Result<ExecStream> {
        // Exec is never retried, so the one stdin stream goes to the first (only) attempt.
        let stdin = std::sync::Mutex::new(stdin);
        self.run(Operation::ComputeExec, || {
            let stdin = stdin.lock().expect("stdin").take();
            self.inner.exec_stream(id, request.clone(), stdin)
        })
        .await
    }

    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        self.run(Operation::ComputeLogs, || {
            self.inner.logs(id, options.clone())
        })
        .await
    }

    async fn console(
        &self,
        id: &str,
        kind: ConsoleKind,
        input: crate::ByteStream,
    ) -> Result<crate::ByteStream> {
        // Like exec's stdin: a console is never retried, so its input goes to the one attempt.
        let input = std::sync::Mutex::new(Some(input));
        self.run(Operation::ComputeConsole, || {
            let input = input.lock().expect("input").take();
            async move {
                match input {
                    Some(input) => self.inner.console(id, kind, input).await,
                    None => Err(crate::Error::unexpected("a console cannot be retried")),
                }
            }
        })
        .await
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        self.run(Operation::ComputeStats, || self.inner.stats(id))
            .await
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        self.run(Operation::ComputeResize, || {
            self.inner.resize(id, request.clone())
        })
        .await
    }

    async fn fit(&self, cpus: Option<f64>, memory: Option<u64>) -> Result<Size> {
        self.inner.fit(cpus, memory).await
    }
}
