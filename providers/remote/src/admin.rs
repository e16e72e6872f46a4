//! Platform-wide views for platform admins: every user, every instance, the audit log.

pub use nubes_api::admin::{AdminInstance, AdminUser, AuditEntry, AuditQuery};
use nubes_core::Result;
use reqwest::Method;

use crate::client::{read_json, Client};

const NONE: Option<&()> = None;

pub async fn users(client: &Client) -> Result<Vec<AdminUser>> {
    client.call(Method::GET, "/v1/admin/users", NONE).await
}

pub async fn instances(client: &Client) -> Result<Vec<AdminInstance>> {
    client.call(Method::GET, "/v1/admin/instances", NONE).await
}

/// The newest audit entries first, filtered by `query`.
pub async fn audit(client: &Client, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let res = client
        .send(Method::GET, "/v1/admin/audit", |r| r.query(query))
        .await?;
    read_json(res).await
}
