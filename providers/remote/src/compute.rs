//! Compute over `/v1/instances`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use nubes_core::compute::*;
use nubes_core::{collect_exec, ByteStream, ComputeCapability, Error, ErrorKind, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{cut_off, Client};
use crate::SCHEME;

/// An instance as the server shows it to its tenant.
#[derive(Debug, Deserialize)]
struct Remote {
    id: String,
    name: String,
    state: InstanceState,
    exit_code: Option<i64>,
    image: String,
    cpus: Option<f64>,
    memory: Option<u64>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    created_at: i64,
}

impl From<Remote> for Instance {
    fn from(r: Remote) -> Self {
        let mut i = Instance::new(r.id, r.name, SCHEME);
        i.state = r.state;
        i.exit_code = r.exit_code;
        i.image = r.image;
        i.cpus = r.cpus;
        i.memory = r.memory;
        i.labels = r.labels;
        i.created_at = DateTime::<Utc>::from_timestamp(r.created_at, 0);
        i
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    name: &'a str,
    image: &'a str,
    cpus: Option<f64>,
    memory: Option<u64>,
    env: &'a BTreeMap<String, String>,
    labels: &'a BTreeMap<String, String>,
    command: &'a Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disk: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vm: Option<&'a nubes_core::VmSpec>,
}

#[derive(Serialize)]
struct ExecBody<'a> {
    command: &'a [String],
    env: &'a BTreeMap<String, String>,
    workdir: &'a Option<String>,
    stdin: Option<&'a str>,
    timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output: Option<u64>,
}

#[derive(Deserialize)]
struct ExecAnswer {
    exit_code: i64,
    stdout: String,
    stderr: String,
    #[serde(default)]
    truncated: bool,
}

const NONE: Option<&()> = None;

/// Instances on a Nubes server, as the token's user.
#[derive(Debug, Clone)]
pub struct RemoteCompute {
    client: Client,
    capability: ComputeCapability,
}

#[derive(Serialize)]
struct ResizeBody {
    cpus: Option<f64>,
    memory: Option<u64>,
}

impl RemoteCompute {
    /// `capability` is what the server says its API offers of its compute.
    pub fn new(client: Client, capability: ComputeCapability) -> Self {
        Self { client, capability }
    }

    async fn fetch(&self, id: &str) -> Result<Instance> {
        let r: Remote = self
            .client
            .call(Method::GET, &format!("/v1/instances/{id}"), NONE)
            .await?;
        Ok(r.into())
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

    async fn post_instance(&self, id: &str, action: &str, query: &str) -> Result<Instance> {
        let id = self.resolve(id).await?;
        let r: Remote = self
            .client
            .call(
                Method::POST,
                &format!("/v1/instances/{id}/{action}{query}"),
                NONE,
            )
            .await?;
        Ok(r.into())
    }
}

fn timeout_query(options: &StopOptions) -> String {
    format!(
        "?timeout_secs={}",
        options.timeout.as_secs_f64().ceil() as u64
    )
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
        if spec.pids.is_some() || !spec.ports.is_empty() {
            return Err(
                Error::unsupported("the server API takes no pids or port settings yet")
                    .with_provider(SCHEME),
            );
        }
        let body = CreateBody {
            name: &spec.name,
            image: &spec.image,
            cpus: spec.cpus,
            memory: spec.memory,
            env: &spec.env,
            labels: &spec.labels,
            command: &spec.command,
            priority: spec.priority,
            cluster_id: spec.cluster.as_deref(),
            disk: spec.disk,
            vm: spec.vm.as_ref(),
        };
        let r: Remote = self
            .client
            .call(Method::POST, "/v1/instances", Some(&body))
            .await?;
        Ok(r.into())
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        let id = self.resolve(id).await?;
        self.fetch(&id).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let all: Vec<Remote> = self.client.call(Method::GET, "/v1/instances", NONE).await?;
        Ok(all
            .into_iter()
            .map(Instance::from)
            .filter(|i| options.matches(i))
            .collect())
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        self.post_instance(id, "start", "").await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.post_instance(id, "stop", &timeout_query(&options))
            .await
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.post_instance(id, "restart", &timeout_query(&options))
            .await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let id = self.resolve(id).await?;
        self.client
            .raw(
                Method::DELETE,
                &format!(
                    "/v1/instances/{id}?force={}&keep_disks={}",
                    options.force, options.keep_disks
                ),
                NONE,
            )
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
        let stdin = match &request.stdin {
            Some(b) => Some(
                std::str::from_utf8(b)
                    .map_err(|_| Error::unsupported("the server API takes text on stdin only"))?,
            ),
            None => None,
        };
        let id = self.resolve(id).await?;
        let body = ExecBody {
            command: &request.command,
            env: &request.env,
            workdir: &request.workdir,
            stdin,
            timeout_secs: request.timeout.map(|t| t.as_secs_f64().ceil() as u64),
            max_output: request.max_output,
        };
        let out: ExecAnswer = self
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
        let mut query = vec![("follow", options.follow.to_string())];
        if let Some(t) = options.tail {
            query.push(("tail", t.to_string()));
        }
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
        let body = ResizeBody {
            cpus: request.cpus,
            memory: request.memory,
        };
        let r: Remote = self
            .client
            .call(
                Method::POST,
                &format!("/v1/instances/{id}/resize"),
                Some(&body),
            )
            .await?;
        Ok(r.into())
    }
}
