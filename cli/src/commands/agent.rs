//! `cloudctl agent`: leases this machine to a Nubes server; with a subcommand, a platform
//! admin's view and control of the fleet's agents.

use nubes::prelude::*;
use nubes::Error;
use nubes_agent::{AgentConfig, Resources};

use nubes::remote::agents::{self, AgentInstance, AgentView};
use nubes::remote::Client;

use crate::args::{AgentArgs, AgentCmd};
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for AgentView {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "NAME",
        "STATE",
        "CORDONED",
        "CPUS",
        "FREE CPUS",
        "MEMORY",
        "FREE MEMORY",
        "INSTANCES",
        "HEARTBEAT",
    ];

    fn row(&self) -> Vec<String> {
        let live = self.live.as_ref();
        let cpus = |r: &Resources| format!("{}", r.cpus());
        vec![
            self.id.clone(),
            self.name.clone(),
            if self.revoked {
                "revoked".into()
            } else {
                self.state.clone()
            },
            self.cordoned.to_string(),
            live.map_or("-".into(), |l| cpus(&l.capacity)),
            live.map_or("-".into(), |l| cpus(&l.free)),
            output::bytes(live.map(|l| l.capacity.memory)),
            output::bytes(live.map(|l| l.free.memory)),
            live.map_or("-".into(), |l| l.instances.len().to_string()),
            live.and_then(|l| l.last_heartbeat_secs)
                .map_or("-".into(), |s| format!("{s}s ago")),
        ]
    }
}

impl Tabular for AgentInstance {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "ORG", "OWNER", "ON AGENT"];

    fn row(&self) -> Vec<String> {
        let rest = [self.backend_id.clone()];
        output::owned(&self.id, &self.name, &self.org_id, &self.owner_id, &rest)
    }
}

pub async fn admin(client: &Client, cmd: AgentCmd, format: Format) -> Outcome {
    match cmd {
        AgentCmd::Issue { name } => {
            let agent = agents::issue(client, &name).await?;
            if let Some(token) = &agent.token {
                eprintln!(
                    "agent {} issued; run on the lessor's machine (the token is shown once):\n  \
                     cloudctl agent --server {} --token {token}",
                    agent.id,
                    client.server()
                );
            }
            output::one(format, &agent)
        }
        AgentCmd::List => output::list(format, &agents::list(client).await?),
        AgentCmd::Get { id } => output::one(format, &agents::get(client, &id).await?),
        AgentCmd::Instances { id } => output::list(format, &agents::instances(client, &id).await?),
        AgentCmd::Cordon { id } => output::one(format, &agents::cordon(client, &id, true).await?),
        AgentCmd::Uncordon { id } => {
            output::one(format, &agents::cordon(client, &id, false).await?)
        }
        AgentCmd::Drain { id } => {
            let report = agents::drain(client, &id).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("serializes")
            );
            if !report.stuck.is_empty() {
                eprintln!("{} instance(s) could not be moved", report.stuck.len());
                return Ok(1);
            }
        }
        AgentCmd::Revoke { id } => {
            agents::revoke(client, &id).await?;
            eprintln!("revoked agent {id}");
        }
    }
    Ok(0)
}

pub async fn run(args: AgentArgs) -> Outcome {
    let compute = Cloud::connect(&args.runtime).await?.compute()?;
    // clap requires both unless a subcommand was given, and then this is not called.
    let (Some(server), Some(token)) = (args.server, args.token) else {
        return Err(Error::invalid_input("--server and --token are required"));
    };
    let mut config = AgentConfig::new(&server, token);
    // What is said needs no detecting (and works where /proc is not readable).
    let host = match (args.cpus, args.memory) {
        (Some(_), Some(_)) => Resources::default(),
        (_, memory) => nubes_agent::host_capacity().map_err(|e| {
            let what = if memory.is_some() {
                "--cpus"
            } else {
                "--memory"
            };
            Error::invalid_input(format!("{}: pass {what}", e.message()))
        })?,
    };
    config.capacity.millicpus = match args.cpus {
        Some(c) if c > 0.0 && c.is_finite() => nubes::resources::millicpus(c),
        Some(c) => {
            return Err(Error::invalid_input(format!(
                "--cpus must be positive, got {c}"
            )))
        }
        None => host.millicpus,
    };
    config.capacity.memory = match args.memory {
        Some(0) => return Err(Error::invalid_input("--memory must be more than zero")),
        Some(m) => m,
        None => host.memory,
    };
    config.capacity.disk = args.disk.unwrap_or(0);
    if let Some(name) = args.name {
        config.name = name;
    }
    config.labels = args.labels.into_iter().collect();
    eprintln!(
        "leasing {} cpus and {} MiB to {} as {}",
        config.capacity.cpus(),
        config.capacity.memory >> 20,
        config.server,
        config.name
    );
    nubes_agent::run(config, compute).await?;
    Ok(0)
}
