//! Pods as instances. An instance is a record (a Secret holding its spec) and, while it
//! runs, a pod the record owns: stop deletes the pod, start makes it again from the record.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::{AsyncReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::Api;
use nubes_core::compute::{DEFAULT_CPUS, DEFAULT_MEMORY};
use nubes_core::{
    collect_exec, ByteStream, Compute, ComputeCapability, DeleteOptions, Error, ErrorKind,
    ExecOutput, ExecRequest, ExecStream, Instance, InstanceSpec, InstanceState, InstanceStats,
    ListOptions, LogChunk, LogOptions, LogStream, LogStreamKind, ResizeRequest, Result,
    StopOptions,
};

use crate::config::{object_name, Cluster};
use crate::error::{again, created, from_kube, from_wait};
use crate::manifest::{self, InstanceRecord, INSTANCE, KIND_INSTANCE};
use crate::status::{self, Stuck};
use crate::{exec, script, SCHEME};

/// How long a deleted pod may take to go before a new one with its name gives up waiting.
const GONE_WAIT: Duration = Duration::from_secs(60);

/// Instances as pods in one namespace.
#[derive(Debug, Clone)]
pub struct PodCompute {
    cluster: Arc<Cluster>,
    /// Images seen to run as root, which this handle then starts as `nobody` at once instead of
    /// trying a pod that the kubelet will refuse.
    root_images: Arc<Mutex<HashSet<String>>>,
}

impl PodCompute {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self {
            cluster,
            root_images: Arc::default(),
        }
    }

    /// A handle on the same cluster in namespace `ns`, remembering the same root images.
    pub fn in_namespace(&self, ns: &str) -> Result<Self> {
        Ok(Self {
            cluster: Arc::new(self.cluster.in_namespace(ns)?),
            root_images: self.root_images.clone(),
        })
    }

    pub fn namespace(&self) -> &str {
        &self.cluster.namespace
    }

    /// Whether this namespace holds instance `id`'s record.
    pub(crate) async fn holds(&self, id: &str) -> Result<bool> {
        match self.record(id).await {
            Ok(_) => Ok(true),
            Err(e) if Self::no_record(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The first half of a create: checks the spec and claims its name by creating the record.
    /// Two creates race here, and the API server lets exactly one through.
    pub(crate) async fn claim(&self, spec: InstanceSpec) -> Result<(Secret, InstanceRecord)> {
        spec.validate()?;
        object_name("instance", &spec.name)?;
        if spec.vm.is_some() {
            return refuse("VM settings: a pod runs containers");
        }
        if !spec.ports.is_empty() {
            return refuse("published ports (a Service publishes them)");
        }
        if spec.disk.is_some() {
            return refuse("disk limit (ephemeral storage is evicted past its limit, not refused)");
        }
        if spec.pids.is_some() {
            return refuse("pids limit per instance (the kubelet's podPidsLimit caps every pod)");
        }
        let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> = self.cluster.api();
        for v in &spec.volumes {
            object_name("disk", &v.disk)?;
            // Only disks Nubes made: not any claim that happens to share the namespace.
            let claim = claims
                .get_opt(&v.disk)
                .await
                .map_err(|e| from_kube(e, &format!("disk {}", v.disk)))?;
            if !claim.is_some_and(|c| manifest::is(&c.metadata, crate::disk::KIND_DISK)) {
                return Err(
                    Error::not_found(format!("disk {} not found", v.disk)).with_provider(SCHEME)
                );
            }
        }
        let mut spec = spec;
        spec.cpus.get_or_insert(DEFAULT_CPUS);
        spec.memory.get_or_insert(DEFAULT_MEMORY);
        let as_nobody = !self.cluster.settings.allow_root && self.runs_as_root(&spec.image);
        let record = InstanceRecord { spec, as_nobody };
        let name = record.spec.name.clone();
        let cm = manifest::instance_record(&record)?;
        let cm = self
            .records()
            .create(&PostParams::default(), &cm)
            .await
            .map_err(|e| created(e, &format!("instance {name}")))?;
        Ok((cm, record))
    }

    /// Gives up a claimed name: removes the record (only that one: a create that raced in
    /// after it keeps its own).
    pub(crate) async fn unclaim(&self, cm: &Secret) {
        let mut params = DeleteParams::background();
        params.preconditions = manifest::only(cm.metadata.uid.clone());
        let rec = cm.metadata.name.clone().unwrap_or_default();
        if let Err(e) = self.records().delete(&rec, &params).await {
            tracing::warn!(record = %rec, error = %e, "could not remove the record of a failed create");
        }
    }

    /// The second half of a create: the pod of a claimed record, running; on failure the
    /// record goes too.
    pub(crate) async fn finish(
        &self,
        mut cm: Secret,
        mut record: InstanceRecord,
    ) -> Result<Instance> {
        match self.launch(&mut cm, &mut record).await {
            Ok(pod) => Ok(Self::view(&cm, &record, Some(&pod))),
            Err(e) => {
                self.unclaim(&cm).await;
                Err(e)
            }
        }
    }

    /// Records and pods read from the API server as instances, those matching `options`.
    pub(crate) fn assemble(
        records: &[Secret],
        pods: &[Pod],
        options: &ListOptions,
    ) -> Vec<Instance> {
        let mut out = Vec::new();
        for cm in records
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
        {
            let Some(record) = manifest::read_instance_record(cm) else {
                continue;
            };
            let pod = pods.iter().find(|p| {
                p.metadata.namespace == cm.metadata.namespace
                    && p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(INSTANCE))
                        .is_some_and(|n| *n == record.spec.name)
                    && owned(p, cm)
            });
            let i = Self::view(cm, &record, pod);
            if options.matches(&i) {
                out.push(i);
            }
        }
        out
    }

    fn runs_as_root(&self, image: &str) -> bool {
        self.root_images.lock().is_ok_and(|s| s.contains(image))
    }

    fn remember_root(&self, image: &str) {
        if let Ok(mut s) = self.root_images.lock() {
            // Bounded: a handle that met many root images forgets them and asks again.
            if s.len() >= 1024 {
                s.clear();
            }
            s.insert(image.to_string());
        }
    }

    fn records(&self) -> Api<Secret> {
        self.cluster.api()
    }

    fn pods(&self) -> Api<Pod> {
        self.cluster.api()
    }

    fn missing(id: &str) -> Error {
        Error::not_found(format!("instance {id} not found"))
            .with_provider(SCHEME)
            .with_source(NoRecord)
    }

    /// Whether `e` says this namespace holds no record of the instance: every operation looks
    /// for the record before it does anything, so one that failed so did nothing.
    pub(crate) fn no_record(e: &Error) -> bool {
        std::error::Error::source(e).is_some_and(|s| s.is::<NoRecord>())
    }

    /// The record of instance `id` (its name: an instance's id is its name).
    async fn record(&self, id: &str) -> Result<(Secret, InstanceRecord)> {
        if object_name("instance", id).is_err() {
            return Err(Self::missing(id));
        }
        let cm = self
            .cluster
            .live::<Secret>(&manifest::instance_record_name(id))
            .await
            .map_err(|e| from_kube(e, &format!("instance {id}")))?
            .ok_or_else(|| Self::missing(id))?;
        let record = manifest::read_instance_record(&cm)
            .filter(|r| r.spec.name == id && manifest::is(&cm.metadata, KIND_INSTANCE))
            .ok_or_else(|| Self::missing(id))?;
        Ok((cm, record))
    }

    /// The pod of an instance, if it has one now (and it is this record's, not a stranger's
    /// with the same name).
    async fn pod(&self, cm: &Secret, name: &str) -> Result<Option<Pod>> {
        let pod = again(|| {
            let api = self.pods();
            async move { api.get_opt(name).await }
        })
        .await
        .map_err(|e| from_kube(e, &format!("instance {name}")))?;
        Ok(pod.filter(|p| owned(p, cm)))
    }

    fn view(cm: &Secret, record: &InstanceRecord, pod: Option<&Pod>) -> Instance {
        let spec = &record.spec;
        let mut i = Instance::new(spec.name.clone(), spec.name.clone(), SCHEME);
        i.image = spec.image.clone();
        // A pod's size is what the kubelet enforces; the record's is what the next pod gets.
        (i.cpus, i.memory) = match pod.map(status::size) {
            Some((Some(c), Some(m))) => (Some(c), Some(m)),
            _ => (spec.cpus, spec.memory),
        };
        i.labels = spec.labels.clone();
        i.created_at = cm
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(status::time);
        (i.state, i.exit_code) = match pod {
            Some(p) => status::state(p),
            None => (InstanceState::Stopped, None),
        };
        i
    }

    /// Makes the pod of a record and waits, watching it, until it runs. A pod that cannot start
    /// is removed and its reason returned; a root image where root is not allowed is tried once
    /// more as `nobody`, which the record then remembers.
    async fn launch(&self, cm: &mut Secret, record: &mut InstanceRecord) -> Result<Pod> {
        loop {
            let pod = manifest::pod(record, cm, &self.cluster.settings)?;
            let name = record.spec.name.clone();
            let uid = self.create_pod(&pod, &name, cm).await?;
            match self.wait_running(&name).await {
                Ok(pod) => return Ok(pod),
                Err(Stuck::Root) if !record.as_nobody => {
                    self.remove_pod(&name, uid, 0).await?;
                    self.remember_root(&record.spec.image);
                    record.as_nobody = true;
                    let mut updated = manifest::instance_record(record)?;
                    updated.metadata.resource_version = cm.metadata.resource_version.clone();
                    *cm = self
                        .records()
                        .replace(
                            &manifest::instance_record_name(&name),
                            &PostParams::default(),
                            &updated,
                        )
                        .await
                        .map_err(|e| from_kube(e, &format!("instance {name}")))?;
                }
                Err(Stuck::Root) => {
                    self.remove_pod(&name, uid, 0).await?;
                    return Err(Error::invalid_input(format!(
                        "instance {name}: the image insists on root and root is not allowed"
                    )));
                }
                Err(Stuck::Error(e)) => {
                    self.remove_pod(&name, uid, 0).await?;
                    return Err(e.with_provider(SCHEME));
                }
            }
        }
    }

    /// Creates a pod, waiting first for an earlier pod of the same name to finish going. Safe to
    /// repeat: a pod this record already owns is the one asked for.
    async fn create_pod(&self, pod: &Pod, name: &str, cm: &Secret) -> Result<Option<String>> {
        for _ in 0..2 {
            let created = quota_settled(|| {
                again(|| {
                    let api = self.pods();
                    async move { api.create(&PostParams::default(), pod).await }
                })
            })
            .await;
            match created {
                Ok(made) => return Ok(made.metadata.uid),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let old = again(|| {
                        let api = self.pods();
                        async move { api.get_opt(name).await }
                    })
                    .await
                    .map_err(|e| from_kube(e, name))?;
                    match old {
                        Some(old) if old.metadata.deletion_timestamp.is_some() => {
                            self.wait_gone(name, GONE_WAIT).await?;
                        }
                        Some(old) if owned(&old, cm) => return Ok(old.metadata.uid),
                        None => {}
                        Some(_) => {
                            return Err(Error::already_exists(format!(
                                "a pod named {name} that Nubes did not make is in the way"
                            ))
                            .with_provider(SCHEME))
                        }
                    }
                }
                Err(e) => return Err(from_kube(e, &format!("instance {name}"))),
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            format!("the old pod of instance {name} is still going"),
        ))
    }

    /// Watches the pod until it runs, ends, or is stuck; within the connection's start timeout.
    async fn wait_running(&self, name: &str) -> std::result::Result<Pod, Stuck> {
        let cond = |p: Option<&Pod>| match p {
            None => true,
            Some(p) => status::state(p).0 != InstanceState::Creating || status::stuck(p).is_some(),
        };
        let limit = self.cluster.settings.start_timeout;
        let waited = tokio::time::timeout(limit, await_condition(self.pods(), name, cond)).await;
        match waited {
            Ok(Ok(Some(pod))) => match status::stuck(&pod) {
                Some(stuck) => Err(stuck),
                None => Ok(pod),
            },
            Ok(Ok(None)) => Err(Stuck::Error(Error::new(
                ErrorKind::Conflict,
                format!("the pod of instance {name} was deleted while it started"),
            ))),
            Ok(Err(e)) => Err(Stuck::Error(from_wait(e, &format!("instance {name}")))),
            Err(_) => {
                let why = match again(|| {
                    let api = self.pods();
                    async move { api.get_opt(name).await }
                })
                .await
                {
                    Ok(Some(p)) => status::unschedulable(&p)
                        .map(|m| format!(": the scheduler says {m}"))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                Err(Stuck::Error(Error::new(
                    ErrorKind::Timeout,
                    format!("instance {name} did not start within {limit:?}{why}"),
                )))
            }
        }
    }

    /// Deletes the pod with `uid` (only that one: a pod a racing call made since under the same
    /// name stays) with `grace` seconds to stop, and waits until it has gone.
    async fn remove_pod(&self, name: &str, uid: Option<String>, grace: u32) -> Result<()> {
        let params = DeleteParams {
            grace_period_seconds: Some(grace),
            preconditions: manifest::only(uid),
            ..DeleteParams::default()
        };
        let uid = params.preconditions.clone();
        match self.pods().delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => return Ok(()),
            Err(e) => return Err(from_kube(e, &format!("instance {name}"))),
        }
        let limit = Duration::from_secs(u64::from(grace)) + GONE_WAIT;
        match self.wait_gone(name, limit).await {
            Err(e) if e.kind() == ErrorKind::Timeout => {
                // A kubelet under load can take minutes to report a container it killed: the
                // pod is then taken off the API at once (grace 0), so nothing goes on being
                // billed for it, and the kubelet finishes the kill in the background.
                tracing::warn!(instance = %name, "the pod outlived its grace period: removed at once");
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: uid,
                    ..DeleteParams::default()
                };
                match self.pods().delete(name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => return Ok(()),
                    Err(e) => return Err(from_kube(e, &format!("instance {name}"))),
                }
                self.wait_gone(name, GONE_WAIT).await
            }
            other => other,
        }
    }

    async fn wait_gone(&self, name: &str, limit: Duration) -> Result<()> {
        let gone = await_condition(self.pods(), name, |p: Option<&Pod>| p.is_none());
        match tokio::time::timeout(limit, gone).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(from_wait(e, name)),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("the pod of instance {name} did not go within {limit:?}"),
            )),
        }
    }

    /// The running pod of `id`, or `Conflict` when it is not running.
    async fn running(&self, id: &str) -> Result<Pod> {
        let (cm, _) = self.record(id).await?;
        match self.pod(&cm, id).await? {
            Some(p) if status::state(&p).0 == InstanceState::Running => Ok(p),
            _ => {
                Err(Error::conflict(format!("instance {id} is not running")).with_provider(SCHEME))
            }
        }
    }
}

/// A reader's bytes as they come, in pieces of at most 32 KiB; ends after the first error.
fn byte_chunks(
    reader: impl futures::AsyncBufRead + Send + 'static,
) -> futures::stream::BoxStream<'static, Result<bytes::Bytes>> {
    let reader = Some(Box::pin(reader));
    futures::stream::unfold(reader, |reader| async move {
        let mut r = reader?;
        let mut buf = vec![0u8; 32 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(r)))
            }
            Err(e) => Some((
                Err(Error::io(e, "reading an instance's logs").with_provider(SCHEME)),
                None,
            )),
        }
    })
    .boxed()
}

/// Marks the `NotFound` of an instance whose record is not in the namespace looked in.
#[derive(Debug)]
struct NoRecord;

impl std::fmt::Display for NoRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no instance record in this namespace")
    }
}

impl std::error::Error for NoRecord {}

/// How long a pod refused by a ResourceQuota is tried again: the quota's usage is counted down
/// by a controller a moment after a pod goes, and is unknown for a moment after the quota is
/// made; a pod stopped and started at the limit must not fail on that.
const QUOTA_SETTLE: Duration = Duration::from_secs(10);

/// Runs `call` again while a quota refuses it, until [`QUOTA_SETTLE`] has passed: a refusal
/// that outlasts it is the quota's answer.
async fn quota_settled<T, F, Fut>(mut call: F) -> std::result::Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let deadline = tokio::time::Instant::now() + QUOTA_SETTLE;
    loop {
        match call().await {
            Err(kube::Error::Api(s))
                if crate::error::quota_refused(&s) && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            result => return result,
        }
    }
}

/// The records and pods of instances whose labels match `options`, as `records` and `pods` see
/// them (one namespace, or all).
pub(crate) async fn listing(
    records: Api<Secret>,
    pods: Api<Pod>,
    options: &ListOptions,
) -> Result<(Vec<Secret>, Vec<Pod>)> {
    // A filter no Kubernetes label can satisfy matches nothing (and never reaches the
    // selector, where a `,` would add terms of its own).
    if manifest::labels(KIND_INSTANCE, &options.labels).is_err() {
        return Ok((Vec::new(), Vec::new()));
    }
    let selector = manifest::selector(KIND_INSTANCE, &options.labels);
    let params = ListParams::default().labels(&selector);
    let records = again(|| {
        let (api, params) = (records.clone(), params.clone());
        async move { api.list(&params).await }
    })
    .await
    .map_err(|e| from_kube(e, "instances"))?;
    let pods = again(|| {
        let (api, params) = (pods.clone(), params.clone());
        async move { api.list(&params).await }
    })
    .await
    .map_err(|e| from_kube(e, "instances"))?;
    Ok((records.items, pods.items))
}

fn owned(pod: &Pod, cm: &Secret) -> bool {
    pod.metadata
        .owner_references
        .as_ref()
        .is_some_and(|o| o.iter().any(|o| Some(&o.uid) == cm.metadata.uid.as_ref()))
}

fn refuse<T>(what: &str) -> Result<T> {
    Err(Error::unsupported(format!("Kubernetes pods here take no {what}")).with_provider(SCHEME))
}

#[async_trait]
impl Compute for PodCompute {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        let mut cap = ComputeCapability::containers();
        // 1.20 cannot change a pod's resources: a resize is a new pod, made at start.
        cap.resize_live = false;
        cap.stats = self.cluster.metrics;
        cap.volumes = true;
        cap
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        let (cm, record) = self.claim(spec).await?;
        self.finish(cm, record).await
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        let (cm, record) = self.record(id).await?;
        let pod = self.pod(&cm, id).await?;
        Ok(Self::view(&cm, &record, pod.as_ref()))
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let (records, pods) = listing(self.records(), self.pods(), &options).await?;
        Ok(Self::assemble(&records, &pods, &options))
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        let (mut cm, mut record) = self.record(id).await?;
        if let Some(pod) = self.pod(&cm, id).await? {
            match status::state(&pod).0 {
                InstanceState::Running => return Ok(Self::view(&cm, &record, Some(&pod))),
                InstanceState::Creating => {
                    let pod = self.wait_running(id).await.map_err(|s| match s {
                        Stuck::Error(e) => e,
                        Stuck::Root => Error::invalid_input("the image insists on root"),
                    })?;
                    return Ok(Self::view(&cm, &record, Some(&pod)));
                }
                // Ended or ending: it makes way for a new pod.
                _ => self.remove_pod(id, pod.metadata.uid.clone(), 0).await?,
            }
        }
        let pod = self.launch(&mut cm, &mut record).await?;
        Ok(Self::view(&cm, &record, Some(&pod)))
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        let (cm, record) = self.record(id).await?;
        if let Some(pod) = self.pod(&cm, id).await? {
            let grace = u32::try_from(options.timeout.as_secs()).unwrap_or(u32::MAX);
            self.remove_pod(id, pod.metadata.uid.clone(), grace).await?;
        }
        Ok(Self::view(&cm, &record, None))
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.stop(id, options).await?;
        self.start(id).await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        let (cm, _) = self.record(id).await?;
        if let Some(pod) = self.pod(&cm, id).await? {
            if !options.force && !status::finished(&pod) {
                return Err(Error::conflict(format!(
                    "instance {id} is running: stop it first or force the delete"
                ))
                .with_provider(SCHEME));
            }
            // The pod gets its grace period in the background; the instance is gone now.
            // Only the pod looked at: one a racing start made since is the record's to take.
            let params = DeleteParams {
                grace_period_seconds: Some(if options.force { 2 } else { 10 }),
                preconditions: manifest::only(pod.metadata.uid.clone()),
                ..DeleteParams::default()
            };
            match self.pods().delete(id, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(from_kube(e, &format!("instance {id}"))),
            }
        }
        let mut params = DeleteParams::background();
        // Only this record: a create that raced in after the lookup keeps its own.
        params.preconditions = manifest::only(cm.metadata.uid.clone());
        match self
            .records()
            .delete(&manifest::instance_record_name(id), &params)
            .await
        {
            Ok(_) => Ok(()),
            // Not `missing`: the pod is already gone, so this must not be tried again elsewhere.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {
                Err(Error::not_found(format!("instance {id} not found")).with_provider(SCHEME))
            }
            Err(e) => Err(from_kube(e, &format!("instance {id}"))),
        }
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        let timeout = request.timeout;
        let max = request.max_output;
        let program = request.command[0].clone();
        let stream = self.exec_stream(id, request, None).await?;
        let collected = collect_exec(stream, max);
        let out = match timeout {
            Some(limit) => tokio::time::timeout(limit, collected).await.map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!("`{program}` did not finish within {limit:?} and was killed"),
                )
                .with_provider(SCHEME)
            })??,
            None => collected.await?,
        };
        if out.exit_code == 127 && out.stderr == script::not_found_line(&program).as_bytes() {
            return Err(
                Error::not_found(format!("no program `{program}` in instance {id}"))
                    .with_provider(SCHEME),
            );
        }
        Ok(out)
    }

    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        request.validate()?;
        exec::check_env(&request)?;
        self.running(id).await?;
        exec::start(self.pods(), id, request, stdin).await
    }

    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        let (cm, _) = self.record(id).await?;
        if self.pod(&cm, id).await?.is_none() {
            // A stopped instance has no pod, and its output went with it.
            return Ok(futures::stream::empty().boxed());
        }
        let params = LogParams {
            container: Some(manifest::CONTAINER.into()),
            follow: options.follow,
            tail_lines: options.tail.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
            since_seconds: options.since.map(|t| (Utc::now() - t).num_seconds().max(1)),
            ..LogParams::default()
        };
        let reader = self
            .pods()
            .log_stream(id, &params)
            .await
            .map_err(|e| from_kube(e, &format!("instance {id}")))?;
        // The API merges a container's stdout and stderr into one stream: all of it is stdout.
        Ok(byte_chunks(reader)
            .map_ok(|data| LogChunk {
                stream: LogStreamKind::Stdout,
                data,
            })
            .boxed())
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        let pod = self.running(id).await?;
        let (_, record) = self.record(id).await?;
        crate::metrics::pod(&self.cluster, &pod, &record.spec).await
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        request.validate()?;
        let (cm, mut record) = self.record(id).await?;
        if let Some(pod) = self.pod(&cm, id).await? {
            if !status::finished(&pod) {
                return Err(Error::conflict(format!(
                    "instance {id} is running: this cluster cannot resize a pod in place, stop \
                     it first (the next start makes the pod at the new size)"
                ))
                .with_provider(SCHEME));
            }
        }
        if let Some(c) = request.cpus {
            record.spec.cpus = Some(c);
        }
        if let Some(m) = request.memory {
            record.spec.memory = Some(m);
        }
        let mut updated = manifest::instance_record(&record)?;
        // Optimistic: a concurrent change to the record makes this one fail, not vanish.
        updated.metadata.resource_version = cm.metadata.resource_version.clone();
        let cm = self
            .records()
            .replace(
                &manifest::instance_record_name(id),
                &PostParams::default(),
                &updated,
            )
            .await
            .map_err(|e| from_kube(e, &format!("instance {id}")))?;
        Ok(Self::view(&cm, &record, None))
    }
}
