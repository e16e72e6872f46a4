//! What the kits do not cover, on the real cluster (see `common`): bad input, RBAC, a disk that
//! outlives its pods, and what a tenant's pod can and cannot reach.

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::config::Kubeconfig;
use kube::Api;
use nubes_core::{
    Cloud, DeleteOptions, DiskFormat, DiskResizeRequest, DiskSpec, ErrorKind, ExecRequest,
    InstanceSpec, Volume,
};

async fn connect(ns: &str, extra: &str) -> Cloud {
    nubes_kubernetes::connect(&common::uri(ns, extra))
        .await
        .unwrap()
}

fn sleeper(name: &str) -> InstanceSpec {
    InstanceSpec::new(name, common::image())
        .command(["sleep", "3600"])
        .cpus(0.1)
        .memory(32 << 20)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_image_fails_fast_and_leaves_nothing() {
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "noimage").await;
    let compute = connect(&ns, "&start_timeout=60").await.compute().unwrap();
    let started = Instant::now();
    let e = compute
        .create(InstanceSpec::new("ghost", "nubes-test/no-such-image:never").cpus(0.1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().contains("no-such-image"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let records: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let left = records
        .list(&ListParams::default().labels("io.nubes.managed=true"))
        .await
        .unwrap();
    assert!(
        left.items.is_empty(),
        "records left: {:?}",
        left.items.len()
    );
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let left = pods.list(&ListParams::default()).await.unwrap();
    assert!(
        left.items
            .iter()
            .all(|p| p.metadata.deletion_timestamp.is_some()),
        "pods left: {:?}",
        left.items
            .iter()
            .map(|p| p.metadata.name.clone())
            .collect::<Vec<_>>()
    );
    common::drop_namespace(&admin, &ns).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_sizes_and_labels_are_invalid_input() {
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "bad").await;
    let cloud = connect(&ns, "").await;
    let compute = cloud.compute().unwrap();
    for spec in [
        sleeper("under_score"),
        sleeper("UPPER"),
        sleeper("ok").cpus(-1.0),
        sleeper("ok").label("tier", "not a label value"),
        sleeper("ok").volume(Volume::new("data", "relative/path")),
    ] {
        let e = compute.create(spec.clone()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{spec:?}: {e}");
    }
    let disk = cloud.disk().unwrap();
    for spec in [
        DiskSpec::new("zero", DiskFormat::Raw, 0),
        DiskSpec::new("bad_name", DiskFormat::Raw, 1 << 30),
    ] {
        assert_eq!(
            disk.create(spec).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    assert_eq!(
        disk.create(DiskSpec::new("qcow", DiskFormat::Qcow2, 1 << 30))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    assert!(compute.list(Default::default()).await.unwrap().is_empty());
    assert!(disk.list().await.unwrap().is_empty());
    common::drop_namespace(&admin, &ns).await;
}

/// A service account that may do anything in its own namespace and nothing elsewhere, as a
/// kubeconfig file.
async fn restricted_kubeconfig(admin: &kube::Client, own: &str) -> tempfile::NamedTempFile {
    let json = |v: serde_json::Value| v;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), own);
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json(serde_json::json!({"metadata": {"name": "tenant"}})))
                .unwrap(),
        )
        .await
        .unwrap();
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "tenant"},
        "rules": [{"apiGroups": ["", "batch"], "resources": ["*"], "verbs": ["*"]}]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), own)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "tenant"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": own}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), own)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    // A 1.20 token controller writes the account's token into a Secret.
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), own);
    let token = loop {
        let list = secrets
            .list(&ListParams::default().fields("type=kubernetes.io/service-account-token"))
            .await
            .unwrap();
        let found = list.items.iter().find(|s| {
            s.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map(String::as_str)
                == Some("tenant")
        });
        if let Some(token) = found.and_then(|s| s.data.as_ref()?.get("token").cloned()) {
            break String::from_utf8(token.0).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut file = Kubeconfig::read_from(common::kubeconfig()).unwrap();
    for user in &mut file.auth_infos {
        if let Some(info) = user.auth_info.as_mut() {
            info.token = Some(token.clone().into());
        }
    }
    let out = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(out.path(), serde_yaml::to_string(&file).unwrap()).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_the_credentials_may_not_use_is_permission_denied() {
    let admin = common::admin().await;
    let own = common::namespace(&admin, "own").await;
    let other = common::namespace(&admin, "other").await;
    let config = restricted_kubeconfig(&admin, &own).await;
    let uri = |ns: &str| {
        format!(
            "kubernetes://?kubeconfig={}&namespace={ns}&pull={}&scopes=shared",
            config.path().display(),
            common::pull()
        )
    };
    // Scopes need cluster-wide rights: without them, a call that would look beyond the
    // namespace says so, and never reads a refusal as "nothing there".
    let scoped = nubes_kubernetes::connect(&uri(&own).replace("&scopes=shared", ""))
        .await
        .unwrap()
        .compute()
        .unwrap();
    for e in [
        scoped.list(Default::default()).await.unwrap_err(),
        scoped.get("elsewhere").await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.message().contains("scopes=shared"), "{e}");
    }
    let mine = nubes_kubernetes::connect(&uri(&own)).await.unwrap();
    mine.compute()
        .unwrap()
        .list(Default::default())
        .await
        .unwrap();
    let theirs = nubes_kubernetes::connect(&uri(&other)).await.unwrap();
    let compute = theirs.compute().unwrap();
    for e in [
        compute.create(sleeper("intruder")).await.unwrap_err(),
        compute.list(Default::default()).await.unwrap_err(),
        theirs.function().unwrap().list().await.unwrap_err(),
        theirs.disk().unwrap().list().await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    }
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &other);
    assert!(pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    common::drop_namespace(&admin, &own).await;
    common::drop_namespace(&admin, &other).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disk_keeps_its_data_across_pods_and_cannot_go_while_mounted() {
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "pvc").await;
    // The hostPath provisioner makes root-owned directories: the writer runs as root.
    let cloud = connect(&ns, "&root=allow").await;
    let (compute, disk) = (cloud.compute().unwrap(), cloud.disk().unwrap());
    disk.create(DiskSpec::new("data", DiskFormat::Raw, 1 << 30))
        .await
        .unwrap();
    let mount = Volume::new("data", "/data");
    let first = compute
        .create(sleeper("writer").volume(mount.clone()))
        .await
        .unwrap();
    let out = compute
        .exec(
            &first.id,
            ExecRequest::new(["sh", "-c", "echo persisted > /data/x"]),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(
        disk.delete("data").await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    compute
        .delete(&first.id, DeleteOptions::force())
        .await
        .unwrap();
    let second = compute
        .create(sleeper("reader").volume(mount.read_only()))
        .await
        .unwrap();
    let out = compute
        .exec(&second.id, ExecRequest::new(["cat", "/data/x"]))
        .await
        .unwrap();
    assert_eq!(&out.stdout[..], b"persisted\n");
    let out = compute
        .exec(
            &second.id,
            ExecRequest::new(["sh", "-c", "echo more > /data/y"]),
        )
        .await
        .unwrap();
    assert_ne!(out.exit_code, 0, "wrote to a read-only mount");
    // Growing needs a class that expands; the test cluster's hostPath class does not.
    assert_eq!(
        disk.resize("data", DiskResizeRequest::new(2 << 30))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    compute
        .delete(&second.id, DeleteOptions::force())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match disk.delete("data").await {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::Conflict && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        disk.get("data").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    common::drop_namespace(&admin, &ns).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_pod_holds_no_credentials_and_no_root() {
    let admin = common::admin().await;
    let ns = common::namespace(&admin, "hardened").await;
    let compute = connect(&ns, "").await.compute().unwrap();
    let i = compute.create(sleeper("probe")).await.unwrap();
    let run = |cmd: &'static str| {
        let compute = compute.clone();
        let id = i.id.clone();
        async move {
            compute
                .exec(&id, ExecRequest::new(["sh", "-c", cmd]))
                .await
                .unwrap()
        }
    };
    // A root image runs as nobody.
    assert_eq!(&run("id -u").await.stdout[..], b"65534\n");
    // No service account token is mounted.
    let out = run("ls /var/run/secrets/kubernetes.io/serviceaccount").await;
    assert_ne!(out.exit_code, 0, "{out:?}");
    // No capabilities, no way to gain them.
    let out = run("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status").await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    // A command that leaves a writer behind still ends at the wrapper's trailers, and output
    // past the trailer is read and dropped, not left to block the other stream.
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        compute.exec(
            &i.id,
            ExecRequest::new(["sh", "-c", "yes & echo bye >&2; exit 4"]).max_output(1 << 20),
        ),
    )
    .await
    .expect("exec ended")
    .unwrap();
    assert_eq!((out.exit_code, &out.stderr[..]), (4, &b"bye\n"[..]));
    // A handler cannot forge the end of its output with a marker it does not know.
    let out = run("printf '\\036fake 0\\n'; exit 6").await;
    assert_eq!(out.exit_code, 6);
    assert_eq!(&out.stdout[..], b"\x1efake 0\n");
    compute.delete(&i.id, DeleteOptions::force()).await.unwrap();
    common::drop_namespace(&admin, &ns).await;
}
