//! Functions on Docker Engine. A deployed function is a created, never-started container that
//! holds its definition (image, handler, env, limits, labels), so the engine itself is the
//! registry and nothing is lost when the SDK process restarts. Each invocation runs in a fresh
//! container built from that definition, with the payload on stdin, and is removed afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, ListContainersOptions, WaitContainerOptions,
};
use bytes::Bytes;
use futures::StreamExt;
use nubes_core::function::*;
use nubes_core::{Error, ErrorKind, FunctionCapability, Result};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::client::Engine;
use crate::{convert, error, exec, labels, SCHEME};

/// How many asynchronous invocations one handle runs at once.
pub const ASYNC_MAX: usize = 32;

#[derive(Debug, Clone)]
pub struct DockerFunction {
    engine: Arc<Engine>,
    in_flight: Arc<Semaphore>,
}

impl DockerFunction {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            in_flight: Arc::new(Semaphore::new(ASYNC_MAX)),
        }
    }

    async fn definition(&self, name: &str) -> Result<ContainerInspectResponse> {
        let missing =
            || Error::not_found(format!("function {name} not found")).with_provider(SCHEME);
        if nubes_core::validate::name("function", name).is_err() {
            return Err(missing());
        }
        self.engine
            .inspect_managed(&labels::function_container(name), labels::KIND_FUNCTION)
            .await?
            .ok_or_else(missing)
    }

    async fn remove(&self, id: &str) {
        if let Err(e) = self.engine.remove(id, true).await {
            if error::status(&e) != Some(404) {
                tracing::warn!(%id, error = %e, "could not remove an invocation container");
            }
        }
    }

    /// The container one invocation of `name` runs in, created from its definition, and the
    /// function's timeout.
    async fn prepare(&self, name: &str) -> Result<(String, Option<Duration>)> {
        let def = self.definition(name).await?;
        let config = def.config.clone().unwrap_or_default();
        let host = def.host_config.clone().unwrap_or_default();
        let timeout = info(&def).timeout;
        let body = ContainerCreateBody {
            image: config.image,
            cmd: config.cmd,
            env: config.env,
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), "true".to_string()),
                (
                    labels::KIND.to_string(),
                    labels::KIND_INVOCATION.to_string(),
                ),
                (labels::FUNCTION_NAME.to_string(), name.to_string()),
            ])),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(true),
            stdin_once: Some(true),
            host_config: Some(convert::host_config(
                host.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
                host.memory.filter(|m| *m > 0).map(|m| m as u64),
                None,
            )),
            ..Default::default()
        };
        let created = self
            .engine
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(error::map)?;
        Ok((created.id, timeout))
    }

    /// Runs a prepared invocation within the function's timeout and removes its container.
    async fn complete(
        &self,
        name: &str,
        id: &str,
        timeout: Option<Duration>,
        payload: Bytes,
    ) -> Result<InvokeResponse> {
        let started = Instant::now();
        let outcome = match timeout {
            None => self.run(id, payload).await,
            Some(limit) => match tokio::time::timeout(limit, self.run(id, payload)).await {
                Ok(r) => r,
                Err(_) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!("function {name} did not finish within {limit:?}"),
                )
                .with_provider(SCHEME)),
            },
        };
        self.remove(id).await;
        let (code, stdout, stderr) = outcome?;
        let error = (code != 0).then(|| FunctionError {
            exit_code: Some(code),
            message: String::from_utf8_lossy(&stderr).trim_end().to_string(),
        });
        Ok(InvokeResponse::new(
            stdout,
            error,
            stderr,
            started.elapsed(),
        ))
    }

    /// Attaches, starts, feeds the payload, collects the output and the exit code.
    async fn run(&self, id: &str, payload: Bytes) -> Result<(i64, Bytes, Bytes)> {
        let docker = &self.engine.docker;
        let attach = AttachContainerOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let attached = docker
            .attach_container(id, Some(attach))
            .await
            .map_err(error::map)?;
        let mut input = attached.input;
        docker.start_container(id, None).await.map_err(|e| {
            let message = e.to_string();
            error::start_failure(&message).unwrap_or_else(|| error::map(e))
        })?;
        let writer = async {
            input.write_all(&payload).await?;
            input.shutdown().await
        };
        let (written, drained) = tokio::join!(writer, exec::drain(attached.output));
        let (stdout, stderr) = drained?;
        if let Err(e) = written {
            // A handler may exit without reading all of its stdin; that is its business.
            tracing::debug!(error = %e, "invocation closed stdin early");
        }
        let wait = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let code = match docker.wait_container(id, Some(wait)).next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(error::map(e)),
            None => {
                return Err(Error::unexpected("the engine never reported the exit code")
                    .with_provider(SCHEME))
            }
        };
        Ok((code, stdout, stderr))
    }
}

fn info(c: &ContainerInspectResponse) -> FunctionInfo {
    let config = c.config.clone().unwrap_or_default();
    let labels = config.labels.unwrap_or_default();
    let host = c.host_config.clone().unwrap_or_default();
    let mut spec = FunctionSpec::new(
        labels
            .get(labels::FUNCTION_NAME)
            .cloned()
            .unwrap_or_default(),
        config.image.unwrap_or_default(),
        config.cmd.unwrap_or_default(),
    );
    spec.cpus = host.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9);
    spec.memory = host.memory.filter(|m| *m > 0).map(|m| m as u64);
    spec.timeout = labels
        .get(labels::FUNCTION_TIMEOUT_MS)
        .and_then(|t| t.parse().ok())
        .map(Duration::from_millis);
    let mut info = FunctionInfo::from_spec(&spec, SCHEME);
    info.created_at = c.created;
    info
}

#[async_trait]
impl Function for DockerFunction {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> FunctionCapability {
        let mut cap = FunctionCapability::default();
        cap.timeout = true;
        cap.limits = true;
        cap.invoke_async = true;
        cap
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<FunctionInfo> {
        let mut all_labels = HashMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::KIND.to_string(), labels::KIND_FUNCTION.to_string()),
            (labels::FUNCTION_NAME.to_string(), spec.name.clone()),
        ]);
        if let Some(t) = spec.timeout {
            all_labels.insert(
                labels::FUNCTION_TIMEOUT_MS.into(),
                t.as_millis().to_string(),
            );
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.handler.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(all_labels),
            host_config: Some(convert::host_config(spec.cpus, spec.memory, None)),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(labels::function_container(&spec.name)),
            ..Default::default()
        };
        match self
            .engine
            .docker
            .create_container(Some(options), body)
            .await
        {
            Ok(_) => self.get(&spec.name).await,
            Err(e) => Err(error::create(e, "function", &spec.name, &spec.image)),
        }
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        Ok(info(&self.definition(name).await?))
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        let query = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![
                    format!("{}=true", labels::MANAGED),
                    format!("{}={}", labels::KIND, labels::KIND_FUNCTION),
                ],
            )])),
            ..Default::default()
        };
        let summaries = self
            .engine
            .docker
            .list_containers(Some(query))
            .await
            .map_err(error::map)?;
        let mut out: Vec<FunctionInfo> = summaries
            .iter()
            .filter_map(|s| {
                let labels = s.labels.as_ref()?;
                let name = labels.get(labels::FUNCTION_NAME)?;
                let mut spec = FunctionSpec::new(
                    name.clone(),
                    s.image.clone().unwrap_or_default(),
                    Vec::<String>::new(),
                );
                spec.timeout = labels
                    .get(labels::FUNCTION_TIMEOUT_MS)
                    .and_then(|t| t.parse().ok())
                    .map(Duration::from_millis);
                Some(FunctionInfo::from_spec(&spec, SCHEME))
            })
            .collect();
        // The summary lacks the handler and limits; fill them from the definitions.
        for f in &mut out {
            if let Ok(full) = self.definition(&f.name).await {
                *f = info(&full);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        let (id, timeout) = self.prepare(name).await?;
        self.complete(name, &id, timeout, payload).await
    }

    /// Makes the invocation's container now (so a missing function or image fails here), runs
    /// it in the background, and answers with the container's id. At most [`ASYNC_MAX`] run at
    /// once per handle; past that the call is `RateLimited`.
    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        let permit = self.in_flight.clone().try_acquire_owned().map_err(|_| {
            Error::new(
                ErrorKind::RateLimited,
                format!("{ASYNC_MAX} asynchronous invocations are running; try again later"),
            )
            .set_temporary()
            .with_provider(SCHEME)
        })?;
        let (id, timeout) = self.prepare(name).await?;
        let (this, name, invocation) = (self.clone(), name.to_string(), id.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match this.complete(&name, &invocation, timeout, payload).await {
                Ok(out) => tracing::info!(
                    function = %name,
                    %invocation,
                    failed = out.error.is_some(),
                    ms = out.duration.as_millis() as u64,
                    "asynchronous invocation finished"
                ),
                Err(e) => tracing::warn!(
                    function = %name,
                    %invocation,
                    error = %e,
                    "asynchronous invocation failed"
                ),
            }
        });
        Ok(AsyncInvocation::new(id))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let def = self.definition(name).await?;
        self.remove(def.id.as_deref().unwrap_or_default()).await;
        Ok(())
    }
}
