//! Scopes on the real cluster (see `common`): a namespace per scope beside the connection's,
//! its limits enforced by the API server as a ResourceQuota even when the caller's own checks
//! are bypassed, one handle reaching every scope, and one instance per name across them.

mod common;

use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{ListParams, PostParams};
use kube::Api;
use nubes_core::{
    Compute, DeleteOptions, ErrorKind, ExecRequest, InstanceSpec, InstanceState, ListOptions,
    Resources, Scope, StopOptions,
};
use std::sync::Arc;

async fn compute(ns: &str) -> Arc<dyn Compute> {
    nubes_kubernetes::connect(&common::uri(ns, ""))
        .await
        .unwrap()
        .compute()
        .unwrap()
}

fn sleeper(name: &str, cpus: f64) -> InstanceSpec {
    InstanceSpec::new(name, common::image())
        .command(["sleep", "3600"])
        .cpus(cpus)
        .memory(32 << 20)
}

/// The names of the instance records in namespace `ns`.
async fn records(admin: &kube::Client, ns: &str) -> Vec<String> {
    let api: Api<Secret> = Api::namespaced(admin.clone(), ns);
    let list = api
        .list(&ListParams::default().labels("io.nubes.kind=instance"))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .filter_map(|s| s.metadata.name)
        .collect()
}

async fn pod_in(admin: &kube::Client, ns: &str, name: &str) -> bool {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), ns);
    pods.get_opt(name)
        .await
        .unwrap()
        .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
}

async fn hard(admin: &kube::Client, ns: &str) -> Option<(String, String)> {
    let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), ns);
    let q = quotas.get_opt("nubes-limits").await.unwrap()?;
    let hard = q.spec?.hard?;
    Some((
        hard["limits.cpu"].0.clone(),
        hard["limits.memory"].0.clone(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_scope_is_a_namespace_its_quota_holds_and_one_handle_reaches_all() {
    common::in_namespace("scopes", |ns| async move {
        let admin = common::admin().await;
        let compute = compute(&ns).await;
        let (ns_a, ns_b) = (format!("{ns}-orga"), format!("{ns}-orgb"));
        let limits = Resources::new(300, 128 << 20, 0, 0);
        let a = Scope::new("orga").limits(limits);
        compute
            .create(sleeper("a-1", 0.2).scope(a.clone()))
            .await
            .unwrap();
        compute
            .create(sleeper("b-1", 0.1).scope(Scope::new("orgb")))
            .await
            .unwrap();
        compute.create(sleeper("p-1", 0.1)).await.unwrap();
        assert!(pod_in(&admin, &ns_a, "a-1").await);
        assert!(pod_in(&admin, &ns_b, "b-1").await);
        assert!(pod_in(&admin, &ns, "p-1").await);

        // The namespaces are labelled as Nubes's, fenced, and the limited one has its quota.
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        let labels = namespaces
            .get(&ns_a)
            .await
            .unwrap()
            .metadata
            .labels
            .unwrap();
        assert_eq!(labels["io.nubes.managed"], "true");
        assert_eq!(labels["io.nubes.scope"], "orga");
        assert_eq!(labels["io.nubes.base"], ns);
        assert_eq!(
            hard(&admin, &ns_a).await,
            Some(("300m".into(), (128u64 << 20).to_string()))
        );
        assert_eq!(hard(&admin, &ns_b).await, None);
        for n in [&ns_a, &ns_b] {
            let policies: Api<NetworkPolicy> = Api::namespaced(admin.clone(), n);
            assert!(policies.get_opt("nubes-isolation").await.unwrap().is_some());
        }

        // One handle lists, finds, execs in and stops and starts them wherever they are.
        let mut names: Vec<_> = compute
            .list(ListOptions::default())
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        names.sort();
        assert_eq!(names, ["a-1", "b-1", "p-1"]);
        let out = compute
            .exec("b-1", ExecRequest::new(["echo", "hi"]))
            .await
            .unwrap();
        assert_eq!(out.stdout, "hi\n".as_bytes());
        let stopped = compute.stop("a-1", StopOptions::default()).await.unwrap();
        assert_eq!(stopped.state, InstanceState::Stopped);
        assert!(!pod_in(&admin, &ns_a, "a-1").await);

        // The quota holds even where the caller's own plan check is bypassed: 0.2 running and
        // 0.2 more is past 0.3 (a-1 is stopped, so this one fits; start a-1 after it).
        compute
            .create(sleeper("a-2", 0.2).scope(a.clone()))
            .await
            .unwrap();
        let e = compute.start("a-1").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::QuotaExceeded, "{e}");
        let e = compute
            .create(sleeper("a-3", 0.2).scope(a.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::QuotaExceeded, "{e}");
        assert_eq!(
            compute.get("a-3").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(!records(&admin, &ns_a)
            .await
            .contains(&"nubes-i-a-3".to_string()));

        // A scope whose limits grew gets them at its next create.
        let more = Scope::new("orga").limits(Resources::new(600, 256 << 20, 0, 0));
        compute
            .create(sleeper("a-3", 0.1).scope(more))
            .await
            .unwrap();
        assert_eq!(
            hard(&admin, &ns_a).await,
            Some(("600m".into(), (256u64 << 20).to_string()))
        );
        assert_eq!(
            compute.start("a-1").await.unwrap().state,
            InstanceState::Running
        );

        // A name is one instance across the scopes and the connection's namespace.
        for (name, scope) in [("a-1", Some("orgb")), ("p-1", Some("orga")), ("b-1", None)] {
            let mut spec = sleeper(name, 0.1);
            if let Some(s) = scope {
                spec = spec.scope(Scope::new(s));
            }
            let e = compute.create(spec).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{name}: {e}");
        }
        assert_eq!(records(&admin, &ns_b).await, ["nubes-i-b-1"]);
        assert_eq!(records(&admin, &ns).await, ["nubes-i-p-1"]);

        // A namespace of that name Nubes did not make is not taken over.
        let foreign = format!("{ns}-orgc");
        let made: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": foreign}})).unwrap();
        namespaces
            .create(&PostParams::default(), &made)
            .await
            .unwrap();
        let e = compute
            .create(sleeper("c-1", 0.1).scope(Scope::new("orgc")))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(records(&admin, &foreign).await.is_empty());
        // Nor is it looked in: a record planted there is not an instance of this connection.
        let planted = nubes_kubernetes::manifest::instance_record(
            &nubes_kubernetes::manifest::InstanceRecord {
                spec: sleeper("planted", 0.1),
                as_nobody: false,
            },
        )
        .unwrap();
        Api::<Secret>::namespaced(admin.clone(), &foreign)
            .create(&PostParams::default(), &planted)
            .await
            .unwrap();
        assert_eq!(
            compute.get("planted").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(!compute
            .list(ListOptions::default())
            .await
            .unwrap()
            .iter()
            .any(|i| i.name == "planted"));
        common::drop_namespace(&admin, &foreign).await;

        for name in ["a-1", "a-2", "a-3", "b-1", "p-1"] {
            compute.delete(name, DeleteOptions::force()).await.unwrap();
            assert_eq!(
                compute.get(name).await.unwrap_err().kind(),
                ErrorKind::NotFound
            );
        }
        assert!(compute
            .list(ListOptions::default())
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_creates_racing_one_name_in_two_scopes_leave_one_instance() {
    common::in_namespace("race", |ns| async move {
        let admin = common::admin().await;
        let compute = compute(&ns).await;
        for round in 0..3 {
            let name = format!("race-{round}");
            let (x, y) = tokio::join!(
                compute.create(sleeper(&name, 0.05).scope(Scope::new("x"))),
                compute.create(sleeper(&name, 0.05).scope(Scope::new("y"))),
            );
            let made = [&x, &y].iter().filter(|r| r.is_ok()).count();
            assert!(made <= 1, "round {round}: both creates of {name} succeeded");
            for r in [&x, &y] {
                if let Err(e) = r {
                    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "round {round}: {e}");
                }
            }
            let record = format!("nubes-i-{name}");
            let mut held = 0;
            for scope in ["x", "y"] {
                held += records(&admin, &format!("{ns}-{scope}"))
                    .await
                    .iter()
                    .filter(|r| **r == record)
                    .count();
            }
            assert_eq!(
                held, made,
                "round {round}: records left {held}, made {made}"
            );
            if made == 1 {
                compute.delete(&name, DeleteOptions::force()).await.unwrap();
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handle_follows_an_instance_another_made_again_in_another_scope() {
    common::in_namespace("moved", |ns| async move {
        let (mine, theirs) = (compute(&ns).await, compute(&ns).await);
        mine.create(sleeper("m-1", 0.05).scope(Scope::new("x")))
            .await
            .unwrap();
        // Another server process deletes it and makes one of that name in another scope.
        theirs.delete("m-1", DeleteOptions::force()).await.unwrap();
        theirs
            .create(sleeper("m-1", 0.05).scope(Scope::new("y")))
            .await
            .unwrap();
        // This handle last saw it in x: it looks past x and finds it in y, with the stdin of a
        // streamed exec still whole for the try that runs.
        assert_eq!(mine.get("m-1").await.unwrap().state, InstanceState::Running);
        theirs.delete("m-1", DeleteOptions::force()).await.unwrap();
        theirs
            .create(sleeper("m-1", 0.05).scope(Scope::new("x")))
            .await
            .unwrap();
        let stdin: nubes_core::ByteStream =
            Box::pin(futures::stream::iter([Ok(bytes::Bytes::from("moved"))]));
        let stream = mine
            .exec_stream("m-1", ExecRequest::new(["cat"]), Some(stdin))
            .await
            .unwrap();
        let out = nubes_core::collect_exec(stream, None).await.unwrap();
        assert_eq!(out.stdout, "moved".as_bytes());
        assert_eq!(out.exit_code, 0);
        mine.delete("m-1", DeleteOptions::force()).await.unwrap();
        assert_eq!(
            theirs.get("m-1").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    })
    .await;
}
