//! `Cloud`: the handle users hold, and the `Registry` that builds one from a URI.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::layer::{CapabilityLayer, Layer, Layered, Validated};
use crate::{Compute, Disk, Error, Function, Result, Storage};

/// The services one provider offers. Every trait object in it is wrapped in a
/// [`CapabilityLayer`] and in [`Validated`], so unsupported operations and bad input fail before
/// the backend is touched, the same way on every backend. Providers rely on this: use their
/// services through a `Cloud`.
#[derive(Debug, Clone)]
pub struct Cloud {
    provider: String,
    compute: Option<Arc<dyn Compute>>,
    disk: Option<Arc<dyn Disk>>,
    storage: Option<Arc<dyn Storage>>,
    function: Option<Arc<dyn Function>>,
}

impl Cloud {
    /// An empty handle for `provider` (its scheme); add services with the `with_*` methods.
    pub fn new(provider: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            compute: None,
            disk: None,
            storage: None,
            function: None,
        }
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn with_compute(mut self, compute: Arc<dyn Compute>) -> Self {
        // Asked each time: a fleet's capabilities follow the agents it has.
        let live = compute.clone();
        let layer = CapabilityLayer::new(compute.provider().to_string(), move |op| {
            live.capability().supports(op)
        });
        let checked: Arc<dyn Compute> = Arc::new(Validated::new(compute));
        self.compute = Some(Arc::new(Layered::new(checked, layer)));
        self
    }

    pub fn with_disk(mut self, disk: Arc<dyn Disk>) -> Self {
        let cap = disk.capability();
        let layer = CapabilityLayer::new(disk.provider().to_string(), move |op| cap.supports(op));
        let checked: Arc<dyn Disk> = Arc::new(Validated::new(disk));
        self.disk = Some(Arc::new(Layered::new(checked, layer)));
        self
    }

    pub fn with_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        let cap = storage.capability();
        let layer =
            CapabilityLayer::new(storage.provider().to_string(), move |op| cap.supports(op));
        let checked: Arc<dyn Storage> = Arc::new(Validated::new(storage));
        self.storage = Some(Arc::new(Layered::new(checked, layer)));
        self
    }

    pub fn with_function(mut self, function: Arc<dyn Function>) -> Self {
        let cap = function.capability();
        let layer =
            CapabilityLayer::new(function.provider().to_string(), move |op| cap.supports(op));
        let checked: Arc<dyn Function> = Arc::new(Validated::new(function));
        self.function = Some(Arc::new(Layered::new(checked, layer)));
        self
    }

    /// Wraps every service in `layer` (retry, timeout, tracing, metering, ...).
    pub fn layer<L: Layer + Clone>(mut self, layer: L) -> Self {
        if let Some(c) = self.compute.take() {
            self.compute = Some(Arc::new(Layered::new(c, layer.clone())));
        }
        if let Some(d) = self.disk.take() {
            self.disk = Some(Arc::new(Layered::new(d, layer.clone())));
        }
        if let Some(s) = self.storage.take() {
            self.storage = Some(Arc::new(Layered::new(s, layer.clone())));
        }
        if let Some(f) = self.function.take() {
            self.function = Some(Arc::new(Layered::new(f, layer)));
        }
        self
    }

    pub fn compute(&self) -> Result<Arc<dyn Compute>> {
        self.compute.clone().ok_or_else(|| self.missing("compute"))
    }

    pub fn disk(&self) -> Result<Arc<dyn Disk>> {
        self.disk.clone().ok_or_else(|| self.missing("disk"))
    }

    pub fn storage(&self) -> Result<Arc<dyn Storage>> {
        self.storage.clone().ok_or_else(|| self.missing("storage"))
    }

    pub fn function(&self) -> Result<Arc<dyn Function>> {
        self.function
            .clone()
            .ok_or_else(|| self.missing("function"))
    }

    fn missing(&self, service: &str) -> Error {
        Error::unsupported(format!(
            "the {} provider offers no {service} service",
            self.provider
        ))
        .with_provider(self.provider.clone())
    }
}

type Connector = Arc<dyn Fn(String) -> BoxFuture<'static, Result<Cloud>> + Send + Sync>;

/// Providers by URI scheme. Each provider crate exports `SCHEME` and `register(&mut Registry)`.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<String, Connector>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("schemes", &self.connectors.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers how to connect to URIs of `scheme`. The connector receives the whole URI.
    pub fn register<F, Fut>(&mut self, scheme: &str, connect: F)
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Cloud>> + Send + 'static,
    {
        self.connectors.insert(
            scheme.to_string(),
            Arc::new(move |uri| Box::pin(connect(uri))),
        );
    }

    pub fn schemes(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }

    /// Connects to `uri` (`docker://`, `local:///srv/data`, `memory://`); a bare scheme such as
    /// `docker` means `docker://`.
    pub async fn connect(&self, uri: &str) -> Result<Cloud> {
        let (scheme, full) = match uri.split_once("://") {
            Some((scheme, _)) => (scheme.to_string(), uri.to_string()),
            None => (uri.to_string(), format!("{uri}://")),
        };
        let connector = self.connectors.get(&scheme).ok_or_else(|| {
            let known: Vec<&str> = self.schemes().collect();
            Error::invalid_input(format!(
                "no provider for `{scheme}://` (this build has: {})",
                known.join(", ")
            ))
        })?;
        connector(full).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory;
    use crate::{ErrorKind, ExecRequest};

    #[tokio::test]
    async fn unsupported_operations_fail_before_the_backend() {
        let mut registry = Registry::new();
        memory::register(&mut registry);
        let cloud = registry.connect("memory").await.unwrap();
        let compute = cloud.compute().unwrap();
        assert!(!compute.capability().exec);
        // The instance does not exist: a backend call would say NotFound, the check says Unsupported.
        let e = compute
            .exec("missing", ExecRequest::new(["true"]))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.provider(), Some("memory"));
    }

    #[tokio::test]
    async fn unknown_schemes_are_invalid_input() {
        let registry = Registry::new();
        let e = registry.connect("nope://x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn missing_services_are_unsupported() {
        let cloud = Cloud::new("empty");
        assert_eq!(cloud.storage().unwrap_err().kind(), ErrorKind::Unsupported);
    }

    /// Counts the calls that reach the backend.
    #[derive(Debug)]
    struct Reached {
        compute: Arc<dyn Compute>,
        storage: Arc<dyn Storage>,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl Reached {
        fn count(&self) {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl crate::layer::ComputeLayer for Reached {
        fn inner(&self) -> &dyn Compute {
            self.count();
            &*self.compute
        }

        // Asked before each call (what the backend can do), not a call that reaches it.
        fn capability(&self) -> crate::ComputeCapability {
            self.compute.capability()
        }
    }

    #[async_trait::async_trait]
    impl crate::layer::StorageLayer for Reached {
        fn inner(&self) -> &dyn Storage {
            self.count();
            &*self.storage
        }
    }

    #[tokio::test]
    async fn bad_input_fails_before_the_backend() {
        let backend = Arc::new(Reached {
            compute: Arc::new(memory::MemoryCompute::new().with_image("img")),
            storage: Arc::new(memory::MemoryStorage::new()),
            calls: Default::default(),
        });
        let cloud = Cloud::new("memory")
            .with_compute(backend.clone())
            .with_storage(backend.clone());
        let (compute, storage) = (cloud.compute().unwrap(), cloud.storage().unwrap());
        let before = backend.calls.load(std::sync::atomic::Ordering::SeqCst);
        let mut bad = crate::InstanceSpec::new("Bad Name", "img");
        let e = compute.create(bad.clone()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.operation(), Some(crate::Operation::ComputeCreate));
        bad.name = "ok".into();
        bad.cpus = Some(-1.0);
        let e = compute.create(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = compute.resize("ok", crate::ResizeRequest::default()).await;
        assert_eq!(e.unwrap_err().kind(), ErrorKind::InvalidInput);
        let e = storage.create_bucket("Upper").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let get = storage
            .get("ok-bucket", "../escape", Default::default())
            .await;
        assert_eq!(get.map(|_| ()).unwrap_err().kind(), ErrorKind::InvalidInput);
        let put = storage.put("../b", "k", crate::byte_stream("x")).await;
        assert_eq!(put.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(
            backend.calls.load(std::sync::atomic::Ordering::SeqCst),
            before,
            "bad input reached the backend"
        );
        // Good input still does.
        compute
            .create(crate::InstanceSpec::new("ok", "img"))
            .await
            .unwrap();
        assert!(backend.calls.load(std::sync::atomic::Ordering::SeqCst) > before);
    }
}
