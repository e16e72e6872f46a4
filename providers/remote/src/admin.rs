//! Platform-wide views for platform admins: every user, every instance, the clusters and the
//! queue, the audit log.

pub use nubes_api::admin::{
    AdminInstance, AdminUser, AuditEntry, AuditQuery, QueuedInstance, UsersQuery,
};
use nubes_core::Result;
use reqwest::Method;

use crate::client::{read_json, Client};
use crate::clusters::ClusterView;

const NONE: Option<&()> = None;

/// One page of users, in the order they registered.
pub async fn users_page(client: &Client, query: &UsersQuery) -> Result<Vec<AdminUser>> {
    let res = client
        .send(Method::GET, "/v1/admin/users", |r| r.query(query))
        .await?;
    read_json(res).await
}

/// Every user, a page at a time.
pub async fn users(client: &Client) -> Result<Vec<AdminUser>> {
    let mut all: Vec<AdminUser> = Vec::new();
    loop {
        let query = UsersQuery {
            limit: None,
            after: all.last().map(|u| u.id.clone()),
        };
        let page = users_page(client, &query).await?;
        let last = page.len() < UsersQuery::MAX as usize;
        all.extend(page);
        if last {
            return Ok(all);
        }
    }
}

pub async fn instances(client: &Client) -> Result<Vec<AdminInstance>> {
    client.call(Method::GET, "/v1/admin/instances", NONE).await
}

/// Every organization's clusters, with use and queue.
pub async fn clusters(client: &Client) -> Result<Vec<ClusterView>> {
    client.call(Method::GET, "/v1/admin/clusters", NONE).await
}

/// Instances waiting for the fleet's capacity, in the order they will start.
pub async fn queue(client: &Client) -> Result<Vec<QueuedInstance>> {
    client.call(Method::GET, "/v1/admin/queue", NONE).await
}

/// The newest audit entries first, filtered by `query`.
pub async fn audit(client: &Client, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let res = client
        .send(Method::GET, "/v1/admin/audit", |r| r.query(query))
        .await?;
    read_json(res).await
}
