//! `cloudctl agent`: leases this machine to a Nubes server.

use std::collections::BTreeMap;

use nubes::prelude::*;
use nubes::Error;
use nubes_agent::{AgentConfig, Resources};

use crate::args::AgentArgs;
use crate::Outcome;

pub async fn run(args: AgentArgs) -> Outcome {
    let compute = Cloud::connect(&args.runtime).await?.compute()?;
    let cpus = match args.cpus {
        Some(c) if c > 0.0 && c.is_finite() => c,
        Some(c) => {
            return Err(Error::invalid_input(format!(
                "--cpus must be positive, got {c}"
            )))
        }
        None => std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
    };
    let memory = match args.memory {
        Some(0) => return Err(Error::invalid_input("--memory must be more than zero")),
        Some(m) => m,
        None => host_memory()?,
    };
    let name = args.name.unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "agent".into())
    });
    let config = AgentConfig {
        server: args.server.trim_end_matches('/').to_string(),
        token: args.token,
        name,
        capacity: Resources::new(
            (cpus * 1000.0).round() as u64,
            memory,
            args.disk.unwrap_or(0),
            0,
        ),
        labels: args.labels.into_iter().collect::<BTreeMap<_, _>>(),
    };
    eprintln!(
        "leasing {cpus} cpus and {} MiB to {} as {}",
        memory >> 20,
        config.server,
        config.name
    );
    nubes_agent::run(config, compute).await?;
    Ok(0)
}

/// Total memory from /proc/meminfo.
pub fn host_memory() -> nubes::Result<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").map_err(|e| {
        Error::invalid_input(format!("cannot read /proc/meminfo ({e}): pass --memory"))
    })?;
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| Error::invalid_input("cannot read the memory size: pass --memory"))
}
