use nubes::remote::clusters::{self, ClusterView, CreateCluster};
use nubes::remote::Client;

use crate::args::ClusterCmd;
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for ClusterView {
    const HEADERS: &'static [&'static str] =
        &["ID", "NAME", "ORG", "CPUS", "MEMORY", "USED CPUS", "QUEUED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.org_id.clone(),
            self.cpus.to_string(),
            output::bytes(Some(self.memory)),
            self.used_cpus.to_string(),
            self.queued.len().to_string(),
        ]
    }
}

pub async fn run(client: &Client, cmd: ClusterCmd, format: Format) -> Outcome {
    match cmd {
        ClusterCmd::Create {
            name,
            cpus,
            memory,
            gpus,
        } => {
            let new = CreateCluster {
                org_id: client.org(),
                name,
                cpus,
                memory,
                gpus,
            };
            output::one(format, &clusters::create(client, &new).await?)
        }
        ClusterCmd::List => output::list(format, &clusters::list(client).await?),
        ClusterCmd::Get { id } => output::one(format, &clusters::get(client, &id).await?),
        ClusterCmd::Delete { id } => {
            clusters::delete(client, &id).await?;
            eprintln!("deleted cluster {id}");
        }
    }
    Ok(0)
}
