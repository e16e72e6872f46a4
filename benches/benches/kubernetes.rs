//! The Kubernetes provider vs raw kube calls vs kubectl, on the same cluster, interleaved round
//! by round in one run: pod create → Running (Nubes; kube's create plus a watch; `kubectl apply`
//! plus `kubectl wait`), and an exec round trip (Nubes; kube's exec). Goals: create <= 1.05x raw
//! kube and below kubectl; exec <= 1.05x raw kube.
//!
//! Needs a cluster (`scripts/bench.sh` starts the test script's): `NUBES_TEST_K8S_KUBECONFIG`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{AttachParams, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Config};
use nubes::prelude::*;
use nubes::DeleteOptions;

const ROUNDS: usize = 8;
const EXECS: usize = 30;

#[derive(Default)]
struct Samples(HashMap<(&'static str, &'static str), Vec<Duration>>);

impl Samples {
    fn add(&mut self, op: &'static str, who: &'static str, d: Duration) {
        self.0.entry((op, who)).or_default().push(d);
    }

    fn median(&self, op: &'static str, who: &'static str) -> Duration {
        let mut v = self.0[&(op, who)].clone();
        v.sort();
        v[v.len() / 2]
    }
}

fn image() -> String {
    std::env::var("NUBES_TEST_K8S_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// The pod the raw client and kubectl make: what Nubes makes, hardening and sizes included,
/// less the record that owns it.
fn pod(name: &str) -> serde_json::Value {
    let sizes = serde_json::json!({"cpu": "100m", "memory": "33554432"});
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "raw"}},
        "spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": false,
            "enableServiceLinks": false, "terminationGracePeriodSeconds": 2,
            "containers": [{
                "name": "main", "image": image(), "imagePullPolicy": "Never",
                "args": ["sleep", "3600"],
                "resources": {"requests": sizes, "limits": sizes},
                "securityContext": {
                    "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
                    "runAsNonRoot": true, "runAsUser": 65534,
                    "seccompProfile": {"type": "RuntimeDefault"}
                }
            }]
        }
    })
}

async fn gone(pods: &Api<Pod>, name: &str) {
    let _ = pods
        .delete(
            name,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            },
        )
        .await;
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        await_condition(pods.clone(), name, |p: Option<&Pod>| p.is_none()),
    )
    .await;
}

fn kubectl(kubeconfig: &str, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kubectl on PATH");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "kubectl {args:?}");
}

#[tokio::main]
async fn main() {
    let kubeconfig = std::env::var("NUBES_TEST_K8S_KUBECONFIG")
        .expect("NUBES_TEST_K8S_KUBECONFIG: scripts/bench.sh starts a cluster and sets it");
    let file = Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let ns = format!(
        "nb-{}",
        (0..6).map(|_| fastrand::lowercase()).collect::<String>()
    );
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // the default service account
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let cloud = Cloud::connect(&format!(
        "kubernetes://?kubeconfig={kubeconfig}&namespace={ns}&pull=never"
    ))
    .await
    .unwrap();
    let compute = cloud.compute().unwrap();
    let spec = |name: &str| {
        InstanceSpec::new(name, image())
            .cpus(0.1)
            .memory(32 << 20)
            .command(["sleep", "3600"])
    };
    // Warm both paths once (connections, the image on the node, Nubes's root-image memory).
    let warm = compute.create(spec("warm")).await.unwrap();
    compute
        .delete(&warm.id, DeleteOptions::force())
        .await
        .unwrap();
    gone(&pods, "warm").await;

    let mut s = Samples::default();
    for round in 0..ROUNDS {
        let name = format!("n{round}");
        let t = Instant::now();
        compute.create(spec(&name)).await.unwrap();
        s.add("create → Running", "nubes", t.elapsed());

        let raw = format!("r{round}");
        let t = Instant::now();
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod(&raw)).unwrap(),
        )
        .await
        .unwrap();
        await_condition(pods.clone(), &raw, conditions::is_pod_running())
            .await
            .unwrap();
        s.add("create → Running", "raw kube", t.elapsed());

        let k = format!("k{round}");
        let t = Instant::now();
        kubectl(
            &kubeconfig,
            &["apply", "-n", &ns, "-f", "-"],
            Some(&pod(&k).to_string()),
        );
        kubectl(
            &kubeconfig,
            &[
                "wait",
                "-n",
                &ns,
                "--for=condition=Ready",
                &format!("pod/{k}"),
                "--timeout=120s",
            ],
            None,
        );
        s.add("create → Running", "kubectl", t.elapsed());

        if round == 0 {
            for _ in 0..EXECS {
                let t = Instant::now();
                let out = compute
                    .exec(&name, ExecRequest::new(["true"]))
                    .await
                    .unwrap();
                assert_eq!(out.exit_code, 0);
                s.add("exec round trip", "nubes", t.elapsed());
                let t = Instant::now();
                let mut proc = pods
                    .exec(&raw, ["true"], &AttachParams::default())
                    .await
                    .unwrap();
                let status = proc.take_status().unwrap().await;
                assert_eq!(status.and_then(|s| s.status).as_deref(), Some("Success"));
                s.add("exec round trip", "raw kube", t.elapsed());
            }
        }
        compute.delete(&name, DeleteOptions::force()).await.unwrap();
        for p in [&name, &raw, &k] {
            gone(&pods, p).await;
        }
    }
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;

    println!("\nKubernetes v1.20 on loopback, {ROUNDS} rounds ({EXECS} execs), medians:");
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "operation", "nubes", "raw kube", "kubectl", "nubes/raw", "nubes/kubectl"
    );
    for op in ["create → Running", "exec round trip"] {
        let (n, r) = (s.median(op, "nubes"), s.median(op, "raw kube"));
        let k =
            s.0.contains_key(&(op, "kubectl"))
                .then(|| s.median(op, "kubectl"));
        println!(
            "{:<20} {:>12.1?} {:>12.1?} {:>12} {:>14.2} {:>14}",
            op,
            n,
            r,
            k.map_or("-".into(), |k| format!("{k:.1?}")),
            n.as_secs_f64() / r.as_secs_f64(),
            k.map_or("-".into(), |k| format!(
                "{:.2}",
                n.as_secs_f64() / k.as_secs_f64()
            )),
        );
    }
}
