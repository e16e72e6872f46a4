//! The connection: which cluster, which namespace, and how pods are made there.

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use nubes_core::uri::ProviderUri;
use nubes_core::{Error, ErrorKind, Result};

use crate::error::from_kube;
use crate::SCHEME;

/// What a `kubernetes://` URI says, before anything is dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A kubeconfig file; without one, `KUBECONFIG`, `~/.kube/config` or the in-cluster account.
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    /// Without one, the context's namespace (or `default`).
    pub namespace: Option<String>,
    /// The StorageClass of new disks; without one, the cluster's default class.
    pub storage_class: Option<String>,
    /// `Never` where pods may only use images the nodes already have; `IfNotPresent` by default.
    pub pull_policy: String,
    /// Lets images that run as root do so (still without capabilities or privilege escalation);
    /// by default they run as `nobody`.
    pub allow_root: bool,
    /// Mounts containers' root filesystems read-only.
    pub read_only_root: bool,
    /// How long a pod may take to become Running before create gives up and removes it.
    pub start_timeout: Duration,
    /// Puts an instance whose spec names a scope in a namespace of its own, `NAMESPACE-SCOPE`,
    /// with the scope's limits as a ResourceQuota (`scopes=namespaces`, the default); with
    /// `scopes=shared` every instance goes in the one namespace and scopes are ignored.
    pub scopes: bool,
}

impl Settings {
    pub fn parse(uri: &str) -> Result<Self> {
        let u = ProviderUri::parse(
            uri,
            "Kubernetes",
            &[
                "kubeconfig",
                "context",
                "namespace",
                "storage_class",
                "pull",
                "root",
                "read_only",
                "start_timeout",
                "scopes",
            ],
        )?;
        if !u.target.is_empty() {
            return Err(Error::invalid_input(format!(
                "a Kubernetes URI names its cluster by context, not host: \
                 {SCHEME}://?context=NAME&namespace=NS, not `{uri}`"
            )));
        }
        if let Some(ns) = u.option("namespace") {
            dns_label("namespace", ns)?;
        }
        let pull_policy = match u.option("pull").unwrap_or("if-not-present") {
            "never" => "Never",
            "if-not-present" => "IfNotPresent",
            "always" => "Always",
            other => {
                return Err(Error::invalid_input(format!(
                    "pull=`{other}` is not one of never, if-not-present, always"
                )))
            }
        };
        let flag = |key: &str| match u.option(key) {
            None | Some("false") => Ok(false),
            Some("true") | Some("allow") => Ok(true),
            Some(other) => Err(Error::invalid_input(format!(
                "{key}=`{other}` is not true or false"
            ))),
        };
        let start_timeout = match u.option("start_timeout") {
            None => Duration::from_secs(120),
            Some(s) => match s.trim_end_matches('s').parse::<u64>() {
                Ok(n) if (1..=3600).contains(&n) => Duration::from_secs(n),
                _ => {
                    return Err(Error::invalid_input(format!(
                        "start_timeout=`{s}` is not a number of seconds from 1 to 3600"
                    )))
                }
            },
        };
        let scopes = match u.option("scopes").unwrap_or("namespaces") {
            "namespaces" => true,
            "shared" => false,
            other => {
                return Err(Error::invalid_input(format!(
                    "scopes=`{other}` is not one of namespaces, shared"
                )))
            }
        };
        Ok(Self {
            kubeconfig: u.option("kubeconfig").map(str::to_string),
            context: u.option("context").map(str::to_string),
            namespace: u.option("namespace").map(str::to_string),
            storage_class: u.option("storage_class").map(str::to_string),
            pull_policy: pull_policy.to_string(),
            allow_root: flag("root")?,
            read_only_root: flag("read_only")?,
            start_timeout,
            scopes,
        })
    }
}

/// A namespace name: a DNS label.
pub fn dns_label(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid {what} `{}`: Kubernetes takes 1-63 lowercase letters, digits and '-'",
            name.escape_debug()
        )))
    }
}

/// One cluster and namespace, shared by the Compute, Function and Disk handles on it.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    pub settings: Settings,
    /// The API server serves `metrics.k8s.io` (a metrics-server is installed).
    pub metrics: bool,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Reads the configuration, dials the API server once to see that it answers, and looks for
    /// the metrics API.
    pub async fn connect(settings: Settings) -> Result<Self> {
        let options = KubeConfigOptions {
            context: settings.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match (&settings.kubeconfig, &settings.context) {
            (Some(path), _) => {
                let file = Kubeconfig::read_from(path).map_err(|e| {
                    Error::invalid_input(format!("cannot read the kubeconfig {path}: {e}"))
                })?;
                Config::from_custom_kubeconfig(file, &options).await
            }
            (None, Some(_)) => Config::from_kubeconfig(&options).await,
            (None, None) => Config::infer().await.map_err(|e| {
                kube::config::KubeconfigError::ReadConfig(
                    std::io::Error::other(e.to_string()),
                    "KUBECONFIG, ~/.kube/config or the in-cluster account".into(),
                )
            }),
        }
        .map_err(|e| {
            Error::invalid_input(format!("no usable Kubernetes configuration: {e}"))
                .with_provider(SCHEME)
        })?;
        Self::with_config(config, settings).await
    }

    pub async fn with_config(config: Config, settings: Settings) -> Result<Self> {
        let namespace = settings
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| from_kube(e, "the cluster"))?;
        let groups = client
            .list_api_groups()
            .await
            .map_err(|e| from_kube(e, "the cluster"))?;
        let metrics = groups.groups.iter().any(|g| g.name == "metrics.k8s.io");
        Ok(Self {
            client,
            namespace,
            settings,
            metrics,
        })
    }

    /// A cluster over a client you built (a mock service in tests, a custom TLS stack).
    pub fn from_client(client: Client, namespace: &str, settings: Settings, metrics: bool) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            settings,
            metrics,
        }
    }

    /// The API of one kind of object in this cluster's namespace.
    pub fn api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        kube::Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The object `name` of kind `K`, unless it is missing or already being deleted; asked
    /// again after a connection failure.
    pub async fn live<K>(&self, name: &str) -> std::result::Result<Option<K>, kube::Error>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let found = crate::error::again(|| {
            let api = self.api::<K>();
            async move { api.get_opt(name).await }
        })
        .await?;
        Ok(found.filter(|o| o.meta().deletion_timestamp.is_none()))
    }

    /// A handle on another namespace of the same cluster.
    pub fn in_namespace(&self, namespace: &str) -> Result<Self> {
        dns_label("namespace", namespace)?;
        Ok(Self {
            namespace: namespace.to_string(),
            ..self.clone()
        })
    }
}

/// Refuses names Kubernetes would refuse, with a message that says why, before anything is made.
/// Nubes names (1-63 of `a-z0-9-_.`) are Kubernetes names except for `_`.
pub fn object_name(what: &str, name: &str) -> Result<()> {
    nubes_core::validate::name(what, name)?;
    if name.contains('_') {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid {what} name `{name}`: Kubernetes names cannot contain '_'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_options() {
        let s = Settings::parse(
            "kubernetes://?context=kind&namespace=dev&pull=never&root=allow&start_timeout=30",
        )
        .unwrap();
        assert_eq!(s.context.as_deref(), Some("kind"));
        assert_eq!(s.namespace.as_deref(), Some("dev"));
        assert_eq!(s.pull_policy, "Never");
        assert!(s.allow_root && !s.read_only_root);
        assert_eq!(s.start_timeout, Duration::from_secs(30));
        let d = Settings::parse("kubernetes://").unwrap();
        assert_eq!(d.pull_policy, "IfNotPresent");
        assert!(!d.allow_root && d.scopes);
        assert!(
            !Settings::parse("kubernetes://?scopes=shared")
                .unwrap()
                .scopes
        );
        for bad in [
            "kubernetes://host:6443",
            "kubernetes://?namespace=Dev",
            "kubernetes://?namespace=a_b",
            "kubernetes://?pull=sometimes",
            "kubernetes://?root=maybe",
            "kubernetes://?start_timeout=0",
            "kubernetes://?scopes=per-user",
            "kubernetes://?nope=1",
        ] {
            assert_eq!(
                Settings::parse(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert!(object_name("instance", "web-1.a").is_ok());
        assert_eq!(
            object_name("instance", "web_1").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}
