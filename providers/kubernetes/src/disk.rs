//! Disks as PersistentVolumeClaims. A claim has a size and a class, no image format: every disk
//! is `raw`. It grows where its StorageClass allows expansion; it cannot be renamed, converted
//! or shrunk. Instances mount disks by name (`InstanceSpec::volumes`).

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use nubes_core::{
    Disk, DiskCapability, DiskFormat, DiskImage, DiskResizeRequest, DiskSpec, Error, Result,
};

use crate::config::{object_name, Cluster};
use crate::error::{again, created, from_kube};
use crate::manifest::{self, parse_quantity};
use crate::{status, SCHEME};

pub const KIND_DISK: &str = "disk";

/// Disks as claims in one namespace.
#[derive(Debug, Clone)]
pub struct ClaimDisk {
    cluster: Arc<Cluster>,
    /// The class new claims get allows expansion.
    expandable: bool,
}

impl ClaimDisk {
    /// Reads the class new claims will get (the named one or the cluster's default) to know
    /// whether they can grow. Credentials that may not read StorageClasses (a tenant's) leave
    /// it to the API server to refuse a resize.
    pub async fn new(cluster: Arc<Cluster>) -> Self {
        let classes: Api<StorageClass> = Api::all(cluster.client.clone());
        let expandable = match classes.list(&ListParams::default()).await {
            Ok(list) => {
                let wanted = cluster.settings.storage_class.as_deref();
                list.items
                    .iter()
                    .find(|c| match wanted {
                        Some(name) => c.metadata.name.as_deref() == Some(name),
                        None => c
                            .metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
                            .is_some_and(|v| v == "true"),
                    })
                    .is_some_and(|c| c.allow_volume_expansion == Some(true))
            }
            Err(_) => true,
        };
        Self {
            cluster,
            expandable,
        }
    }

    /// A handle that knows whether its class expands, without asking the cluster.
    pub fn from_parts(cluster: Arc<Cluster>, expandable: bool) -> Self {
        Self {
            cluster,
            expandable,
        }
    }

    fn claims(&self) -> Api<PersistentVolumeClaim> {
        self.cluster.api()
    }

    fn missing(name: &str) -> Error {
        Error::not_found(format!("disk {name} not found")).with_provider(SCHEME)
    }

    fn view(pvc: &PersistentVolumeClaim) -> Option<DiskImage> {
        let labels = pvc.metadata.labels.as_ref()?;
        if labels.get(manifest::MANAGED).map(String::as_str) != Some("true") {
            return None;
        }
        let size = pvc
            .spec
            .as_ref()?
            .resources
            .as_ref()?
            .requests
            .as_ref()?
            .get("storage")
            .and_then(|q| parse_quantity(&q.0))?;
        let mut image = DiskImage::new(pvc.metadata.name.clone()?, DiskFormat::Raw, size);
        image.created_at = pvc
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(status::time);
        Some(image)
    }

    async fn claim(&self, name: &str) -> Result<PersistentVolumeClaim> {
        if object_name("disk", name).is_err() {
            return Err(Self::missing(name));
        }
        self.cluster
            .live::<PersistentVolumeClaim>(name)
            .await
            .map_err(|e| from_kube(e, &format!("disk {name}")))?
            .filter(|c| Self::view(c).is_some())
            .ok_or_else(|| Self::missing(name))
    }

    /// The pods (not yet ended) that mount claim `name`.
    async fn users(&self, name: &str) -> Result<Vec<String>> {
        let pods: Api<Pod> = self.cluster.api();
        let list = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| from_kube(e, &format!("disk {name}")))?;
        Ok(list
            .items
            .iter()
            .filter(|p| !status::finished(p))
            .filter(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.volumes.as_ref())
                    .is_some_and(|v| {
                        v.iter().any(|v| {
                            v.persistent_volume_claim
                                .as_ref()
                                .is_some_and(|c| c.claim_name == name)
                        })
                    })
            })
            .filter_map(|p| p.metadata.name.clone())
            .collect())
    }
}

#[async_trait]
impl Disk for ClaimDisk {
    fn provider(&self) -> &str {
        SCHEME
    }

    fn capability(&self) -> DiskCapability {
        let mut cap = DiskCapability::default();
        cap.resize = self.expandable;
        cap.formats = vec![DiskFormat::Raw];
        cap
    }

    async fn create(&self, spec: DiskSpec) -> Result<DiskImage> {
        spec.validate()?;
        object_name("disk", &spec.name)?;
        if spec.format != DiskFormat::Raw {
            return Err(Error::unsupported(format!(
                "a Kubernetes volume has no image format: create a raw disk, not {}",
                spec.format
            ))
            .with_provider(SCHEME));
        }
        if spec.backing.is_some() {
            return Err(
                Error::unsupported("Kubernetes volumes have no backing images")
                    .with_provider(SCHEME),
            );
        }
        let class = self.cluster.settings.storage_class.as_deref();
        let pvc = manifest::claim(&spec.name, spec.size, class)?;
        let made = self
            .claims()
            .create(&PostParams::default(), &pvc)
            .await
            .map_err(|e| created(e, &format!("disk {}", spec.name)))?;
        Self::view(&made).ok_or_else(|| Error::unexpected("the new claim has no size"))
    }

    async fn get(&self, name: &str) -> Result<DiskImage> {
        let pvc = self.claim(name).await?;
        Self::view(&pvc).ok_or_else(|| Self::missing(name))
    }

    async fn list(&self) -> Result<Vec<DiskImage>> {
        let params =
            ListParams::default().labels(&manifest::selector(KIND_DISK, &Default::default()));
        let list = again(|| {
            let api = self.claims();
            let params = params.clone();
            async move { api.list(&params).await }
        })
        .await
        .map_err(|e| from_kube(e, "disks"))?;
        Ok(list
            .items
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .filter_map(Self::view)
            .collect())
    }

    async fn resize(&self, name: &str, request: DiskResizeRequest) -> Result<DiskImage> {
        let pvc = self.claim(name).await?;
        let current = Self::view(&pvc).map_or(0, |i| i.virtual_size);
        request.validate(current)?;
        if request.size < current {
            return Err(Error::unsupported(format!(
                "Kubernetes volumes only grow: disk {name} is {current} bytes"
            ))
            .with_provider(SCHEME));
        }
        let patch = serde_json::json!({
            "spec": {"resources": {"requests": {"storage": request.size.to_string()}}}
        });
        let patched = self
            .claims()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| match from_kube(e, &format!("disk {name}")) {
                // The API server's answer when the class cannot expand.
                e if e.message().contains("resize") || e.message().contains("expan") => {
                    Error::unsupported(format!("disk {name} cannot grow: {}", e.message()))
                        .with_provider(SCHEME)
                }
                e => e,
            })?;
        Self::view(&patched).ok_or_else(|| Self::missing(name))
    }

    async fn convert(&self, name: &str, _format: DiskFormat, _target: &str) -> Result<DiskImage> {
        Err(Error::unsupported(format!(
            "Kubernetes volumes have no formats to convert (disk {name})"
        ))
        .with_provider(SCHEME))
    }

    async fn rename(&self, name: &str, _new_name: &str) -> Result<DiskImage> {
        Err(
            Error::unsupported(format!("a claim cannot be renamed (disk {name})"))
                .with_provider(SCHEME),
        )
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let pvc = self.claim(name).await?;
        let users = self.users(name).await?;
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "disk {name} is mounted by {}: delete or stop them first",
                users.join(", ")
            ))
            .with_provider(SCHEME));
        }
        let mut params = DeleteParams::background();
        params.preconditions = manifest::only(pvc.metadata.uid.clone());
        match self.claims().delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Err(Self::missing(name)),
            Err(e) => Err(from_kube(e, &format!("disk {name}"))),
        }
    }
}
