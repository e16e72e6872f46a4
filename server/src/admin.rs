//! Platform-wide views for platform admins: every user, every instance, the audit log.

use std::sync::Arc;

use nubes::{Compute, ErrorKind, Result};
use nubes_auth::{Action, Target};

use crate::db::{AuditEntry, AuditFilter, Db};
use crate::tenancy;
use crate::tenancy::Principal;
pub use nubes_api::admin::{AdminInstance, AdminUser};

#[derive(Debug, Clone)]
pub struct Admin {
    db: Db,
    compute: Option<Arc<dyn Compute>>,
}

impl Admin {
    pub fn new(db: Db, compute: Option<Arc<dyn Compute>>) -> Self {
        Self { db, compute }
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

    pub async fn users(&self, p: &Principal) -> Result<Vec<AdminUser>> {
        self.check(p).await?;
        Ok(self
            .db
            .all_users()
            .await?
            .into_iter()
            .map(|(id, email, platform_admin, created_at)| AdminUser {
                id,
                email,
                platform_admin,
                created_at,
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
                id: row.id,
                name: row.name,
                org_id: row.org_id,
                owner_id: row.owner_id,
                state,
                created_at: row.created_at,
            });
        }
        Ok(out)
    }

    pub async fn audit(&self, p: &Principal, filter: AuditFilter) -> Result<Vec<AuditEntry>> {
        self.check(p).await?;
        self.db.audit(&filter).await
    }
}
