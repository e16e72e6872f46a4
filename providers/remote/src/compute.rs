//! Compute over `/v1/instances`.

use async_trait::async_trait;
use futures::StreamExt;
use nubes_api::instances::{
    whole_secs, CreateInstance, DeleteQuery, ExecBody, ExecResult, LogQuery, ResizeBody, StopQuery,
    TenantInstance,
};
use nubes_core::compute::*;
use nubes_core::{collect_exec, ByteStream, ComputeCapability, Error, Result};
use reqwest::Method;

use crate::client::{cut_off, path, read_json, Client};
use crate::SCHEME;

const NONE: Option<&()> = None;

/// Instances on a Nubes server, as the token's user.
#[derive(Debug, Clone)]
pub struct RemoteCompute {
    client: Client,
    capability: ComputeCapability,
}

impl RemoteCompute {
    /// `capability` is what the server says its API offers of its compute.
    pub fn new(client: Client, capability: ComputeCapability) -> Self {
        Self { client, capability }
    }

    /// The path of instance `id` (its id, or its name: the server looks names up), and of
    /// `action` on it.
    fn at(&self, id: &str, action: Option<&str>) -> Result<String> {
        // The URL would drop "." and ".." and so name another route.
        if matches!(id, "" | "." | "..") {
            return Err(Error::not_found(format!("instance {id} not found")).with_provider(SCHEME));
        }
        let mut segments = vec!["v1", "instances", id];
        segments.extend(action);
        Ok(path(&segments))
    }

    async fn post_instance(&self, id: &str, action: &str, query: StopQuery) -> Result<Instance> {
        let res = self
            .client
            .send(Method::POST, &self.at(id, Some(action))?, |r| {
                r.query(&query)
            })
            .await?;
        Ok(read_json::<TenantInstance>(res)
            .await?
            .into_instance(SCHEME))
    }
}

impl RemoteCompute {
    fn stop_query(&self, options: Option<&StopOptions>) -> StopQuery {
        StopQuery {
            org_id: self.client.org(),
            timeout_secs: options.map(|o| whole_secs(o.timeout)),
        }
    }
}

#[async_trait]
impl Compute for RemoteCompute {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        self.capability.clone()
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        let body =
            CreateInstance::of(&spec, self.client.org()).map_err(|e| e.with_provider(SCHEME))?;
        let r: TenantInstance = self
            .client
            .call(Method::POST, "/v1/instances", Some(&body))
            .await?;
        Ok(r.into_instance(SCHEME))
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        let r: TenantInstance = self
            .client
            .call(Method::GET, &self.client.in_org(self.at(id, None)?), NONE)
            .await?;
        Ok(r.into_instance(SCHEME))
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let all: Vec<TenantInstance> = self.client.call(Method::GET, "/v1/instances", NONE).await?;
        Ok(all
            .into_iter()
            .map(|r| r.into_instance(SCHEME))
            .filter(|i| options.matches(i))
            .collect())
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        self.post_instance(id, "start", self.stop_query(None)).await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.post_instance(id, "stop", self.stop_query(Some(&options)))
            .await
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.post_instance(id, "restart", self.stop_query(Some(&options)))
            .await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let query = DeleteQuery {
            org_id: self.client.org(),
            force: options.force,
            keep_disks: options.keep_disks,
        };
        self.client
            .send(Method::DELETE, &self.at(id, None)?, |r| r.query(&query))
            .await
            .map(|_| ())
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        // The socket carries any bytes; the JSON route only text.
        if self.capability.exec_stream {
            let max = request.max_output;
            return collect_exec(self.exec_stream(id, request, None).await?, max).await;
        }
        let body = ExecBody::of(&request)?;
        let out: ExecResult = self
            .client
            .call(
                Method::POST,
                &self.client.in_org(self.at(id, Some("exec"))?),
                Some(&body),
            )
            .await?;
        let mut output = ExecOutput::new(out.exit_code, out.stdout, out.stderr);
        output.truncated = out.truncated;
        Ok(output)
    }

    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        let at = self.client.in_org(self.at(id, Some("exec"))?);
        crate::exec_socket::open(&self.client, &at, request, stdin).await
    }

    /// The server interleaves stdout and stderr; every chunk comes back as stdout.
    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        let query = LogQuery {
            org_id: self.client.org(),
            tail: options.tail,
            follow: options.follow,
        };
        let res = self
            .client
            .send(Method::GET, &self.at(id, Some("logs"))?, |r| {
                r.query(&query)
            })
            .await?;
        Ok(res
            .bytes_stream()
            .map(|chunk| {
                chunk.map_err(cut_off).map(|data| LogChunk {
                    stream: LogStreamKind::Stdout,
                    data,
                })
            })
            .boxed())
    }

    async fn console(&self, id: &str, kind: ConsoleKind, input: ByteStream) -> Result<ByteStream> {
        let at = self.client.in_org(self.at(id, Some("console"))?);
        let sep = if at.contains('?') { '&' } else { '?' };
        let at = format!("{at}{sep}kind={kind}");
        crate::console_socket::open(&self.client, &at, input).await
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        self.client
            .call(
                Method::GET,
                &self.client.in_org(self.at(id, Some("stats"))?),
                NONE,
            )
            .await
    }

    /// Where the server's instances come in sizes, the size it would give, from its dry run.
    async fn fit(&self, cpus: Option<f64>, memory: Option<u64>) -> Result<Size> {
        if !self.capability.sized {
            return Ok(Size::new(cpus, memory));
        }
        let mut spec = InstanceSpec::new("size-probe", "size-probe");
        spec.cpus = cpus;
        spec.memory = memory;
        let body =
            CreateInstance::of(&spec, self.client.org()).map_err(|e| e.with_provider(SCHEME))?;
        let dry: nubes_api::instances::DryRun = self
            .client
            .call(Method::POST, "/v1/instances/dry-run", Some(&body))
            .await?;
        Ok(Size::new(dry.cpus, dry.memory))
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let body = ResizeBody::from(&request);
        let r: TenantInstance = self
            .client
            .call(
                Method::POST,
                &self.client.in_org(self.at(id, Some("resize"))?),
                Some(&body),
            )
            .await?;
        Ok(r.into_instance(SCHEME))
    }
}
