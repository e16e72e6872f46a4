//! What a pod's status means for an instance: its state, its exit code, and why it cannot start.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use nubes_core::{Error, ErrorKind, InstanceState};

use crate::manifest::CONTAINER;

pub fn time(t: &Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// The state of an instance whose pod this is, and its exit code once it ended.
pub fn state(pod: &Pod) -> (InstanceState, Option<i64>) {
    if pod.metadata.deletion_timestamp.is_some() {
        return (InstanceState::Stopping, None);
    }
    match phase(pod) {
        "Running" => (InstanceState::Running, None),
        "Succeeded" | "Failed" => (InstanceState::Stopped, exit_code(pod)),
        "Pending" => (InstanceState::Creating, None),
        _ => (InstanceState::Unknown, None),
    }
}

/// The main container's exit code, once it has ended.
pub fn exit_code(pod: &Pod) -> Option<i64> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| i64::from(t.exit_code))
}

/// The cpus and memory the main container's limits give it.
pub fn size(pod: &Pod) -> (Option<f64>, Option<u64>) {
    let limits = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let Some(limits) = limits else {
        return (None, None);
    };
    let cpus = limits.get("cpu").and_then(|q| match q.0.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => q.0.parse::<f64>().ok(),
    });
    let memory = limits
        .get("memory")
        .and_then(|q| crate::manifest::parse_quantity(&q.0));
    (cpus, memory)
}

/// Whether the pod has run and ended (a finished command, a failed Job pod).
pub fn finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Why a pod will not start, once the kubelet has said so.
#[derive(Debug)]
pub enum Stuck {
    /// The image runs as root and the pod asked for a non-root user.
    Root,
    /// Anything else: the error to report.
    Error(Error),
}

/// The reason the main container is stuck waiting, if it is one that will not pass.
pub fn stuck(pod: &Pod) -> Option<Stuck> {
    let status = pod.status.as_ref()?;
    let waiting = status
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)?
        .state
        .as_ref()?
        .waiting
        .as_ref()?;
    let reason = waiting.reason.as_deref().unwrap_or_default();
    let message = waiting.message.clone().unwrap_or_default();
    let image = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let kind = match reason {
        "ErrImageNeverPull" | "ErrImagePull" | "ImagePullBackOff" => ErrorKind::NotFound,
        "InvalidImageName" => ErrorKind::InvalidInput,
        "CreateContainerConfigError" if message.contains("runAsNonRoot") => {
            return Some(Stuck::Root)
        }
        "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError" => {
            ErrorKind::InvalidInput
        }
        _ => return None,
    };
    let what = if kind == ErrorKind::NotFound {
        format!("image {image} not found on the cluster's node ({reason}: {message})")
    } else {
        format!("the pod cannot start ({reason}): {message}")
    };
    Some(Stuck::Error(Error::new(kind, what)))
}

/// Why the scheduler has not placed the pod, if it said.
pub fn unschedulable(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .and_then(|c| c.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    fn waiting(reason: &str, message: &str) -> Pod {
        pod(serde_json::json!({
            "spec": {"containers": [{"name": "main", "image": "img:1"}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "main", "ready": false, "restartCount": 0, "image": "img:1", "imageID": "",
                "state": {"waiting": {"reason": reason, "message": message}}
            }]}
        }))
    }

    #[test]
    fn phases_are_states() {
        let running = pod(serde_json::json!({"status": {"phase": "Running"}}));
        assert_eq!(state(&running), (InstanceState::Running, None));
        let done = pod(
            serde_json::json!({"status": {"phase": "Failed", "containerStatuses": [{
                "name": "main", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                "state": {"terminated": {"exitCode": 3}}
            }]}}),
        );
        assert_eq!(state(&done), (InstanceState::Stopped, Some(3)));
        assert!(finished(&done));
        let going = pod(serde_json::json!({
            "metadata": {"deletionTimestamp": "2026-12-06T12:00:00Z"},
            "status": {"phase": "Running"}
        }));
        assert_eq!(state(&going).0, InstanceState::Stopping);
    }

    #[test]
    fn sizes_come_from_the_limits() {
        let p = pod(serde_json::json!({"spec": {"containers": [{"name": "main",
            "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}}]}}));
        assert_eq!(size(&p), (Some(0.25), Some(64 << 20)));
        let p = pod(serde_json::json!({"spec": {"containers": [{"name": "main",
            "resources": {"limits": {"cpu": "2", "memory": "1000"}}}]}}));
        assert_eq!(size(&p), (Some(2.0), Some(1000)));
    }

    #[test]
    fn stuck_pods_say_why() {
        let Some(Stuck::Error(e)) = stuck(&waiting("ErrImageNeverPull", "not present")) else {
            panic!()
        };
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("img:1"));
        assert!(matches!(
            stuck(&waiting(
                "CreateContainerConfigError",
                "container has runAsNonRoot and image will run as root"
            )),
            Some(Stuck::Root)
        ));
        assert!(stuck(&waiting("ContainerCreating", "")).is_none());
    }
}
