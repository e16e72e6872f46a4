//! Pure translation between Nubes types and Docker Engine API types: no IO, unit-tested.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    ContainerStatsResponse, ContainerUpdateBody, HostConfig, PortBinding,
};
use nubes_core::validate::RESERVED_LABEL_PREFIX;
use nubes_core::{
    Instance, InstanceSpec, InstanceState, InstanceStats, PortMapping, Protocol, ResizeRequest,
};

use crate::labels;
use crate::SCHEME;

/// Processes an instance may run when the spec sets no limit: stops fork bombs, fits real work.
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;

pub fn nano_cpus(cpus: f64) -> i64 {
    (cpus * 1e9).round() as i64
}

fn env_list(env: &BTreeMap<String, String>) -> Vec<String> {
    env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn port_key(p: &PortMapping) -> String {
    let proto = match p.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    format!("{}/{proto}", p.container_port)
}

/// Limits and hardening every Nubes container gets: no capabilities, no privilege escalation,
/// never privileged, and swap equal to memory so the memory limit is the real limit. No init
/// process: with one, a command that does not exist starts "successfully" and dies with 127;
/// without, the engine refuses to start it and `create` fails cleanly with nothing left behind.
pub fn host_config(cpus: Option<f64>, memory: Option<u64>, pids: Option<u64>) -> HostConfig {
    HostConfig {
        nano_cpus: cpus.map(nano_cpus),
        memory: memory.map(|m| m as i64),
        memory_swap: memory.map(|m| m as i64),
        pids_limit: Some(pids.map(|p| p as i64).unwrap_or(DEFAULT_PIDS_LIMIT)),
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        privileged: Some(false),
        ..HostConfig::default()
    }
}

/// The container body for an instance.
pub fn create_body(spec: &InstanceSpec) -> ContainerCreateBody {
    let mut all_labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    all_labels.insert(labels::MANAGED.into(), "true".into());
    all_labels.insert(labels::KIND.into(), labels::KIND_INSTANCE.into());

    let mut host = host_config(spec.cpus, spec.memory, spec.pids);
    if let Some(disk) = spec.disk {
        host.storage_opt = Some(HashMap::from([("size".to_string(), disk.to_string())]));
    }
    if !spec.ports.is_empty() {
        let bindings = spec
            .ports
            .iter()
            .map(|p| {
                let binding = PortBinding {
                    host_ip: None,
                    host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
                };
                (port_key(p), Some(vec![binding]))
            })
            .collect();
        host.port_bindings = Some(bindings);
    }
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        env: Some(env_list(&spec.env)),
        labels: Some(all_labels),
        exposed_ports: (!spec.ports.is_empty()).then(|| spec.ports.iter().map(port_key).collect()),
        host_config: Some(host),
        ..ContainerCreateBody::default()
    }
}

/// The update body for a resize; swap follows memory so the limit stays a hard one.
pub fn update_body(request: &ResizeRequest) -> ContainerUpdateBody {
    ContainerUpdateBody {
        nano_cpus: request.cpus.map(nano_cpus),
        memory: request.memory.map(|m| m as i64),
        memory_swap: request.memory.map(|m| m as i64),
        ..ContainerUpdateBody::default()
    }
}

pub fn state(status: Option<ContainerStateStatusEnum>) -> InstanceState {
    match status {
        Some(ContainerStateStatusEnum::CREATED) => InstanceState::Creating,
        Some(ContainerStateStatusEnum::RUNNING) => InstanceState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => InstanceState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => InstanceState::Restarting,
        Some(ContainerStateStatusEnum::STOPPING) => InstanceState::Stopping,
        Some(ContainerStateStatusEnum::REMOVING) => InstanceState::Deleting,
        Some(ContainerStateStatusEnum::EXITED) => InstanceState::Stopped,
        Some(ContainerStateStatusEnum::DEAD) => InstanceState::Failed,
        _ => InstanceState::Unknown,
    }
}

/// Whether an inspected container is a Nubes container of `kind`.
pub fn is_managed(c: &ContainerInspectResponse, kind: &str) -> bool {
    let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
    labels.is_some_and(|l| {
        l.get(labels::MANAGED).map(String::as_str) == Some("true")
            && l.get(labels::KIND).map(String::as_str) == Some(kind)
    })
}

/// An instance from an inspected container.
pub fn instance(c: &ContainerInspectResponse) -> Instance {
    let name = c
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/');
    let mut i = Instance::new(c.id.clone().unwrap_or_default(), name, SCHEME);
    let config = c.config.as_ref();
    i.image = config.and_then(|c| c.image.clone()).unwrap_or_default();
    let st = c.state.as_ref();
    i.state = state(st.and_then(|s| s.status));
    if i.state == InstanceState::Stopped {
        i.exit_code = st.and_then(|s| s.exit_code);
    }
    let host = c.host_config.as_ref();
    i.cpus = host
        .and_then(|h| h.nano_cpus)
        .filter(|n| *n > 0)
        .map(|n| n as f64 / 1e9);
    i.memory = host
        .and_then(|h| h.memory)
        .filter(|m| *m > 0)
        .map(|m| m as u64);
    i.disk = host
        .and_then(|h| h.storage_opt.as_ref())
        .and_then(|o| o.get("size"))
        .and_then(|s| nubes_core::units::parse_bytes(s).ok());
    i.labels = config
        .and_then(|c| c.labels.as_ref())
        .map(|l| {
            l.iter()
                .filter(|(k, _)| !k.starts_with(RESERVED_LABEL_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    i.ports = ports(c);
    i.created_at = c.created;
    i
}

fn ports(c: &ContainerInspectResponse) -> Vec<PortMapping> {
    // Live bindings (with the host port Docker chose) while running; the requested ones otherwise.
    let live = c.network_settings.as_ref().and_then(|n| n.ports.as_ref());
    let requested = c
        .host_config
        .as_ref()
        .and_then(|h| h.port_bindings.as_ref());
    let map = match live {
        Some(m) if !m.is_empty() => m,
        _ => match requested {
            Some(m) => m,
            None => return Vec::new(),
        },
    };
    let mut out: Vec<PortMapping> = map
        .iter()
        .filter_map(|(key, bindings)| {
            let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
            let container_port = port.parse().ok()?;
            let host_port = bindings
                .as_ref()
                .and_then(|b| b.iter().find_map(|b| b.host_port.as_deref()?.parse().ok()));
            Some(PortMapping {
                container_port,
                host_port,
                protocol: if proto == "udp" {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
            })
        })
        .collect();
    out.sort_by_key(|p| p.container_port);
    out.dedup();
    out
}

/// A stats sample; cpu is the delta against the previous sample the engine includes.
pub fn stats(s: &ContainerStatsResponse) -> InstanceStats {
    let mut out = InstanceStats::default();
    let total = |c: &Option<bollard::models::ContainerCpuStats>| {
        c.as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let system = |c: &Option<bollard::models::ContainerCpuStats>| {
        c.as_ref().and_then(|c| c.system_cpu_usage).unwrap_or(0)
    };
    let cpu_delta = total(&s.cpu_stats).saturating_sub(total(&s.precpu_stats));
    let system_delta = system(&s.cpu_stats).saturating_sub(system(&s.precpu_stats));
    let online = s
        .cpu_stats
        .as_ref()
        .and_then(|c| {
            c.online_cpus.map(u64::from).or_else(|| {
                c.cpu_usage
                    .as_ref()?
                    .percpu_usage
                    .as_ref()
                    .map(|p| p.len() as u64)
            })
        })
        .unwrap_or(1);
    if system_delta > 0 {
        out.cpu_percent = cpu_delta as f64 / system_delta as f64 * online as f64 * 100.0;
    }
    if let Some(m) = &s.memory_stats {
        // Page cache is reclaimable; subtract it the way `docker stats` does.
        let cache = m
            .stats
            .as_ref()
            .and_then(|st| {
                st.get("total_inactive_file")
                    .or(st.get("inactive_file"))
                    .or(st.get("cache"))
            })
            .copied()
            .unwrap_or(0);
        out.memory_bytes = m.usage.unwrap_or(0).saturating_sub(cache);
        out.memory_limit_bytes = m.limit;
    }
    if let Some(nets) = &s.networks {
        out.network_rx_bytes = nets.values().filter_map(|n| n.rx_bytes).sum();
        out.network_tx_bytes = nets.values().filter_map(|n| n.tx_bytes).sum();
    }
    let io = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref());
    for entry in io.into_iter().flatten() {
        let v = entry.value.unwrap_or(0);
        match entry.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => out.block_read_bytes += v,
            Some("write") => out.block_write_bytes += v,
            _ => {}
        }
    }
    out.pids = s.pids_stats.as_ref().and_then(|p| p.current);
    out
}

#[cfg(test)]
mod tests {
    use bollard::models::{
        ContainerConfig, ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats, ContainerState,
    };

    use super::*;

    #[test]
    fn create_body_is_limited_hardened_and_labelled() {
        let spec = InstanceSpec::new("web", "busybox")
            .cpus(1.5)
            .memory(256 << 20)
            .env("A", "b")
            .label("team", "x")
            .command(["sleep", "60"])
            .port(PortMapping::tcp(80, Some(8080)));
        let body = create_body(&spec);
        let host = body.host_config.as_ref().unwrap();
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.memory, Some(256 << 20));
        assert_eq!(host.memory_swap, Some(256 << 20));
        assert_eq!(host.pids_limit, Some(DEFAULT_PIDS_LIMIT));
        assert_eq!(host.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert_eq!(
            host.security_opt.as_deref(),
            Some(&["no-new-privileges".to_string()][..])
        );
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.init, None);
        assert!(host.storage_opt.is_none());
        let bindings = host.port_bindings.as_ref().unwrap();
        assert_eq!(
            bindings["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(),
            Some("8080")
        );
        let labels = body.labels.as_ref().unwrap();
        assert_eq!(labels[labels::MANAGED], "true");
        assert_eq!(labels[labels::KIND], labels::KIND_INSTANCE);
        assert_eq!(labels["team"], "x");
        assert_eq!(body.env.as_deref(), Some(&["A=b".to_string()][..]));
        assert_eq!(
            body.exposed_ports.as_deref(),
            Some(&["80/tcp".to_string()][..])
        );
    }

    #[test]
    fn disk_becomes_a_storage_opt() {
        let body = create_body(&InstanceSpec::new("d", "busybox").disk(1 << 30));
        let opt = body.host_config.unwrap().storage_opt.unwrap();
        assert_eq!(opt["size"], (1u64 << 30).to_string());
    }

    #[test]
    fn inspect_becomes_instance_without_internal_labels() {
        let c = ContainerInspectResponse {
            id: Some("abc".into()),
            name: Some("/web".into()),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::EXITED),
                exit_code: Some(137),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                image: Some("busybox".into()),
                labels: Some(HashMap::from([
                    (labels::MANAGED.to_string(), "true".to_string()),
                    (labels::KIND.to_string(), labels::KIND_INSTANCE.to_string()),
                    ("team".to_string(), "x".to_string()),
                ])),
                ..Default::default()
            }),
            host_config: Some(host_config(Some(0.5), Some(64 << 20), None)),
            ..Default::default()
        };
        assert!(is_managed(&c, labels::KIND_INSTANCE));
        assert!(!is_managed(&c, labels::KIND_FUNCTION));
        let i = instance(&c);
        assert_eq!(
            (i.id.as_str(), i.name.as_str(), i.image.as_str()),
            ("abc", "web", "busybox")
        );
        assert_eq!(i.state, InstanceState::Stopped);
        assert_eq!(i.exit_code, Some(137));
        assert_eq!(i.cpus, Some(0.5));
        assert_eq!(i.memory, Some(64 << 20));
        assert_eq!(i.labels.len(), 1);
    }

    #[test]
    fn cpu_percent_uses_deltas() {
        let cpu = |total, system| ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(total),
                ..Default::default()
            }),
            system_cpu_usage: Some(system),
            online_cpus: Some(2),
            ..Default::default()
        };
        let s = ContainerStatsResponse {
            cpu_stats: Some(cpu(1_500, 20_000)),
            precpu_stats: Some(cpu(1_000, 10_000)),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(10_000),
                limit: Some(64 << 20),
                stats: Some(HashMap::from([("total_inactive_file".to_string(), 4_000)])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = stats(&s);
        assert!((out.cpu_percent - 10.0).abs() < 1e-9, "{}", out.cpu_percent);
        assert_eq!(out.memory_bytes, 6_000);
        assert_eq!(out.memory_limit_bytes, Some(64 << 20));
    }
}
