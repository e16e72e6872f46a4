//! Scopes as namespaces. An instance whose spec names a scope runs in a namespace of its own
//! beside the connection's (`NAMESPACE-SCOPE`), made on first use and labelled, with the scope's
//! limits as a ResourceQuota and a NetworkPolicy that lets only its own pods in. Instances
//! without a scope stay in the connection's namespace. One handle reaches all of them: an
//! instance is found by its name wherever it is, so a platform keeps one handle for every
//! tenant, and its metering lists them all at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use nubes_core::{
    ByteStream, Compute, ComputeCapability, DeleteOptions, Error, ErrorKind, ExecOutput,
    ExecRequest, ExecStream, Instance, InstanceSpec, InstanceStats, ListOptions, LogOptions,
    LogStream, ResizeRequest, Result, Scope, StopOptions,
};

use crate::compute::{listing, PodCompute};
use crate::config::{object_name, Cluster};
use crate::error::{again, from_kube};
use crate::manifest::{self, KIND_INSTANCE};
use crate::SCHEME;

/// How many instances outside the connection's namespace a handle remembers the place of.
const FOUND_MAX: usize = 4096;

/// Who writes the quota and the policy, for server-side apply.
const MANAGER: &str = "nubes";

/// Instances in the connection's namespace and in one namespace per scope beside it.
#[derive(Debug, Clone)]
pub struct ScopedCompute {
    base: PodCompute,
    cluster: Arc<Cluster>,
    /// Where instances outside the connection's namespace were last found, so that calls on
    /// them go straight there; a namespace found not to hold one any more is looked past.
    found: Arc<Mutex<HashMap<String, String>>>,
}

impl ScopedCompute {
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self {
            base: PodCompute::new(cluster.clone()),
            cluster,
            found: Arc::default(),
        }
    }

    fn remember(&self, id: &str, ns: &str) {
        if ns == self.base_namespace() {
            return;
        }
        if let Ok(mut found) = self.found.lock() {
            // Bounded: a handle that met many instances forgets them and looks again.
            if found.len() >= FOUND_MAX {
                found.clear();
            }
            found.insert(id.to_string(), ns.to_string());
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut found) = self.found.lock() {
            found.remove(id);
        }
    }

    /// The handle on where `id` was last found: the connection's namespace unless it was
    /// found elsewhere.
    fn last_seen(&self, id: &str) -> PodCompute {
        let ns = self.found.lock().ok().and_then(|f| f.get(id).cloned());
        ns.and_then(|ns| self.base.in_namespace(&ns).ok())
            .unwrap_or_else(|| self.base.clone())
    }

    /// Runs `op` on the namespace that holds instance `id`: where it was last seen, and if that
    /// namespace holds no record of it (so `op` did nothing), where it is now.
    async fn on<T, F, Fut>(&self, id: &str, op: F) -> Result<T>
    where
        F: Fn(PodCompute) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let first = self.last_seen(id);
        match op(first.clone()).await {
            Err(e) if PodCompute::no_record(&e) => {
                self.forget(id);
                let here = self.locate(id, first.namespace()).await?;
                self.remember(id, here.namespace());
                op(here).await
            }
            result => result,
        }
    }

    fn base_namespace(&self) -> &str {
        self.base.namespace()
    }

    fn missing(id: &str) -> Error {
        Error::not_found(format!("instance {id} not found")).with_provider(SCHEME)
    }

    /// The handle on `scope`'s namespace, made ready: the namespace made if it is new (and
    /// refused if someone else made one of that name), its quota set to the scope's limits
    /// now (removed when it has none), its pods fenced off.
    async fn prepare(&self, scope: &Scope) -> Result<PodCompute> {
        let base = self.base_namespace();
        let name = manifest::scope_namespace(base, scope)?;
        let what = format!("namespace {name}");
        let namespaces: Api<Namespace> = Api::all(self.cluster.client.clone());
        let mut made = false;
        loop {
            let found = again(|| {
                let api = namespaces.clone();
                let name = name.clone();
                async move { api.get_opt(&name).await }
            })
            .await
            .map_err(|e| from_kube(e, &what))?;
            match found {
                Some(ns) if ns.metadata.deletion_timestamp.is_some() => {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("{what} of scope {} is being deleted", scope.name),
                    )
                    .set_temporary()
                    .with_provider(SCHEME))
                }
                Some(ns) if manifest::is_scope_namespace(&ns, base, scope) => break,
                Some(_) => {
                    return Err(Error::conflict(format!(
                        "{what} exists and Nubes did not make it for scope {}",
                        scope.name
                    ))
                    .with_provider(SCHEME))
                }
                None if made => {
                    return Err(Error::conflict(format!("{what} went as it was made"))
                        .with_provider(SCHEME))
                }
                None => {
                    made = true;
                    let ns = manifest::namespace(base, scope)?;
                    match namespaces.create(&PostParams::default(), &ns).await {
                        Ok(_) => break,
                        // Another create made it first: look at what it made.
                        Err(kube::Error::Api(s)) if s.code == 409 => {}
                        Err(e) => return Err(from_kube(e, &what)),
                    }
                }
            }
        }
        let apply = PatchParams::apply(MANAGER).force();
        let quotas: Api<ResourceQuota> = Api::namespaced(self.cluster.client.clone(), &name);
        match &scope.limits {
            Some(limits) => {
                let quota = manifest::quota(limits);
                quotas
                    .patch(manifest::QUOTA, &apply, &Patch::Apply(&quota))
                    .await
                    .map_err(|e| from_kube(e, &format!("the quota of scope {}", scope.name)))?;
            }
            None => match quotas
                .delete(manifest::QUOTA, &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(from_kube(e, &format!("the quota of scope {}", scope.name))),
            },
        }
        let policies: Api<NetworkPolicy> = Api::namespaced(self.cluster.client.clone(), &name);
        policies
            .patch(
                manifest::ISOLATION,
                &apply,
                &Patch::Apply(&manifest::isolation()),
            )
            .await
            .map_err(|e| from_kube(e, &format!("the network policy of scope {}", scope.name)))?;
        self.base.in_namespace(&name)
    }

    /// The scope namespaces Nubes made beside the connection's: those labelled as its, by name
    /// `BASE-SCOPE`. A namespace that merely has such a name is not looked in.
    async fn scope_namespaces(&self) -> Result<HashSet<String>> {
        let base = self.base_namespace();
        let params = ListParams::default().labels(&format!(
            "{}=true,{}={base}",
            manifest::MANAGED,
            manifest::BASE
        ));
        let namespaces: Api<Namespace> = Api::all(self.cluster.client.clone());
        let list = again(|| {
            let (api, params) = (namespaces.clone(), params.clone());
            async move { api.list(&params).await }
        })
        .await
        .map_err(|e| rights(from_kube(e, "the scope namespaces")))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .filter(|n| manifest::scope_of(base, n).is_some())
            .collect())
    }

    /// The scope namespaces (not the connection's own) that hold a record of instance `id`.
    async fn elsewhere(&self, id: &str) -> Result<Vec<String>> {
        if object_name("instance", id).is_err() {
            return Ok(Vec::new());
        }
        let params = ListParams::default()
            .fields(&format!(
                "metadata.name={}",
                manifest::instance_record_name(id)
            ))
            .labels(&manifest::selector(KIND_INSTANCE, &Default::default()));
        let records: Api<Secret> = Api::all(self.cluster.client.clone());
        let found = again(|| {
            let (api, params) = (records.clone(), params.clone());
            async move { api.list(&params).await }
        })
        .await
        .map_err(|e| rights(from_kube(e, &format!("instance {id}"))))?
        .items;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ours = self.scope_namespaces().await?;
        Ok(found
            .into_iter()
            .filter(|s| s.metadata.deletion_timestamp.is_none())
            .filter(|s| manifest::read_instance_record(s).is_some_and(|r| r.spec.name == id))
            .filter_map(|s| s.metadata.namespace)
            .filter(|ns| ours.contains(ns))
            .collect())
    }

    /// The handle on the namespace that holds instance `id`, not looking in `looked` again.
    async fn locate(&self, id: &str, looked: &str) -> Result<PodCompute> {
        if looked != self.base_namespace() && self.base.holds(id).await? {
            return Ok(self.base.clone());
        }
        let found: Vec<String> = self
            .elsewhere(id)
            .await?
            .into_iter()
            .filter(|ns| ns != looked)
            .collect();
        match found.as_slice() {
            [] => Err(Self::missing(id)),
            [ns] => self.base.in_namespace(ns),
            _ => Err(Error::conflict(format!(
                "instance {id} is in more than one scope: delete all but one with kubectl"
            ))
            .with_provider(SCHEME)),
        }
    }

    /// Whether instance `name`, just claimed in `here`, is also held elsewhere beside the
    /// base: a name is one instance across all of a connection's namespaces, so of two creates
    /// racing in two scopes, one gives way.
    async fn clashes(&self, name: &str, here: &str) -> Result<bool> {
        if here != self.base_namespace() && self.base.holds(name).await? {
            return Ok(true);
        }
        Ok(self.elsewhere(name).await?.iter().any(|ns| ns != here))
    }
}

#[async_trait]
impl Compute for ScopedCompute {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> ComputeCapability {
        self.base.capability()
    }

    async fn create(&self, spec: InstanceSpec) -> Result<Instance> {
        spec.validate()?;
        let here = match &spec.scope {
            Some(scope) => self.prepare(scope).await?,
            None => self.base.clone(),
        };
        let name = spec.name.clone();
        let (cm, record) = here.claim(spec).await?;
        // Checked after the claim, before anything runs: of two racing creates, at least the
        // later one sees the other's record and gives way.
        match self.clashes(&name, here.namespace()).await {
            Ok(false) => {}
            Ok(true) => {
                here.unclaim(&cm).await;
                return Err(
                    Error::already_exists(format!("instance {name} already exists"))
                        .with_provider(SCHEME),
                );
            }
            Err(e) => {
                here.unclaim(&cm).await;
                return Err(e);
            }
        }
        let made = here.finish(cm, record).await?;
        self.remember(&name, here.namespace());
        Ok(made)
    }

    async fn get(&self, id: &str) -> Result<Instance> {
        self.on(id, |c| async move { c.get(id).await }).await
    }

    async fn list(&self, options: ListOptions) -> Result<Vec<Instance>> {
        let records: Api<Secret> = Api::all(self.cluster.client.clone());
        let pods = Api::all(self.cluster.client.clone());
        let (records, pods) = listing(records, pods, &options).await.map_err(rights)?;
        let ours = self.scope_namespaces().await?;
        let base = self.base_namespace();
        let records: Vec<_> = records
            .into_iter()
            .filter(|r| {
                r.metadata
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| ns == base || ours.contains(ns))
            })
            .collect();
        Ok(PodCompute::assemble(&records, &pods, &options))
    }

    async fn start(&self, id: &str) -> Result<Instance> {
        self.on(id, |c| async move { c.start(id).await }).await
    }

    async fn stop(&self, id: &str, options: StopOptions) -> Result<Instance> {
        self.on(id, |c| {
            let options = options.clone();
            async move { c.stop(id, options).await }
        })
        .await
    }

    async fn restart(&self, id: &str, options: StopOptions) -> Result<Instance> {
        // Two steps, each found on its own: a step that changed something is never run again
        // in another namespace.
        self.stop(id, options).await?;
        self.start(id).await
    }

    async fn delete(&self, id: &str, options: DeleteOptions) -> Result<()> {
        self.on(id, |c| {
            let options = options.clone();
            async move { c.delete(id, options).await }
        })
        .await?;
        self.forget(id);
        Ok(())
    }

    async fn exec(&self, id: &str, request: ExecRequest) -> Result<ExecOutput> {
        self.on(id, |c| {
            let request = request.clone();
            async move { c.exec(id, request).await }
        })
        .await
    }

    async fn exec_stream(
        &self,
        id: &str,
        request: ExecRequest,
        stdin: Option<ByteStream>,
    ) -> Result<ExecStream> {
        // A try that finds no record returns before it reads stdin: the stream waits in a
        // slot, taken by whichever try first reads it.
        let has_stdin = stdin.is_some();
        let slot = Arc::new(Mutex::new(stdin));
        self.on(id, |c| {
            let request = request.clone();
            let stdin = has_stdin.then(|| taken_once(slot.clone()));
            async move { c.exec_stream(id, request, stdin).await }
        })
        .await
    }

    async fn logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        self.on(id, |c| {
            let options = options.clone();
            async move { c.logs(id, options).await }
        })
        .await
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        self.on(id, |c| async move { c.stats(id).await }).await
    }

    async fn resize(&self, id: &str, request: ResizeRequest) -> Result<Instance> {
        self.on(id, |c| {
            let request = request.clone();
            async move { c.resize(id, request).await }
        })
        .await
    }
}

/// A refusal of the cluster-wide rights that scopes need, saying what to do about it.
fn rights(e: Error) -> Error {
    if e.kind() != ErrorKind::PermissionDenied {
        return e;
    }
    Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "scopes need cluster-wide rights (list namespaces, secrets and pods in all \
             namespaces): connect with scopes=shared to keep to one namespace ({})",
            e.message()
        ),
    )
    .with_provider(SCHEME)
}

/// A stream that takes the one in `slot` when it is first read, and is empty if another took
/// it first.
fn taken_once(slot: Arc<Mutex<Option<ByteStream>>>) -> ByteStream {
    use futures::StreamExt;
    futures::stream::once(async move { slot.lock().ok().and_then(|mut s| s.take()) })
        .filter_map(futures::future::ready)
        .flatten()
        .boxed()
}
