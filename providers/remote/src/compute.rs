//! Compute over `/v1/instances`.

use async_trait::async_trait;
use futures::StreamExt;
use nubes_api::instances::{
    whole_secs, CreateInstance, DeleteQuery, ExecBody, ExecResult, LogQuery, ResizeBody, StopQuery,
    TenantInstance,
};
use nubes_core::compute::*;
use nubes_core::{collect_exec, ByteStream, ComputeCapability, Error, ErrorKind, Result};
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

    async fn fetch(&self, id: &str) -> Result<Instance> {
        let r: TenantInstance = self
            .client
            .call(Method::GET, &format!("/v1/instances/{id}"), NONE)
            .await?;
        Ok(r.into_instance(SCHEME))
    }

    /// The server's id for `id_or_name`; names are looked up among the caller's instances.
    async fn resolve(&self, id_or_name: &str) -> Result<String> {
        if id_or_name.is_empty() || id_or_name.contains(['/', '?', '#']) {
            return Err(Error::not_found(format!("instance {id_or_name} not found")));
        }
        match self.fetch(id_or_name).await {
            Ok(i) => return Ok(i.id),
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        let named: Vec<Instance> = self
            .list(ListOptions::default())
            .await?
            .into_iter()
            .filter(|i| i.name == id_or_name)
            .collect();
        match named.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(Error::not_found(format!("instance {id_or_name} not found"))),
            many => Err(Error::invalid_input(format!(
                "{} instances are named {id_or_name} (in different organizations): use an id",
                many.len()
            ))),
        }
    }

    async fn post_instance(
        &self,
        id: &str,
        action: &str,
        query: Option<StopQuery>,
    ) -> Result<Instance> {
        let id = self.resolve(id).await?;
        let res = self
            .client
            .send(
                Method::POST,
                &path(&["v1", "instances", &id, action]),
                |r| r.query(&query),
            )
            .await?;
        Ok(read_json::<TenantInstance>(res)
            .await?
            .into_instance(SCHEME))
    }
}

fn stop_query(options: &StopOptions) -> Option<StopQuery> {
    Some(StopQuery {
        timeout_secs: Some(whole_secs(options.timeout)),
    })
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
        spec.validate()?;
        let body =
            CreateInstance::of(&spec, self.client.org()).map_err(|e| e.with_provider(SCHEME))?;
        let r: TenantInstance = self
            .client
            .call(Method::POST, "/v1/instances", Some(&body))
            .await?;
        Ok(r.into_instance(SCHEME))
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        let id = self.resolve(id).await?;
        self.fetch(&id).await
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
        self.post_instance(id, "start", None).await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.post_instance(id, "stop", stop_query(&options)).await
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.post_instance(id, "restart", stop_query(&options))
            .await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let id = self.resolve(id).await?;
        let query = DeleteQuery {
            force: options.force,
            keep_disks: options.keep_disks,
        };
        self.client
            .send(Method::DELETE, &path(&["v1", "instances", &id]), |r| {
                r.query(&query)
            })
            .await
            .map(|_| ())
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        // The socket carries any bytes; the JSON route only text.
        if self.capability.exec_stream {
            let max = request.max_output;
            return collect_exec(self.exec_stream(id, request, None).await?, max).await;
        }
        let body = ExecBody::of(&request)?;
        let id = self.resolve(id).await?;
        let out: ExecResult = self
            .client
            .call(
                Method::POST,
                &format!("/v1/instances/{id}/exec"),
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
        request.validate()?;
        let id = self.resolve(id).await?;
        crate::exec_socket::open(&self.client, &id, request, stdin).await
    }

    /// The server interleaves stdout and stderr; every chunk comes back as stdout.
    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        let id = self.resolve(id).await?;
        let query = LogQuery {
            tail: options.tail,
            follow: options.follow,
        };
        let res = self
            .client
            .send(Method::GET, &format!("/v1/instances/{id}/logs"), |r| {
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

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        let id = self.resolve(id).await?;
        self.client
            .call(Method::GET, &format!("/v1/instances/{id}/stats"), NONE)
            .await
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        request.validate()?;
        let id = self.resolve(id).await?;
        let body = ResizeBody::from(&request);
        let r: TenantInstance = self
            .client
            .call(
                Method::POST,
                &format!("/v1/instances/{id}/resize"),
                Some(&body),
            )
            .await?;
        Ok(r.into_instance(SCHEME))
    }
}
