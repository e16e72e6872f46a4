//! Disk images for tenants: rows record who owns which image, the disk provider behind the server
//! holds it under a name of ours, so renaming is a row update and no tenant string reaches a path.

use std::sync::Arc;

use nubes::{Disk, DiskImage, DiskResizeRequest, DiskSpec, Error, ErrorKind, Result};
use nubes_auth::{token, Action};

use crate::accounts::now;
use crate::bounds::Bounds;
use crate::db::{Db, Kind, ResourceRow};
use crate::events::{event, Events};
use crate::tenancy::Principal;
use crate::tenancy::{self, Ref};
pub use nubes_api::disks::{ConvertDisk, CreateDisk, RenameDisk, ResizeDisk, TenantDisk};

fn view(row: &ResourceRow, live: Option<&DiskImage>) -> TenantDisk {
    TenantDisk {
        backing_id: None,
        id: row.id.clone(),
        name: row.name.clone(),
        org_id: row.org_id.clone(),
        owner_id: row.owner_id.clone(),
        format: live.map(|d| d.format),
        virtual_size: live.map(|d| d.virtual_size),
        actual_size: live.and_then(|d| d.actual_size),
        created_at: row.created_at,
    }
}

#[derive(Debug, Clone)]
pub struct Disks {
    db: Db,
    disk: Option<Arc<dyn Disk>>,
    bounds: Bounds,
    events: Events,
}

impl Disks {
    pub fn new(db: Db, disk: Option<Arc<dyn Disk>>, bounds: Bounds, events: Events) -> Self {
        Self {
            db,
            disk,
            bounds,
            events,
        }
    }

    /// The tenant's view, with the disk it is an overlay on by the tenant's id.
    async fn show(&self, row: &ResourceRow, live: Option<&DiskImage>) -> Result<TenantDisk> {
        let mut v = view(row, live);
        if let Some(base) = live.and_then(|d| d.backing.as_deref()) {
            v.backing_id = self
                .db
                .resource_by_backend(Kind::Disk, base)
                .await?
                .map(|r| r.id);
        }
        Ok(v)
    }

    fn disk(&self) -> Result<&Arc<dyn Disk>> {
        self.disk
            .as_ref()
            .ok_or_else(|| Error::unsupported("this server has no disk provider configured"))
    }

    /// What the provider behind this server can do; the API carries all of it.
    pub fn capability(&self) -> Option<nubes::DiskCapability> {
        self.disk.as_ref().map(|b| b.capability())
    }

    async fn authorized(&self, p: &Principal, r: Ref<'_>, action: Action) -> Result<ResourceRow> {
        self.disk()?;
        tenancy::resource(&self.db, p, Kind::Disk, r, action).await
    }

    /// Records a row for `name` in `org_id`, then has the backend make it; no row survives a
    /// backend failure.
    async fn make(
        &self,
        p: &Principal,
        org_id: String,
        name: String,
        backend: impl AsyncFnOnce(&str) -> Result<DiskImage>,
    ) -> Result<TenantDisk> {
        let id = token::random_id();
        let row = ResourceRow {
            backend_id: tenancy::backend_name(&id),
            id,
            kind: Kind::Disk,
            org_id,
            owner_id: p.user_id.clone(),
            name,
            created_at: now(),
        };
        self.db
            .insert_resource_within(&row, self.bounds.per_org(row.kind))
            .await?;
        match backend(&row.backend_id).await {
            Ok(live) => self.show(&row, Some(&live)).await,
            Err(e) => {
                self.db.delete_resource(&row.id).await?;
                Err(e)
            }
        }
    }

    pub async fn create(&self, p: &Principal, req: CreateDisk) -> Result<TenantDisk> {
        let disk = self.disk()?;
        let mut spec = DiskSpec::new(req.name.clone(), req.format, req.size);
        spec.backing = req.backing.clone();
        spec.validate()?;
        self.bounds.disk(req.size)?;
        let org_id = tenancy::creating_in(&self.db, p, req.org_id).await?;
        // The base must be one the caller may read, in the new disk's organization.
        let base = match &req.backing {
            Some(b) => {
                let r = Ref {
                    id_or_name: b,
                    org_id: Some(&org_id),
                };
                let base = self.authorized(p, r, Action::Read).await?;
                if base.org_id != org_id {
                    return Err(Error::invalid_input(
                        "a disk's base must be in the same organization",
                    ));
                }
                Some(base)
            }
            None => None,
        };
        self.make(p, org_id, req.name, async |backend: &str| {
            let mut spec = DiskSpec::new(backend, req.format, req.size);
            spec.backing = base.map(|b| b.backend_id);
            disk.create(spec).await
        })
        .await
    }

    pub async fn get(&self, p: &Principal, r: Ref<'_>) -> Result<TenantDisk> {
        let row = self.authorized(p, r, Action::Read).await?;
        let live = self
            .disk()?
            .get(&row.backend_id)
            .await
            .map_err(|e| row.explain(e))?;
        self.show(&row, Some(&live)).await
    }

    /// Every disk of the organizations the caller belongs to; one the backend lost shows no size.
    pub async fn list(&self, p: &Principal) -> Result<Vec<TenantDisk>> {
        let disk = self.disk()?;
        let live = disk.list().await?;
        let rows = self.db.resources_visible_to(Kind::Disk, &p.user_id).await?;
        // An overlay's base is in its organization, so among the rows already read.
        Ok(rows
            .iter()
            .map(|row| {
                let image = live.iter().find(|d| d.name == row.backend_id);
                let mut v = view(row, image);
                v.backing_id = image
                    .and_then(|d| d.backing.as_deref())
                    .and_then(|b| rows.iter().find(|r| r.backend_id == b))
                    .map(|r| r.id.clone());
                v
            })
            .collect())
    }

    pub async fn resize(&self, p: &Principal, r: Ref<'_>, req: ResizeDisk) -> Result<TenantDisk> {
        self.bounds.disk(req.size)?;
        let row = self.authorized(p, r, Action::Operate).await?;
        let mut request = DiskResizeRequest::new(req.size);
        if req.allow_shrink {
            request = request.allow_shrink();
        }
        let live = self
            .disk()?
            .resize(&row.backend_id, request)
            .await
            .map_err(|e| row.explain(e))?;
        self.show(&row, Some(&live)).await
    }

    /// Writes a copy of the disk in another format as a new disk in the same organization. How
    /// far it has come goes to the caller's event stream (`disk.converting`), a whole percent
    /// at a time.
    pub async fn convert(&self, p: &Principal, r: Ref<'_>, req: ConvertDisk) -> Result<TenantDisk> {
        let disk = self.disk()?;
        nubes::validate::name("disk", &req.target)?;
        let source = self.authorized(p, r, Action::Read).await?;
        let org_id = tenancy::creating_in(&self.db, p, Some(source.org_id.clone())).await?;
        let progress = self.progress(p, &source, &org_id, &req.target);
        self.make(p, org_id, req.target, async |backend: &str| {
            disk.convert_with_progress(&source.backend_id, req.format, backend, progress)
                .await
                .map_err(|e| source.explain(e))
        })
        .await
    }

    /// Publishes a conversion's progress to the one who asked for it, each whole percent once.
    fn progress(
        &self,
        p: &Principal,
        source: &ResourceRow,
        org_id: &str,
        target: &str,
    ) -> nubes::Progress {
        let events = self.events.clone();
        let mut template = event("disk.converting");
        template.org_id = Some(org_id.to_string());
        template.user_id = Some(p.user_id.clone());
        template.disk_id = Some(source.id.clone());
        template.name = Some(target.to_string());
        let mut shown: Option<u8> = None;
        Box::new(move |percent: f32| {
            // A backend's figure is not trusted to be in range, nor to only grow.
            let whole = percent.clamp(0.0, 100.0).floor() as u8;
            if shown.is_some_and(|s| whole <= s) {
                return;
            }
            shown = Some(whole);
            let mut e = template.clone();
            e.at = now();
            e.progress = Some(f32::from(whole));
            events.publish(e);
        })
    }

    /// Renames the disk; the backend keeps its own name, so nothing is copied or moved.
    pub async fn rename(&self, p: &Principal, r: Ref<'_>, req: RenameDisk) -> Result<TenantDisk> {
        nubes::validate::name("disk", &req.name)?;
        let mut row = self.authorized(p, r, Action::Operate).await?;
        self.db.rename_resource(&row, &req.name).await?;
        row.name = req.name;
        let live = self.disk()?.get(&row.backend_id).await.ok();
        self.show(&row, live.as_ref()).await
    }

    pub async fn delete(&self, p: &Principal, r: Ref<'_>) -> Result<()> {
        let row = self.authorized(p, r, Action::Delete).await?;
        match self.disk()?.delete(&row.backend_id).await {
            Ok(()) => {}
            // Already gone from the backend: the row is all that is left.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(row.explain(e)),
        }
        self.db.delete_resource(&row.id).await
    }
}
