//! Clusters (seed 004): a pool of fleet capacity with fixed cpu, memory and GPUs reserved for an
//! organization; instances deployed into it count against the pool and wait, by priority, inside
//! it when it is full, however much else the fleet has free. A reservation takes capacity from
//! everyone else, so only platform admins make one (the organization asks; the admin's reserving
//! is the approval); the organization's admins may end it, its members deploy into it, and only
//! from the same organization.

use nubes::{Error, ErrorKind, Result};
use nubes_agent::{Fleet, Resources};
use nubes_auth::{token, Action, Target};

use crate::accounts::now;
use crate::db::{ClusterRow, Db};
use crate::tenancy::Principal;
use crate::tenancy::{self, Ref};
pub use nubes_api::clusters::{ClusterView, CreateCluster};

/// The most one cluster may reserve, to keep arithmetic far from overflow.
const MAX_CPUS: f64 = 1_000_000.0;

/// A cluster's reservation, as the scheduler counts it.
pub fn capacity(c: &ClusterRow) -> Resources {
    Resources::new(
        u64::try_from(c.millicpus).unwrap_or(0),
        u64::try_from(c.memory).unwrap_or(0),
        0,
        u32::try_from(c.gpus).unwrap_or(0),
    )
}

#[derive(Debug, Clone)]
pub struct Clusters {
    db: Db,
    fleet: Option<Fleet>,
}

impl Clusters {
    pub fn new(db: Db, fleet: Option<Fleet>) -> Self {
        Self { db, fleet }
    }

    fn fleet(&self) -> Result<&Fleet> {
        self.fleet.as_ref().ok_or_else(|| {
            Error::unsupported("clusters are fleet capacity: this server runs no fleet")
        })
    }

    async fn view(&self, c: ClusterRow) -> Result<ClusterView> {
        let fleet = self.fleet()?;
        let used = fleet
            .cluster_usage(&c.id)
            .map(|(_, used)| used)
            .unwrap_or_default();
        let waiting = fleet.waiting_in(&c.id);
        let rows = self.db.instances_by_backend(&waiting).await?;
        let queued = waiting
            .iter()
            .filter_map(|b| {
                rows.iter()
                    .find(|r| &r.backend_id == b)
                    .map(|r| r.id.clone())
            })
            .collect();
        let cap = capacity(&c);
        Ok(ClusterView {
            cpus: cap.cpus(),
            memory: cap.memory,
            gpus: cap.gpus,
            used_cpus: used.cpus(),
            used_memory: used.memory,
            queued,
            id: c.id,
            name: c.name,
            org_id: c.org_id,
            created_by: c.created_by,
            created_at: c.created_at,
        })
    }

    /// The cluster if the caller may do `action` to it (`Read` for members, changes for admins).
    async fn authorized(&self, p: &Principal, r: Ref<'_>, action: Action) -> Result<ClusterRow> {
        tenancy::find(&self.db, p, r, action).await
    }

    /// Reserves the capacity out of the fleet for an organization (platform admins only);
    /// refused when the fleet has not that much free.
    pub async fn create(&self, p: &Principal, req: CreateCluster) -> Result<ClusterView> {
        let fleet = self.fleet()?;
        nubes::validate::name("cluster", &req.name)?;
        if !(req.cpus > 0.0 && req.cpus <= MAX_CPUS) {
            return Err(Error::invalid_input(format!(
                "cpus must be more than 0 and at most {MAX_CPUS}"
            )));
        }
        if req.memory == 0 || req.memory > i64::MAX as u64 {
            return Err(Error::invalid_input("memory must be more than 0 bytes"));
        }
        let org_id = match req.org_id {
            Some(id) => id,
            None => self.db.personal_org(&p.user_id).await?,
        };
        let actor = tenancy::actor(&self.db, p, &org_id).await?;
        tenancy::check(
            &actor,
            Action::PlatformAdmin,
            &Target::Platform,
            "reserving fleet capacity (a platform admin reserves a cluster for an organization)",
        )?;
        if self.db.org(&org_id).await?.is_none() {
            return Err(Error::not_found(format!("organization {org_id} not found")));
        }
        let row = ClusterRow {
            id: token::random_id(),
            org_id,
            name: req.name,
            millicpus: nubes::resources::millicpus(req.cpus) as i64,
            memory: req.memory as i64,
            gpus: i64::from(req.gpus),
            created_by: p.user_id.clone(),
            created_at: now(),
        };
        fleet.create_cluster(&row.id, capacity(&row))?;
        if let Err(e) = self.db.insert_cluster(&row).await {
            let _ = fleet.remove_cluster(&row.id);
            return Err(e);
        }
        self.view(row).await
    }

    pub async fn list(&self, p: &Principal) -> Result<Vec<ClusterView>> {
        self.fleet()?;
        let mut out = Vec::new();
        for c in self.db.clusters_visible_to(&p.user_id).await? {
            out.push(self.view(c).await?);
        }
        Ok(out)
    }

    /// Every organization's clusters, with use and queue (platform admins).
    pub async fn all(&self, p: &Principal) -> Result<Vec<ClusterView>> {
        let actor = tenancy::actor(&self.db, p, "").await?;
        tenancy::check(
            &actor,
            Action::PlatformAdmin,
            &Target::Platform,
            "every cluster",
        )?;
        if self.fleet.is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for c in self.db.all_clusters().await? {
            out.push(self.view(c).await?);
        }
        Ok(out)
    }

    pub async fn get(&self, p: &Principal, r: Ref<'_>) -> Result<ClusterView> {
        self.fleet()?;
        let c = self.authorized(p, r, Action::Read).await?;
        self.view(c).await
    }

    /// Ends an empty cluster (nothing running or waiting in it); its capacity is free again.
    pub async fn delete(&self, p: &Principal, r: Ref<'_>) -> Result<()> {
        let fleet = self.fleet()?;
        let c = self.authorized(p, r, Action::Operate).await?;
        match fleet.remove_cluster(&c.id) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.db.delete_cluster(&c.id).await
    }

    /// Checks that an instance in `org_id` may be deployed into the cluster `cluster` names (by
    /// id or name): the caller sees it (else it is not found), and it is the instance's own
    /// organization's. Its id, which is what the fleet knows it by.
    pub async fn check_deploy(&self, p: &Principal, cluster: &str, org_id: &str) -> Result<String> {
        self.fleet()?;
        let c = self.authorized(p, Ref::id(cluster), Action::Read).await?;
        if c.org_id != org_id {
            return Err(Error::invalid_input(format!(
                "cluster {cluster} belongs to another organization than the instance"
            )));
        }
        Ok(c.id)
    }
}
