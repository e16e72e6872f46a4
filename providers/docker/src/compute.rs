//! Compute on Docker Engine: one container per instance.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, RestartContainerOptions,
    StatsOptions, StopContainerOptions,
};
use futures::{StreamExt, TryStreamExt};
use nubes_core::compute::*;
use nubes_core::{ByteStream, ComputeCapability, Error, ErrorKind, Result};

use crate::client::Engine;
use crate::{convert, error, exec, labels, SCHEME};

/// Instances as containers: limited by cgroups, hardened, labelled as Nubes's.
#[derive(Debug, Clone)]
pub struct DockerCompute {
    engine: Arc<Engine>,
}

impl DockerCompute {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// Inspects `id` (an id or a name); anything that is not a Nubes instance is `NotFound`.
    async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.engine
            .inspect_managed(id, labels::KIND_INSTANCE)
            .await?
            .ok_or_else(|| error::not_found("instance", id))
    }

    async fn container_id(&self, id: &str) -> Result<String> {
        Ok(self.inspect(id).await?.id.unwrap_or_else(|| id.to_string()))
    }

    async fn refreshed(&self, id: &str) -> Result<Instance> {
        Ok(convert::instance(&self.inspect(id).await?))
    }
}

fn stop_seconds(options: &StopOptions) -> i32 {
    options.timeout.as_secs_f64().ceil().min(i32::MAX as f64) as i32
}

#[async_trait]
impl Compute for DockerCompute {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        let mut cap = ComputeCapability::containers();
        cap.ports = true;
        cap.disk_limit = self.engine.disk_limit;
        cap
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        spec.refuse_volumes(SCHEME)
            .map_err(|e| e.with_provider(SCHEME))?;
        if spec.vm.is_some() {
            return Err(Error::unsupported(
                "Docker runs containers: VM settings (iso, kernel, network) need a VM provider",
            )
            .with_provider(SCHEME));
        }
        if spec.disk.is_some() && !self.engine.disk_limit {
            return Err(Error::unsupported(
                "this Docker engine's storage driver cannot limit disk size (it needs btrfs, zfs or overlay2 on xfs); leave disk unset",
            )
            .with_provider(SCHEME));
        }
        let docker = &self.engine.docker;
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        // Refused names leave no network behind: an existing instance keeps its own.
        if self
            .engine
            .inspect_managed(&spec.name, labels::KIND_INSTANCE)
            .await?
            .is_some()
        {
            return Err(
                Error::already_exists(format!("instance {} already exists", spec.name))
                    .with_provider(SCHEME),
            );
        }
        let network = self
            .engine
            .make_network(&spec.name, !spec.ports.is_empty())
            .await?;
        let mut body = convert::create_body(&spec);
        if let (Some(net), Some(host)) = (&network, body.host_config.as_mut()) {
            host.network_mode = Some(net.clone());
        }
        let created = match docker.create_container(Some(options), body).await {
            Ok(c) => c,
            Err(e) => {
                if network.is_some() {
                    self.engine.remove_network(&spec.name).await;
                }
                return Err(error::create(e, "instance", &spec.name, &spec.image));
            }
        };
        if let Err(e) = docker.start_container(&created.id, None).await {
            // Leave nothing half-created: the container exists but never ran.
            if let Err(cleanup) = self.engine.remove(&created.id, true).await {
                tracing::warn!(id = %created.id, error = %cleanup, "could not remove a container that failed to start");
            }
            if network.is_some() {
                self.engine.remove_network(&spec.name).await;
            }
            let message = e.to_string();
            return Err(error::start_failure(&message).unwrap_or_else(|| error::map(e)));
        }
        // Read back what the engine made: its timestamps, the host ports it chose.
        self.refreshed(&created.id).await
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.refreshed(id).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let mut label_filters = vec![
            format!("{}=true", labels::MANAGED),
            format!("{}={}", labels::KIND, labels::KIND_INSTANCE),
        ];
        label_filters.extend(options.labels.iter().map(|(k, v)| format!("{k}={v}")));
        let query = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), label_filters)])),
            ..Default::default()
        };
        let summaries = self
            .engine
            .docker
            .list_containers(Some(query))
            .await
            .map_err(error::map)?;
        let mut out = Vec::with_capacity(summaries.len());
        for s in summaries {
            let Some(id) = s.id else { continue };
            let name = s
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/'));
            if let (Some(prefix), Some(name)) = (&options.name_prefix, name) {
                if !name.starts_with(prefix.as_str()) {
                    continue;
                }
            }
            // The summary lacks limits; inspect for the full picture, skipping ones deleted meanwhile.
            match self.refreshed(&id).await {
                Ok(i) if options.matches(&i) => out.push(i),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        let cid = self.container_id(id).await?;
        match self.engine.docker.start_container(&cid, None).await {
            // 304: already running.
            Err(e) if error::status(&e) != Some(304) => {
                let message = e.to_string();
                return Err(error::start_failure(&message).unwrap_or_else(|| error::map(e)));
            }
            _ => {}
        }
        self.refreshed(&cid).await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let cid = self.container_id(id).await?;
        let query = StopContainerOptions {
            t: Some(stop_seconds(&options)),
            ..Default::default()
        };
        match self.engine.docker.stop_container(&cid, Some(query)).await {
            Err(e) if error::status(&e) != Some(304) => return Err(error::map(e)),
            _ => {}
        }
        self.refreshed(&cid).await
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let cid = self.container_id(id).await?;
        let query = RestartContainerOptions {
            t: Some(stop_seconds(&options)),
            ..Default::default()
        };
        self.engine
            .docker
            .restart_container(&cid, Some(query))
            .await
            .map_err(error::map)?;
        self.refreshed(&cid).await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let c = self.inspect(id).await?;
        let cid = c.id.clone().unwrap_or_else(|| id.to_string());
        let name = c
            .name
            .as_deref()
            .unwrap_or(id)
            .trim_start_matches('/')
            .to_string();
        match self.engine.remove(&cid, options.force).await {
            Ok(()) => {
                self.engine.remove_network(&name).await;
                Ok(())
            }
            Err(e) if error::status(&e) == Some(404) => Err(error::not_found("instance", id)),
            Err(e) if error::status(&e) == Some(409) => Err(Error::conflict(format!(
                "instance {id} is running: stop it first or delete with force"
            ))
            .with_provider(SCHEME)),
            Err(e) => Err(error::map(e)),
        }
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        let c = self.inspect(id).await?;
        if c.state.as_ref().and_then(|s| s.running) != Some(true) {
            return Err(
                Error::conflict(format!("instance {id} is not running")).with_provider(SCHEME)
            );
        }
        exec::run(&self.engine.docker, c.id.as_deref().unwrap_or(id), request).await
    }

    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        let c = self.inspect(id).await?;
        if c.state.as_ref().and_then(|s| s.running) != Some(true) {
            return Err(
                Error::conflict(format!("instance {id} is not running")).with_provider(SCHEME)
            );
        }
        let container = c.id.as_deref().unwrap_or(id);
        exec::stream(&self.engine.docker, container, request, stdin).await
    }

    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        let cid = self.container_id(id).await?;
        let query = LogsOptions {
            follow: options.follow,
            stdout: true,
            stderr: true,
            since: options.since.map(|t| t.timestamp() as i32).unwrap_or(0),
            tail: options
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let stream = self
            .engine
            .docker
            .logs(&cid, Some(query))
            .map_err(error::map)
            .try_filter_map(|out| async move {
                Ok(match out {
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => Some(LogChunk {
                        stream: LogStreamKind::Stdout,
                        data: message,
                    }),
                    bollard::container::LogOutput::StdErr { message } => Some(LogChunk {
                        stream: LogStreamKind::Stderr,
                        data: message,
                    }),
                    bollard::container::LogOutput::StdIn { .. } => None,
                })
            });
        Ok(stream.boxed())
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        let cid = self.container_id(id).await?;
        // stream=false makes the engine take two samples a second apart, so the cpu delta is real.
        let query = StatsOptions {
            stream: false,
            one_shot: false,
        };
        let sample = self
            .engine
            .docker
            .stats(&cid, Some(query))
            .next()
            .await
            .ok_or_else(|| {
                Error::unexpected("the engine returned no stats sample").with_provider(SCHEME)
            })?
            .map_err(error::map)?;
        Ok(convert::stats(&sample))
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        let cid = self.container_id(id).await?;
        self.engine
            .docker
            .update_container(&cid, convert::update_body(&request))
            .await
            .map_err(error::map)?;
        self.refreshed(&cid).await
    }
}
