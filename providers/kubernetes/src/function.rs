//! Functions as Jobs. deploy records the spec in a Secret; each invocation is a Job that
//! record owns. The Job's container waits for a `go` line on stdin, so the invocation attaches
//! before the handler runs and loses none of its output; then the payload goes in framed (see
//! `script`), the handler's stdout comes back as the result and its stderr as the logs, the Job
//! is watched to completion, its exit code read from the pod, and the Job deleted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{AttachParams, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use nubes_core::{
    AsyncInvocation, Error, ErrorKind, Function, FunctionCapability, FunctionError, FunctionInfo,
    FunctionSpec, InvokeResponse, Result,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::config::{object_name, Cluster};
use crate::error::{again, created, from_kube, from_wait};
use crate::manifest::{self, CONTAINER, KIND_FUNCTION};
use crate::status::{self, Stuck};
use crate::{script, SCHEME};

/// The largest result kept; a handler that writes more fails the invocation.
pub const RESULT_MAX: usize = 6 << 20;
/// How much of the handler's stderr is kept (its end).
pub const LOGS_MAX: usize = 64 << 10;
/// The largest payload taken (it travels through the API server's WebSocket).
pub const PAYLOAD_MAX: usize = 6 << 20;
/// Async invocations running at once per handle; past it, `RateLimited`.
pub const ASYNC_MAX: usize = 32;

/// Functions as Jobs in one namespace.
#[derive(Debug, Clone)]
pub struct JobFunction {
    cluster: Arc<Cluster>,
    running: Arc<Semaphore>,
}

impl JobFunction {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self {
            cluster,
            running: Arc::new(Semaphore::new(ASYNC_MAX)),
        }
    }

    fn records(&self) -> Api<Secret> {
        self.cluster.api()
    }

    fn jobs(&self) -> Api<Job> {
        self.cluster.api()
    }

    fn pods(&self) -> Api<Pod> {
        self.cluster.api()
    }

    fn missing(name: &str) -> Error {
        Error::not_found(format!("function {name} not found")).with_provider(SCHEME)
    }

    async fn record(&self, name: &str) -> Result<(Secret, FunctionSpec)> {
        if object_name("function", name).is_err() {
            return Err(Self::missing(name));
        }
        let cm = self
            .cluster
            .live::<Secret>(&manifest::function_record_name(name))
            .await
            .map_err(|e| from_kube(e, &format!("function {name}")))?
            .ok_or_else(|| Self::missing(name))?;
        let spec = manifest::read_function_record(&cm)
            .filter(|s| s.name == name && manifest::is(&cm.metadata, KIND_FUNCTION))
            .ok_or_else(|| Self::missing(name))?;
        Ok((cm, spec))
    }

    fn info(cm: &Secret, spec: &FunctionSpec) -> FunctionInfo {
        let mut info = FunctionInfo::from_spec(spec, SCHEME);
        info.created_at = cm
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(status::time);
        info
    }

    /// Creates the Job of one invocation and returns its name.
    async fn submit(&self, cm: &Secret, spec: &FunctionSpec, payload: &Bytes) -> Result<String> {
        if payload.len() > PAYLOAD_MAX {
            return Err(Error::invalid_input(format!(
                "a payload of {} bytes is over the {PAYLOAD_MAX} this provider takes",
                payload.len()
            )));
        }
        let stem: String = spec.name.chars().take(40).collect();
        let suffix: String = (0..10).map(|_| fastrand::lowercase()).collect();
        let job = format!("{}-{suffix}", stem.trim_end_matches(['-', '.']));
        let manifest = manifest::invocation_job(&job, spec, &self.cluster.settings, cm)?;
        self.jobs()
            .create(&PostParams::default(), &manifest)
            .await
            .map_err(|e| from_kube(e, &format!("function {}", spec.name)))?;
        Ok(job)
    }

    /// Runs a submitted invocation to its end, then deletes its Job, whatever happened.
    async fn run(&self, job: &str, spec: &FunctionSpec, payload: Bytes) -> Result<InvokeResponse> {
        let result = self.attend(job, spec, payload).await;
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::background()
        };
        if let Err(e) = self.jobs().delete(job, &params).await {
            tracing::warn!(%job, error = %e, "could not delete an invocation's Job");
        }
        result
    }

    async fn attend(
        &self,
        job: &str,
        spec: &FunctionSpec,
        payload: Bytes,
    ) -> Result<InvokeResponse> {
        let pod = self.started_pod(job).await?;
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let started = Instant::now();
        let timeout = spec.timeout.unwrap_or(manifest::DEFAULT_FUNCTION_TIMEOUT);
        let (stdout, stderr) = if status::finished(&pod) {
            (Vec::new(), Vec::new())
        } else {
            match tokio::time::timeout(timeout, self.converse(&pod_name, &payload)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("function {} ran past its {timeout:?} timeout", spec.name),
                    )
                    .with_provider(SCHEME))
                }
            }
        };
        // The Job's own verdict, by watch; then the handler's exit code from its pod.
        let done = |j: Option<&Job>| {
            j.and_then(|j| j.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                    })
                })
        };
        tokio::time::timeout(
            Duration::from_secs(60),
            await_condition(self.jobs(), job, done),
        )
        .await
        .map_err(|_| Error::new(ErrorKind::Timeout, format!("the Job {job} did not finish")))?
        .map_err(|e| from_wait(e, job))?;
        let ended = await_condition(self.pods(), &pod_name, |p: Option<&Pod>| {
            p.is_none_or(|p| status::exit_code(p).is_some())
        });
        let pod = tokio::time::timeout(Duration::from_secs(30), ended)
            .await
            .map_err(|_| Error::new(ErrorKind::Timeout, format!("pod {pod_name} did not end")))?
            .map_err(|e| from_wait(e, &pod_name))?;
        let code = pod.as_ref().and_then(status::exit_code).ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                format!("the invocation's pod {pod_name} went before it reported an exit code"),
            )
        })?;
        let error = (code != 0).then(|| FunctionError {
            exit_code: Some(code),
            message: if stderr.is_empty() {
                format!("the handler exited with code {code}")
            } else {
                String::from_utf8_lossy(&stderr).into_owned()
            },
        });
        Ok(InvokeResponse::new(
            stdout,
            error,
            stderr,
            started.elapsed(),
        ))
    }

    /// Watches the Job's pod until its container runs (or already ended), within the start
    /// timeout; a pod that cannot start is the error it says.
    async fn started_pod(&self, job: &str) -> Result<Pod> {
        let config = watcher::Config::default().labels(&format!("job-name={job}"));
        let mut pods = watcher(self.pods(), config).applied_objects().boxed();
        let wait = async {
            while let Some(pod) = pods.next().await {
                let pod = pod.map_err(|e| {
                    Error::new(
                        ErrorKind::Unavailable,
                        format!("watching the Job {job}: {e}"),
                    )
                })?;
                if let Some(stuck) = status::stuck(&pod) {
                    return Err(match stuck {
                        Stuck::Error(e) => e,
                        Stuck::Root => Error::invalid_input(
                            "the function's image insists on root and root is not allowed",
                        ),
                    });
                }
                let running = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .and_then(|c| c.iter().find(|c| c.name == CONTAINER))
                    .and_then(|c| c.state.as_ref())
                    .is_some_and(|s| s.running.is_some() || s.terminated.is_some());
                if running {
                    return Ok(pod);
                }
            }
            Err(Error::new(
                ErrorKind::Unavailable,
                format!("the watch of Job {job} ended"),
            ))
        };
        let limit = self.cluster.settings.start_timeout;
        tokio::time::timeout(limit, wait).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("the invocation {job} did not start within {limit:?}"),
            )
        })?
    }

    /// Attaches to the handler's container, lets it start, gives it the payload and reads what
    /// it writes until it ends.
    async fn converse(&self, pod: &str, payload: &Bytes) -> Result<(Vec<u8>, Vec<u8>)> {
        let params = AttachParams::default()
            .container(CONTAINER)
            .stdin(true)
            .stdout(true)
            .stderr(true);
        let mut proc = self
            .pods()
            .attach(pod, &params)
            .await
            .map_err(|e| from_kube(e, &format!("the invocation {pod}")))?;
        let (Some(mut writer), Some(out), Some(err)) = (proc.stdin(), proc.stdout(), proc.stderr())
        else {
            return Err(Error::unexpected("the attached invocation has no streams"));
        };
        let marker = crate::exec::marker();
        let feed = async {
            let mut all = script::go(&marker);
            if !payload.is_empty() {
                all.extend(script::frame(payload));
            }
            all.extend_from_slice(script::END);
            writer.write_all(&all).await?;
            writer.flush().await
        };
        let (fed, streams) = tokio::join!(feed, read_both(out, err, &marker));
        fed.map_err(|e| Error::io(e, "giving the function its payload"))?;
        let (stdout, stderr, over) = streams;
        if over {
            return Err(Error::invalid_input(format!(
                "the function's result is over the {RESULT_MAX} bytes this provider takes"
            )));
        }
        // The stdin writer lives until here: dropping it early ends a v4 stream, output too.
        drop(writer);
        proc.abort();
        Ok((stdout, stderr))
    }
}

/// Reads stdout and stderr until each has ended or shown the wrapper's trailer, draining a
/// stream past its trailer while the other goes on (kube's pipes are small: a full one would
/// hold back the other). Keeps the first [`RESULT_MAX`] bytes of stdout, saying whether more
/// came, and the last [`LOGS_MAX`] of stderr.
async fn read_both(
    mut out: impl AsyncRead + Unpin,
    mut err: impl AsyncRead + Unpin,
    marker: &str,
) -> (Vec<u8>, Vec<u8>, bool) {
    let (mut out_end, mut err_end) = (script::Trailer::new(marker), script::Trailer::new(marker));
    let (mut stdout, mut stderr, mut over) = (Vec::new(), Vec::new(), false);
    let (mut out_buf, mut err_buf) = (vec![0u8; 32 * 1024], vec![0u8; 32 * 1024]);
    let (mut out_open, mut err_open) = (true, true);
    loop {
        let out_done = !out_open || out_end.code().is_some();
        let err_done = !err_open || err_end.code().is_some();
        if out_done && err_done {
            return (stdout, stderr, over);
        }
        tokio::select! {
            n = out.read(&mut out_buf), if out_open => {
                let data = match n {
                    Ok(0) | Err(_) => { out_open = false; out_end.finish() }
                    Ok(n) => out_end.feed(&out_buf[..n]),
                };
                let room = RESULT_MAX.saturating_sub(stdout.len());
                over |= data.len() > room;
                stdout.extend_from_slice(&data[..data.len().min(room)]);
            }
            n = err.read(&mut err_buf), if err_open => {
                let data = match n {
                    Ok(0) | Err(_) => { err_open = false; err_end.finish() }
                    Ok(n) => err_end.feed(&err_buf[..n]),
                };
                stderr.extend_from_slice(&data);
                if stderr.len() > LOGS_MAX {
                    stderr.drain(..stderr.len() - LOGS_MAX);
                }
            }
        }
    }
}

#[async_trait]
impl Function for JobFunction {
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
        spec.validate()?;
        object_name("function", &spec.name)?;
        if spec.code.is_some() {
            return Err(Error::unsupported(
                "Kubernetes functions run an image: put the code in it (no zip archives)",
            )
            .with_provider(SCHEME));
        }
        let cm = manifest::function_record(&spec)?;
        let cm = self
            .records()
            .create(&PostParams::default(), &cm)
            .await
            .map_err(|e| created(e, &format!("function {}", spec.name)))?;
        Ok(Self::info(&cm, &spec))
    }

    async fn get(&self, name: &str) -> Result<FunctionInfo> {
        let (cm, spec) = self.record(name).await?;
        Ok(Self::info(&cm, &spec))
    }

    async fn list(&self) -> Result<Vec<FunctionInfo>> {
        let params =
            ListParams::default().labels(&manifest::selector(KIND_FUNCTION, &Default::default()));
        let records = again(|| {
            let api = self.records();
            let params = params.clone();
            async move { api.list(&params).await }
        })
        .await
        .map_err(|e| from_kube(e, "functions"))?;
        Ok(records
            .items
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .filter_map(|cm| manifest::read_function_record(cm).map(|s| Self::info(cm, &s)))
            .collect())
    }

    async fn invoke(&self, name: &str, payload: Bytes) -> Result<InvokeResponse> {
        let (cm, spec) = self.record(name).await?;
        let job = self.submit(&cm, &spec, &payload).await?;
        // In a task of its own: a caller that goes away still has its Job cleaned up.
        let this = self.clone();
        tokio::spawn(async move { this.run(&job, &spec, payload).await })
            .await
            .map_err(|e| Error::unexpected(format!("the invocation's task failed: {e}")))?
    }

    async fn invoke_async(&self, name: &str, payload: Bytes) -> Result<AsyncInvocation> {
        let (cm, spec) = self.record(name).await?;
        let permit = self.running.clone().try_acquire_owned().map_err(|_| {
            Error::new(
                ErrorKind::RateLimited,
                format!("{ASYNC_MAX} asynchronous invocations are already running on this handle"),
            )
            .set_temporary()
            .with_provider(SCHEME)
        })?;
        let job = self.submit(&cm, &spec, &payload).await?;
        let this = self.clone();
        let id = job.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = this.run(&job, &spec, payload).await {
                tracing::warn!(%job, error = %e, "an asynchronous invocation failed");
            }
        });
        Ok(AsyncInvocation::new(id))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let (cm, _) = self.record(name).await?;
        // Background propagation: the record's Jobs (invocations in flight) go with it.
        let mut params = DeleteParams::background();
        params.preconditions = manifest::only(cm.metadata.uid.clone());
        match self
            .records()
            .delete(&manifest::function_record_name(name), &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Err(Self::missing(name)),
            Err(e) => Err(from_kube(e, &format!("function {name}"))),
        }
    }
}
