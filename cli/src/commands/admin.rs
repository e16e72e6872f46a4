//! `cloudctl admin`: what platform admins see of the whole platform.

use nubes::remote::admin::{
    self, AdminInstance, AdminUser, AuditEntry, AuditQuery, QueuedInstance,
};
use nubes::remote::Client;

use crate::args::AdminCmd;
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for AdminUser {
    const HEADERS: &'static [&'static str] =
        &["ID", "EMAIL", "ADMIN", "PLAN", "BALANCE", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.email.clone(),
            self.platform_admin.to_string(),
            self.plan.clone(),
            self.balance.clone(),
            output::epoch(self.created_at),
        ]
    }
}

impl Tabular for AdminInstance {
    const HEADERS: &'static [&'static str] =
        &["ID", "NAME", "ORG", "OWNER", "STATE", "AGENT", "CREATED"];

    fn row(&self) -> Vec<String> {
        let rest = [
            self.state.to_string(),
            output::or_dash(self.agent_id.clone()),
            output::epoch(self.created_at),
        ];
        output::owned(&self.id, &self.name, &self.org_id, &self.owner_id, &rest)
    }
}

impl Tabular for QueuedInstance {
    const HEADERS: &'static [&'static str] = &[
        "ID", "NAME", "ORG", "OWNER", "PRIORITY", "CLUSTER", "CPUS", "MEMORY",
    ];

    fn row(&self) -> Vec<String> {
        let rest = [
            self.priority.to_string(),
            output::or_dash(self.cluster_id.clone()),
            self.cpus.to_string(),
            output::bytes(Some(self.memory)),
        ];
        output::owned(
            &self.instance_id,
            &self.name,
            &self.org_id,
            &self.owner_id,
            &rest,
        )
    }
}

impl Tabular for AuditEntry {
    const HEADERS: &'static [&'static str] = &[
        "WHEN", "USER", "ORG", "ACTION", "RESOURCE", "STATUS", "SOURCE",
    ];

    fn row(&self) -> Vec<String> {
        vec![
            output::epoch(self.at),
            output::or_dash(self.user_id.clone()),
            output::or_dash(self.org_id.clone()),
            self.action.clone(),
            self.resource.clone(),
            self.status.to_string(),
            output::or_dash(self.source.clone()),
        ]
    }
}

pub async fn run(client: &Client, cmd: AdminCmd, format: Format) -> Outcome {
    match cmd {
        AdminCmd::Users => output::list(format, &admin::users(client).await?),
        AdminCmd::Instances => output::list(format, &admin::instances(client).await?),
        AdminCmd::Clusters => output::list(format, &admin::clusters(client).await?),
        AdminCmd::Queue => output::list(format, &admin::queue(client).await?),
        AdminCmd::Audit {
            user,
            in_org,
            action,
            limit,
        } => {
            let query = AuditQuery {
                user_id: user,
                org_id: in_org,
                action,
                limit,
            };
            output::list(format, &admin::audit(client, &query).await?)
        }
    }
    Ok(0)
}
