//! The providers against a mocked API server (tower-test): each refusal the API server can give
//! comes out as the right kind, through the real request path, without a cluster.

use std::sync::Arc;

use http::{Request, Response};
use kube::client::Body;
use kube::Client;
use nubes_core::{Compute, Disk, DiskFormat, DiskSpec, ErrorKind, Function, InstanceSpec};
use tower_test::mock;

use crate::config::{Cluster, Settings};
use crate::{ClaimDisk, JobFunction, PodCompute};

type Handle = mock::Handle<Request<Body>, Response<Body>>;

fn cluster() -> (Arc<Cluster>, Handle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let settings = Settings::parse("kubernetes://?namespace=team").unwrap();
    (
        Arc::new(Cluster::from_client(client, "team", settings, false)),
        handle,
    )
}

/// Answers the next request with `code` and a Status, and returns the request's method and path.
async fn refuse(handle: &mut Handle, code: u16, reason: &str, message: &str) -> String {
    let (request, send) = handle.next_request().await.expect("a request");
    let status = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "code": code, "reason": reason, "message": message
    });
    send.send_response(
        Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&status).unwrap()))
            .unwrap(),
    );
    format!("{} {}", request.method(), request.uri().path())
}

#[tokio::test]
async fn rbac_refusals_are_permission_denied() {
    let (cluster, mut handle) = cluster();
    let compute = PodCompute::new(cluster);
    let call = tokio::spawn(async move { compute.get("web").await });
    let seen = refuse(
        &mut handle,
        403,
        "Forbidden",
        "secrets \"nubes-i-web\" is forbidden: User \"system:serviceaccount:a:b\" cannot get resource \"secrets\" in the namespace \"team\"",
    )
    .await;
    assert_eq!(seen, "GET /api/v1/namespaces/team/secrets/nubes-i-web");
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.message().contains("forbidden"));
}

/// Time stands still but for the provider's own waits, so its retries take no real time.
#[tokio::test(start_paused = true)]
async fn quota_refusals_are_quota_exceeded_and_leave_no_record() {
    let (cluster, mut handle) = cluster();
    let compute = PodCompute::new(cluster);
    let call = tokio::spawn(async move {
        compute
            .create(InstanceSpec::new("big", "img").cpus(64.0))
            .await
    });
    // The record is made first ...
    let (request, send) = handle.next_request().await.unwrap();
    assert_eq!(request.uri().path(), "/api/v1/namespaces/team/secrets");
    let made = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "nubes-i-big", "namespace": "team", "uid": "u1", "resourceVersion": "1"},
        "data": {"record": "e30="}
    });
    send.send_response(
        Response::builder()
            .status(201)
            .body(Body::from(serde_json::to_vec(&made).unwrap()))
            .unwrap(),
    );
    // ... then the pod, which the namespace's ResourceQuota refuses: first as not counted yet,
    // then as past its limit, for as long as the provider waits for the count to settle ...
    let seen = refuse(
        &mut handle,
        403,
        "Forbidden",
        "pods \"big\" is forbidden: status unknown for quota: nubes-limits, resource: limits.cpu",
    )
    .await;
    assert_eq!(seen, "POST /api/v1/namespaces/team/pods");
    let started = tokio::time::Instant::now();
    let mut tries = 0;
    let (request, send) = loop {
        let (request, send) = handle.next_request().await.unwrap();
        if request.method() != "POST" {
            break (request, send);
        }
        tries += 1;
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
            "reason": "Forbidden",
            "message": "pods \"big\" is forbidden: exceeded quota: nubes, requested: limits.cpu=64, used: limits.cpu=0, limited: limits.cpu=4"
        });
        send.send_response(
            Response::builder()
                .status(403)
                .body(Body::from(serde_json::to_vec(&status).unwrap()))
                .unwrap(),
        );
    };
    let waited = started.elapsed();
    assert!(tries > 1 && tries <= 41, "{tries} tries");
    assert!(waited <= std::time::Duration::from_secs(11), "{waited:?}");
    // ... and then the record is removed again.
    assert_eq!(request.method(), "DELETE");
    assert_eq!(
        request.uri().path(),
        "/api/v1/namespaces/team/secrets/nubes-i-big"
    );
    send.send_response(
        Response::builder()
            .status(200)
            .body(Body::from(serde_json::to_vec(&made).unwrap()))
            .unwrap(),
    );
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded, "{e}");
}

#[tokio::test]
async fn other_refusals_map_to_their_kinds() {
    for (code, reason, kind) in [
        (401, "Unauthorized", ErrorKind::Unauthenticated),
        (409, "AlreadyExists", ErrorKind::AlreadyExists),
        (422, "Invalid", ErrorKind::InvalidInput),
        (429, "TooManyRequests", ErrorKind::RateLimited),
        (503, "ServiceUnavailable", ErrorKind::Unavailable),
    ] {
        let (cluster, mut handle) = cluster();
        let disk = ClaimDisk::from_parts(cluster, false);
        let call = tokio::spawn(async move {
            disk.create(DiskSpec::new("data", DiskFormat::Raw, 1 << 30))
                .await
        });
        let seen = refuse(&mut handle, code, reason, "refused").await;
        assert_eq!(seen, "POST /api/v1/namespaces/team/persistentvolumeclaims");
        assert_eq!(call.await.unwrap().unwrap_err().kind(), kind, "{code}");
    }
    let (cluster, mut handle) = cluster();
    let function = JobFunction::new(cluster);
    let call = tokio::spawn(async move { function.invoke("ghost", "x".into()).await });
    refuse(
        &mut handle,
        404,
        "NotFound",
        "secrets \"nubes-fn-ghost\" not found",
    )
    .await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.message(), "function ghost not found");
}
