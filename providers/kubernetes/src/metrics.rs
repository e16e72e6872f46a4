//! Stats from the metrics API (`metrics.k8s.io`, served where a metrics-server runs). It
//! reports CPU and memory only; network and block I/O stay zero.

use k8s_openapi::api::core::v1::Pod;
use nubes_core::{Error, ErrorKind, InstanceSpec, InstanceStats, Result};
use serde::Deserialize;

use crate::config::Cluster;
use crate::error::from_kube;
use crate::manifest::{parse_quantity, CONTAINER};

#[derive(Deserialize)]
struct PodMetrics {
    containers: Vec<ContainerMetrics>,
}

#[derive(Deserialize)]
struct ContainerMetrics {
    name: String,
    usage: std::collections::BTreeMap<String, String>,
}

pub async fn pod(cluster: &Cluster, pod: &Pod, spec: &InstanceSpec) -> Result<InstanceStats> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uri = format!(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods/{name}",
        cluster.namespace
    );
    let request = http::Request::get(uri)
        .body(Vec::new())
        .map_err(|e| Error::unexpected(format!("a metrics request: {e}")))?;
    let metrics: PodMetrics = cluster
        .client
        .request(request)
        .await
        .map_err(|e| from_kube(e, &format!("the metrics of instance {name}")))?;
    let usage = metrics
        .containers
        .iter()
        .find(|c| c.name == CONTAINER)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unavailable,
                format!("no metrics yet for instance {name}"),
            )
            .set_temporary()
        })?;
    let quantity = |k: &str| usage.usage.get(k).and_then(|q| parse_quantity_fraction(q));
    let mut stats = InstanceStats::default();
    // CPU comes in cores (`250m`, `12345n`); Nubes counts percent of one core.
    stats.cpu_percent = quantity("cpu").unwrap_or(0.0) * 100.0;
    stats.memory_bytes = usage
        .usage
        .get("memory")
        .and_then(|q| parse_quantity(q))
        .unwrap_or(0);
    stats.memory_limit_bytes = spec.memory;
    Ok(stats)
}

/// A quantity with fractional suffixes (`n`, `u`, `m`) as a float.
fn parse_quantity_fraction(q: &str) -> Option<f64> {
    let (n, f) = match q.chars().last()? {
        'n' => (&q[..q.len() - 1], 1e-9),
        'u' => (&q[..q.len() - 1], 1e-6),
        'm' => (&q[..q.len() - 1], 1e-3),
        _ => return parse_quantity(q).map(|v| v as f64),
    };
    n.parse::<f64>().ok().map(|v| v * f)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_quantities() {
        assert_eq!(super::parse_quantity_fraction("250m"), Some(0.25));
        assert_eq!(super::parse_quantity_fraction("500000000n"), Some(0.5));
        assert_eq!(super::parse_quantity_fraction("2"), Some(2.0));
    }
}
