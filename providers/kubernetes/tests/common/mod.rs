//! The cluster the tests run on: the one `scripts/test.sh` builds and starts (its kubeconfig in
//! `NUBES_TEST_K8S_KUBECONFIG`), or one of your own. Run alone, without it, the tests fail with
//! a hint instead of skipping.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

pub fn kubeconfig() -> String {
    std::env::var("NUBES_TEST_K8S_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "NUBES_TEST_K8S_KUBECONFIG is not set: scripts/test.sh builds and starts a Kubernetes \
             cluster and sets it (or point it at a kubeconfig of your own)"
        )
    })
}

/// The image pods run: one the cluster's nodes have (the test script's local busybox).
pub fn image() -> String {
    std::env::var("NUBES_TEST_K8S_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into())
}

/// The pull policy for that image: `never` on the test script's cluster, which has no registry.
pub fn pull() -> String {
    std::env::var("NUBES_TEST_K8S_PULL").unwrap_or_else(|_| "never".into())
}

pub fn uri(namespace: &str, extra: &str) -> String {
    format!(
        "kubernetes://?kubeconfig={}&namespace={namespace}&pull={}{extra}",
        kubeconfig(),
        pull()
    )
}

pub async fn admin() -> Client {
    let file = Kubeconfig::read_from(kubeconfig()).expect("the test kubeconfig");
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .expect("a usable test kubeconfig");
    Client::try_from(config).expect("a client")
}

/// A namespace of its own for one test, with its default service account in place (pods need
/// it, and the controller makes it a moment after the namespace).
pub async fn namespace(client: &Client, what: &str) -> String {
    let suffix: String = (0..6).map(|_| fastrand::lowercase()).collect();
    let name = format!("nt-{what}-{suffix}");
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"nubes-test": "true"}}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create the test namespace");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    for _ in 0..100 {
        if accounts.get_opt("default").await.unwrap().is_some() {
            return name;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("namespace {name} got no default service account");
}

/// Runs `test` in a namespace of its own and drops the namespace afterwards, also when the test
/// panics (the kits panic with their report after cleaning up).
pub async fn in_namespace<F, Fut>(what: &str, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let client = admin().await;
    let ns = namespace(&client, what).await;
    let outcome = std::panic::AssertUnwindSafe(test(ns.clone()))
        .catch_unwind()
        .await;
    drop_namespace(&client, &ns).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Drops a test namespace and the scope namespaces made beside it.
pub async fn drop_namespace(client: &Client, name: &str) {
    let namespaces = Api::<Namespace>::all(client.clone());
    let beside = kube::api::ListParams::default().labels(&format!("io.nubes.base={name}"));
    if let Ok(list) = namespaces.list(&beside).await {
        for ns in list.items.iter().filter_map(|n| n.metadata.name.as_deref()) {
            let _ = namespaces.delete(ns, &DeleteParams::default()).await;
        }
    }
    let _ = namespaces.delete(name, &DeleteParams::default()).await;
}
