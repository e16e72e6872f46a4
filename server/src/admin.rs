//! Platform-wide views for platform admins: every user, every instance and where it runs, the
//! fleet's queue, the audit log.

use std::sync::Arc;

use nubes::{Compute, ErrorKind, Result};
use nubes_auth::{Action, Target};

use crate::db::{AuditEntry, AuditFilter, Db};
use crate::tenancy;
use crate::tenancy::Principal;
use nubes_agent::Fleet;
pub use nubes_api::admin::{AdminInstance, AdminUser, QueuedInstance, UsersQuery};
use nubes_billing::Credits;

#[derive(Debug, Clone)]
pub struct Admin {
    db: Db,
    compute: Option<Arc<dyn Compute>>,
    fleet: Option<Fleet>,
}

/// The most of the queue one look shows: its head, which is what is admitted next.
pub const QUEUE_VIEW_MAX: usize = 500;

impl Admin {
    pub fn new(db: Db, compute: Option<Arc<dyn Compute>>, fleet: Option<Fleet>) -> Self {
        Self { db, compute, fleet }
    }

    /// Whether `p` is a platform admin (the admin API, and the server's metrics).
    pub async fn check(&self, p: &Principal) -> Result<()> {
        // Platform admin is not about any one organization.
        let actor = tenancy::actor(&self.db, p, "").await?;
        tenancy::check(
            &actor,
            Action::PlatformAdmin,
            &Target::Platform,
            "the admin API",
        )
    }

    /// A page of users, each with their plan and balance as they stand (read, never renewed:
    /// looking is not charging).
    pub async fn users(&self, p: &Principal, q: &UsersQuery) -> Result<Vec<AdminUser>> {
        self.check(p).await?;
        let rows = self.db.users_page(q.after.as_deref(), q.limit()?).await?;
        Ok(rows
            .into_iter()
            .map(|u| AdminUser {
                id: u.id,
                email: u.email,
                platform_admin: u.platform_admin,
                created_at: u.created_at,
                plan: u.plan.unwrap_or_else(|| "free".to_string()),
                balance: Credits::from_micros(u.balance.unwrap_or(0)).to_string(),
            })
            .collect())
    }

    pub async fn instances(&self, p: &Principal) -> Result<Vec<AdminInstance>> {
        self.check(p).await?;
        let mut out = Vec::new();
        for row in self.db.all_instances().await? {
            let state = match &self.compute {
                // One instance its backend cannot answer for shows as unknown; it does not fail
                // the whole view.
                Some(c) => match c.get(&row.backend_id).await {
                    Ok(i) => i.state,
                    Err(e) if e.kind() == ErrorKind::Unexpected => return Err(e),
                    Err(_) => nubes::InstanceState::Unknown,
                },
                None => nubes::InstanceState::Unknown,
            };
            out.push(AdminInstance {
                name: row.name,
                org_id: row.org_id,
                owner_id: row.owner_id,
                state,
                created_at: row.created_at,
                agent_id: self
                    .fleet
                    .as_ref()
                    .and_then(|f| f.agent_of(&row.backend_id)),
                id: row.id,
            });
        }
        Ok(out)
    }

    /// The head of the fleet's queue, in the order it will be admitted (at most
    /// [`QUEUE_VIEW_MAX`]); empty where the server runs no fleet.
    pub async fn queue(&self, p: &Principal) -> Result<Vec<QueuedInstance>> {
        self.check(p).await?;
        let Some(fleet) = &self.fleet else {
            return Ok(Vec::new());
        };
        let waiting = fleet.waiting(QUEUE_VIEW_MAX);
        let names: Vec<String> = waiting.iter().map(|w| w.name.clone()).collect();
        let rows = self.db.instances_by_backend(&names).await?;
        Ok(waiting
            .into_iter()
            // One deleted while this was read is no longer waiting.
            .filter_map(|w| {
                let row = rows.iter().find(|r| r.backend_id == w.name)?;
                Some(QueuedInstance {
                    instance_id: row.id.clone(),
                    name: row.name.clone(),
                    org_id: row.org_id.clone(),
                    owner_id: row.owner_id.clone(),
                    priority: w.priority,
                    cluster_id: w.cluster,
                    cpus: w.resources.cpus(),
                    memory: w.resources.memory,
                    gpus: w.resources.gpus,
                })
            })
            .collect())
    }

    pub async fn audit(&self, p: &Principal, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
        self.check(p).await?;
        self.db.audit(&filter).await
    }
}
