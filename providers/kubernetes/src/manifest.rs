//! Pure translation from Nubes requests to Kubernetes objects and back: no IO here, so every
//! rule is unit-tested without a cluster (kube-rs's split between building requests and
//! sending them).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Pod, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceQuota, ResourceQuotaSpec, ResourceRequirements, SeccompProfile, Secret,
    SecurityContext, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::ByteString;
use nubes_core::compute::{DEFAULT_CPUS, DEFAULT_MEMORY};
use nubes_core::{Error, FunctionSpec, InstanceSpec, Resources, Result, Scope};
use serde::{Deserialize, Serialize};

use crate::config::Settings;

/// Every object Nubes makes carries it; get and list see nothing else.
pub const MANAGED: &str = "io.nubes.managed";
pub const KIND: &str = "io.nubes.kind";
pub const KIND_INSTANCE: &str = "instance";
pub const KIND_FUNCTION: &str = "function";
pub const KIND_INVOCATION: &str = "invocation";
/// On a pod: the instance it is. On a Job: the function it invokes.
pub const INSTANCE: &str = "io.nubes.instance";
pub const FUNCTION: &str = "io.nubes.function";
/// The uid a root image runs as when root is not allowed.
pub const NOBODY: i64 = 65534;
/// The container every Nubes pod has.
pub const CONTAINER: &str = "main";

/// What an instance's record (a Secret that outlives its pod) holds: the spec it was made
/// with, and how its image had to be run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub spec: InstanceSpec,
    /// The image runs as root and root is not allowed: run it as `nobody`.
    #[serde(default)]
    pub as_nobody: bool,
}

pub fn instance_record_name(name: &str) -> String {
    format!("nubes-i-{name}")
}

pub fn function_record_name(name: &str) -> String {
    format!("nubes-fn-{name}")
}

fn meta(name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// The labels an object of `kind` carries: the user's, then Nubes's own.
pub fn labels(kind: &str, user: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    let mut all = BTreeMap::new();
    for (k, v) in user {
        label(k, v)?;
        all.insert(k.clone(), v.clone());
    }
    all.insert(MANAGED.into(), "true".into());
    all.insert(KIND.into(), kind.into());
    Ok(all)
}

/// Whether an object carries Nubes's labels for `kind`: one Nubes made, not a stranger's of
/// the same name.
pub fn is(meta: &ObjectMeta, kind: &str) -> bool {
    meta.labels.as_ref().is_some_and(|l| {
        l.get(MANAGED).map(String::as_str) == Some("true")
            && l.get(KIND).map(String::as_str) == Some(kind)
    })
}

/// A label selector for objects of `kind`, with the user's filters.
pub fn selector(kind: &str, user: &BTreeMap<String, String>) -> String {
    let mut parts = vec![format!("{MANAGED}=true"), format!("{KIND}={kind}")];
    parts.extend(user.iter().map(|(k, v)| format!("{k}={v}")));
    parts.join(",")
}

/// Kubernetes's label rules (63-character names of `[A-Za-z0-9._-]`, an optional DNS prefix),
/// checked here so a bad label is `InvalidInput` with a reason, and a selector can never be
/// smuggled through one.
fn label(key: &str, value: &str) -> Result<()> {
    fn part(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
    }
    let (prefix, name) = key
        .rsplit_once('/')
        .map_or((None, key), |(p, n)| (Some(p), n));
    let key_ok = part(name)
        && prefix.is_none_or(|p| {
            p.len() <= 253
                && p.split('.').all(|l| {
                    part(l)
                        && l.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                })
        });
    if !key_ok {
        return Err(Error::invalid_input(format!(
            "label key `{}` is not a Kubernetes label key (an optional DNS prefix and `/`, then \
             1-63 letters, digits, '-', '_' or '.')",
            key.escape_debug()
        )));
    }
    if !(value.is_empty() || part(value)) {
        return Err(Error::invalid_input(format!(
            "label `{key}`'s value `{}` is not a Kubernetes label value (0-63 letters, digits, \
             '-', '_' or '.', starting and ending with a letter or digit)",
            value.escape_debug()
        )));
    }
    Ok(())
}

/// Millicores, at least one.
pub fn cpu_quantity(cpus: f64) -> Quantity {
    Quantity(format!("{}m", ((cpus * 1000.0).round() as i64).max(1)))
}

/// Requests equal to limits, so the pod's QoS class is Guaranteed and what the scheduler
/// reserves is exactly what the kubelet enforces and Nubes bills.
pub fn resources(cpus: f64, memory: u64) -> ResourceRequirements {
    let amounts: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), cpu_quantity(cpus)),
        ("memory".to_string(), Quantity(memory.to_string())),
    ]
    .into();
    ResourceRequirements {
        requests: Some(amounts.clone()),
        limits: Some(amounts),
        ..ResourceRequirements::default()
    }
}

/// Reads a quantity (`1Gi`, `500M`, `1073741824`, `1.5Gi`) as a whole number of units.
pub fn parse_quantity(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "m" => 1e-3,
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    Some((n * factor).ceil() as u64)
}

/// The hardening every Nubes container gets: no privilege escalation, no capabilities, the
/// runtime's seccomp profile, and not root unless the connection allows it.
pub fn security(settings: &Settings, as_nobody: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        privileged: Some(false),
        read_only_root_filesystem: Some(settings.read_only_root),
        run_as_non_root: (!settings.allow_root).then_some(true),
        run_as_user: as_nobody.then_some(NOBODY),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

/// A pod spec's fixed parts: no service account token (a tenant's code must not hold
/// credentials for the cluster), no service links, never restarted by the kubelet.
fn pod_spec(container: Container, volumes: Vec<Volume>, grace: i64) -> PodSpec {
    PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(grace),
        security_context: Some(PodSecurityContext {
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..PodSpec::default()
    }
}

fn env(vars: &BTreeMap<String, String>) -> Option<Vec<EnvVar>> {
    (!vars.is_empty()).then(|| {
        vars.iter()
            .map(|(k, v)| EnvVar {
                name: k.clone(),
                value: Some(v.clone()),
                ..EnvVar::default()
            })
            .collect()
    })
}

/// The record of an instance: the spec (with the defaults it was given) and its labels.
pub fn instance_record(record: &InstanceRecord) -> Result<Secret> {
    let spec = &record.spec;
    let labels = labels(KIND_INSTANCE, &spec.labels)?;
    let json = serde_json::to_vec(record)
        .map_err(|e| Error::unexpected(format!("cannot encode the instance spec: {e}")))?;
    Ok(secret(
        &instance_record_name(&spec.name),
        labels,
        "record",
        json,
    ))
}

/// Records are Secrets: they hold the environment, which may hold credentials, and Kubernetes's
/// read-only `view` role reads ConfigMaps but not Secrets.
fn secret(name: &str, labels: BTreeMap<String, String>, key: &str, value: Vec<u8>) -> Secret {
    Secret {
        metadata: meta(name, labels),
        type_: Some("Opaque".into()),
        data: Some([(key.to_string(), ByteString(value))].into()),
        ..Secret::default()
    }
}

fn secret_value<'a>(s: &'a Secret, key: &str) -> Option<&'a [u8]> {
    s.data.as_ref()?.get(key).map(|b| &b.0[..])
}

/// Reads a record back; `None` for a Secret that is not one.
pub fn read_instance_record(s: &Secret) -> Option<InstanceRecord> {
    serde_json::from_slice(secret_value(s, "record")?).ok()
}

/// A delete that applies only to the object with `uid`: one a racing call made since under the
/// same name stays.
pub fn only(uid: Option<String>) -> Option<kube::api::Preconditions> {
    Some(kube::api::Preconditions {
        uid,
        resource_version: None,
    })
}

/// The owner reference that has the garbage collector remove `child` with `owner`.
pub fn owned_by(owner: &ObjectMeta, kind: &str, api_version: &str) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: owner.name.clone()?,
        uid: owner.uid.clone()?,
        ..OwnerReference::default()
    })
}

/// The pod of an instance. `owner` is its record, so deleting the record removes the pod.
pub fn pod(record: &InstanceRecord, owner: &Secret, settings: &Settings) -> Result<Pod> {
    let spec = &record.spec;
    let mut labels = labels(KIND_INSTANCE, &spec.labels)?;
    labels.insert(INSTANCE.into(), spec.name.clone());
    let (mut mounts, mut volumes) = (Vec::new(), Vec::new());
    for (i, v) in spec.volumes.iter().enumerate() {
        let name = format!("disk-{i}");
        mounts.push(VolumeMount {
            name: name.clone(),
            mount_path: v.path.clone(),
            read_only: Some(v.read_only),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name,
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: v.disk.clone(),
                read_only: Some(v.read_only),
            }),
            ..Volume::default()
        });
    }
    let container = Container {
        name: CONTAINER.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some(settings.pull_policy.clone()),
        // `command` overrides what the image runs by default (its CMD), as on Docker.
        args: spec.command.clone(),
        env: env(&spec.env),
        resources: Some(resources(
            spec.cpus.unwrap_or(DEFAULT_CPUS),
            spec.memory.unwrap_or(DEFAULT_MEMORY),
        )),
        security_context: Some(security(settings, record.as_nobody)),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Container::default()
    };
    let mut meta = meta(&spec.name, labels);
    meta.owner_references = owned_by(&owner.metadata, "Secret", "v1").map(|o| vec![o]);
    Ok(Pod {
        metadata: meta,
        spec: Some(pod_spec(container, volumes, 10)),
        ..Pod::default()
    })
}

/// The record of a function.
pub fn function_record(spec: &FunctionSpec) -> Result<Secret> {
    let json = serde_json::to_vec(spec)
        .map_err(|e| Error::unexpected(format!("cannot encode the function spec: {e}")))?;
    let mut labels = labels(KIND_FUNCTION, &BTreeMap::new())?;
    labels.insert(FUNCTION.into(), spec.name.clone());
    Ok(secret(
        &function_record_name(&spec.name),
        labels,
        "spec",
        json,
    ))
}

pub fn read_function_record(s: &Secret) -> Option<FunctionSpec> {
    serde_json::from_slice(secret_value(s, "spec")?).ok()
}

/// The longest a function runs when its spec sets no timeout.
pub const DEFAULT_FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The Job of one invocation, named `job`: the handler under the function wrapper, stdin open
/// for the payload, never retried, killed by the Job controller past the function's timeout
/// (the pod's start counts too: it is waited for as well).
pub fn invocation_job(
    job: &str,
    spec: &FunctionSpec,
    settings: &Settings,
    owner: &Secret,
) -> Result<Job> {
    let mut labels = labels(KIND_INVOCATION, &BTreeMap::new())?;
    labels.insert(FUNCTION.into(), spec.name.clone());
    let timeout = spec.timeout.unwrap_or(DEFAULT_FUNCTION_TIMEOUT);
    let container = Container {
        name: CONTAINER.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some(settings.pull_policy.clone()),
        command: Some(crate::script::function()),
        args: Some(spec.handler.clone()),
        env: env(&spec.env),
        stdin: Some(true),
        stdin_once: Some(true),
        resources: Some(resources(
            spec.cpus.unwrap_or(DEFAULT_CPUS),
            spec.memory.unwrap_or(DEFAULT_MEMORY),
        )),
        security_context: Some(security(settings, !settings.allow_root)),
        ..Container::default()
    };
    let mut meta = meta(job, labels.clone());
    meta.owner_references = owned_by(&owner.metadata, "Secret", "v1").map(|o| vec![o]);
    Ok(Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(
                timeout.as_secs() as i64 + settings.start_timeout.as_secs() as i64,
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(container, Vec::new(), 1)),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    })
}

/// The claim of a disk. Kubernetes volumes have no image format: a disk is raw.
pub fn claim(name: &str, size: u64, class: Option<&str>) -> Result<PersistentVolumeClaim> {
    let labels = labels("disk", &BTreeMap::new())?;
    Ok(PersistentVolumeClaim {
        metadata: meta(name, labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: class.map(str::to_string),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), Quantity(size.to_string()))].into()),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}

/// On a namespace Nubes made for a scope: the scope, and the namespace it was made beside.
pub const SCOPE: &str = "io.nubes.scope";
pub const BASE: &str = "io.nubes.base";
/// The ResourceQuota holding a scope's limits, and the NetworkPolicy fencing its pods.
pub const QUOTA: &str = "nubes-limits";
pub const ISOLATION: &str = "nubes-isolation";

/// The namespace of `scope` beside `base`: `BASE-SCOPE`.
pub fn scope_namespace(base: &str, scope: &Scope) -> Result<String> {
    scope.validate()?;
    let ns = format!("{base}-{}", scope.name);
    crate::config::dns_label("namespace", &ns).map_err(|_| {
        Error::invalid_input(format!(
            "scope `{}` beside namespace {base} makes `{ns}`, longer than the 63 characters              of a Kubernetes namespace: use a shorter namespace",
            scope.name
        ))
    })?;
    Ok(ns)
}

/// Which scope `ns` holds when it is one of `base`'s scope namespaces (`BASE-SCOPE`): others
/// are not looked in, whatever they hold.
pub fn scope_of<'a>(base: &str, ns: &'a str) -> Option<&'a str> {
    let scope = ns.strip_prefix(base)?.strip_prefix('-')?;
    Scope::new(scope).validate().ok()?;
    Some(scope)
}

/// The namespace of `scope`, labelled so that Nubes knows it for its own.
pub fn namespace(base: &str, scope: &Scope) -> Result<Namespace> {
    let labels = [
        (MANAGED.to_string(), "true".to_string()),
        (SCOPE.to_string(), scope.name.clone()),
        (BASE.to_string(), base.to_string()),
    ]
    .into();
    Ok(Namespace {
        metadata: meta(&scope_namespace(base, scope)?, labels),
        ..Namespace::default()
    })
}

/// Whether namespace `ns` is the one Nubes made for `scope` beside `base`.
pub fn is_scope_namespace(ns: &Namespace, base: &str, scope: &Scope) -> bool {
    let label = |k: &str| ns.metadata.labels.as_ref().and_then(|l| l.get(k));
    label(MANAGED).is_some_and(|v| v == "true")
        && label(SCOPE).is_some_and(|v| *v == scope.name)
        && label(BASE).is_some_and(|v| v == base)
}

/// A scope's limits as the API server enforces them on every pod in its namespace: requests and
/// limits of cpu and memory (Nubes pods set both, equal). Storage is not counted here: disks
/// are claims in the base namespace.
pub fn quota(limits: &Resources) -> ResourceQuota {
    let cpu = Quantity(format!("{}m", limits.millicpus));
    let memory = Quantity(limits.memory.to_string());
    let hard = [
        ("requests.cpu".to_string(), cpu.clone()),
        ("limits.cpu".to_string(), cpu),
        ("requests.memory".to_string(), memory.clone()),
        ("limits.memory".to_string(), memory),
    ]
    .into();
    ResourceQuota {
        metadata: meta(QUOTA, [(MANAGED.to_string(), "true".to_string())].into()),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    }
}

/// Lets pods of a scope's namespace be reached from that namespace only. Enforced by the
/// cluster's network plugin where it implements NetworkPolicy (Calico, Cilium, ...).
pub fn isolation() -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(
            ISOLATION,
            [(MANAGED.to_string(), "true".to_string())].into(),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector::default()),
                    ..NetworkPolicyPeer::default()
                }]),
                ..NetworkPolicyIngressRule::default()
            }]),
            ..NetworkPolicySpec::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubes_core::Volume as Mount;

    #[test]
    fn a_scope_is_a_labelled_namespace_with_its_limits_as_a_quota() {
        let scope = Scope::new("0af3").limits(Resources::new(2500, 2 << 30, 20 << 30, 0));
        assert_eq!(scope_namespace("nubes", &scope).unwrap(), "nubes-0af3");
        let ns = namespace("nubes", &scope).unwrap();
        assert!(is_scope_namespace(&ns, "nubes", &scope));
        assert!(!is_scope_namespace(&ns, "other", &scope));
        assert!(!is_scope_namespace(&Namespace::default(), "nubes", &scope));
        let hard = quota(scope.limits.as_ref().unwrap())
            .spec
            .unwrap()
            .hard
            .unwrap();
        assert_eq!(hard["limits.cpu"], Quantity("2500m".into()));
        assert_eq!(hard["requests.cpu"], hard["limits.cpu"]);
        assert_eq!(hard["limits.memory"], Quantity((2u64 << 30).to_string()));
        assert_eq!(hard.len(), 4);
        // Too long for a namespace, or not a scope name at all.
        let long = format!("{}x", "a".repeat(32));
        assert!(scope_namespace(&"n".repeat(40), &Scope::new("a".repeat(32))).is_err());
        assert!(scope_namespace("nubes", &Scope::new(long)).is_err());
        assert!(scope_namespace("nubes", &Scope::new("a-b")).is_err());
        // Only BASE-SCOPE namespaces are a base's: not the base of a longer name.
        assert_eq!(scope_of("nubes", "nubes-0af3"), Some("0af3"));
        assert_eq!(scope_of("nubes", "nubes-test-0af3"), None);
        assert_eq!(scope_of("nubes", "nubes"), None);
        assert_eq!(scope_of("nubes", "nubesx-1"), None);
        let policy = isolation().spec.unwrap();
        let from = &policy.ingress.unwrap()[0].from.clone().unwrap()[0];
        // Pods of this namespace only: no namespace selector, no address blocks.
        assert!(from.namespace_selector.is_none() && from.ip_block.is_none());
        assert_eq!(policy.pod_selector, Some(LabelSelector::default()));
    }

    fn settings() -> Settings {
        Settings::parse("kubernetes://?pull=never").unwrap()
    }

    #[test]
    fn an_instance_becomes_a_guaranteed_hardened_pod_owned_by_its_record() {
        let spec = InstanceSpec::new("web", "nubes-test/busybox")
            .cpus(0.5)
            .memory(64 << 20)
            .command(["sleep", "60"])
            .env("A", "b")
            .label("tier", "web")
            .volume(Mount::new("data", "/data"));
        let record = InstanceRecord {
            spec,
            as_nobody: true,
        };
        let mut cm = instance_record(&record).unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some("nubes-i-web"));
        // The spec holds the environment: it is kept where `view` cannot read it.
        assert_eq!(cm.type_.as_deref(), Some("Opaque"));
        assert_eq!(read_instance_record(&cm), Some(record.clone()));
        cm.metadata.uid = Some("u-1".into());
        let pod = pod(&record, &cm, &settings()).unwrap();
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["tier"], "web");
        assert_eq!(labels[MANAGED], "true");
        assert_eq!(labels[INSTANCE], "web");
        assert_eq!(
            pod.metadata.owner_references.as_ref().unwrap()[0].uid,
            "u-1"
        );
        let spec = pod.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.automount_service_account_token, Some(false));
        let c = &spec.containers[0];
        assert_eq!(
            c.args.as_deref(),
            Some(&["sleep".to_string(), "60".into()][..])
        );
        assert_eq!(c.image_pull_policy.as_deref(), Some("Never"));
        let r = c.resources.as_ref().unwrap();
        assert_eq!(r.requests, r.limits);
        assert_eq!(r.limits.as_ref().unwrap()["cpu"], Quantity("500m".into()));
        assert_eq!(
            r.limits.as_ref().unwrap()["memory"],
            Quantity("67108864".into())
        );
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.run_as_user, Some(NOBODY));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
        assert_eq!(c.volume_mounts.as_ref().unwrap()[0].mount_path, "/data");
        let v = &spec.volumes.as_ref().unwrap()[0];
        assert_eq!(
            v.persistent_volume_claim.as_ref().unwrap().claim_name,
            "data"
        );
    }

    #[test]
    fn defaults_and_root() {
        let record = InstanceRecord {
            spec: InstanceSpec::new("a", "img"),
            as_nobody: false,
        };
        let cm = instance_record(&record).unwrap();
        let s = Settings::parse("kubernetes://?root=allow&read_only=true").unwrap();
        let pod = pod(&record, &cm, &s).unwrap();
        let c = &pod.spec.unwrap().containers[0];
        let limits = c.resources.as_ref().unwrap().limits.clone().unwrap();
        assert_eq!(limits["cpu"], Quantity("1000m".into()));
        assert_eq!(limits["memory"], Quantity((256u64 << 20).to_string()));
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_non_root, None);
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    }

    #[test]
    fn labels_kubernetes_refuses_are_refused_here() {
        for (k, v) in [
            ("a b", "x"),
            ("tier", "has space"),
            ("tier", "x,io.nubes.managed=true"),
            ("UPPER.example/x", "y"),
            ("k", &"v".repeat(64)),
        ] {
            let user = [(k.to_string(), v.to_string())].into();
            assert!(labels(KIND_INSTANCE, &user).is_err(), "{k}={v}");
        }
        let ok = [("example.com/tier".to_string(), "web_1.a".to_string())].into();
        assert!(labels(KIND_INSTANCE, &ok).is_ok());
        assert_eq!(
            selector(
                KIND_INSTANCE,
                &[("tier".to_string(), "web".to_string())].into()
            ),
            "io.nubes.managed=true,io.nubes.kind=instance,tier=web"
        );
    }

    #[test]
    fn a_function_invocation_is_a_job_that_never_retries() {
        let spec = FunctionSpec::new("upper", "img", ["tr", "a-z", "A-Z"])
            .timeout(std::time::Duration::from_secs(5));
        let mut cm = function_record(&spec).unwrap();
        assert_eq!(read_function_record(&cm).unwrap().handler, spec.handler);
        cm.metadata.uid = Some("u-2".into());
        let job = invocation_job("upper-abc", &spec, &settings(), &cm).unwrap();
        let js = job.spec.unwrap();
        assert_eq!(js.backoff_limit, Some(0));
        assert_eq!(js.active_deadline_seconds, Some(5 + 120));
        let ps = js.template.spec.unwrap();
        assert_eq!(ps.restart_policy.as_deref(), Some("Never"));
        let c = &ps.containers[0];
        assert_eq!((c.stdin, c.stdin_once), (Some(true), Some(true)));
        assert_eq!(c.args.as_ref().unwrap(), &spec.handler);
        assert_eq!(c.command.as_ref().unwrap()[0], "sh");
        assert_eq!(
            c.security_context.as_ref().unwrap().run_as_user,
            Some(NOBODY)
        );
    }

    #[test]
    fn claims_and_quantities() {
        let pvc = claim("data", 1 << 30, Some("fast")).unwrap();
        let s = pvc.spec.unwrap();
        assert_eq!(s.storage_class_name.as_deref(), Some("fast"));
        let size = &s.resources.unwrap().requests.unwrap()["storage"];
        assert_eq!(parse_quantity(&size.0), Some(1 << 30));
        for (q, n) in [
            ("1Gi", 1u64 << 30),
            ("500M", 500_000_000),
            ("1.5Ki", 1536),
            ("7", 7),
        ] {
            assert_eq!(parse_quantity(q), Some(n), "{q}");
        }
        assert_eq!(parse_quantity("1Xi"), None);
        assert_eq!(cpu_quantity(0.0001), Quantity("1m".into()));
    }
}
