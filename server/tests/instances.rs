//! Tenant instances over HTTP: the seed user flow on the real Docker engine, and who may see and
//! touch what on both databases.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

const IMAGE: &str = "nubes-test/busybox:latest";

fn image() -> String {
    std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| IMAGE.into())
}

/// Register, log in, create an instance, exec in it, list only one's own, stop, delete.
#[tokio::test(flavor = "multi_thread")]
async fn seed_user_flow_on_docker() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_with(
        &format!("sqlite://{}", dir.path().join("nubes.db").display()),
        Some("docker://"),
    )
    .await;
    let alice = user(&api, "alice@example.com").await;
    let bob = user(&api, "bob@example.com").await;
    let spec = json!({"name": "web", "image": image(), "cpus": 0.5, "memory": 64 << 20, "command": ["sh", "-c", "echo up; exec sleep 600"]});

    let (status, web) = api.post("/v1/instances", Some(&alice), spec.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    assert_eq!(
        (web["name"].as_str(), web["state"].as_str()),
        (Some("web"), Some("running"))
    );
    assert_eq!(web["memory"], 64 << 20);
    let id = web["id"].as_str().unwrap().to_string();
    // Another tenant may use the same name: backend names are the server's, not the user's.
    let (status, bobs) = api.post("/v1/instances", Some(&bob), spec.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{bobs}");
    error(
        &api.post("/v1/instances", Some(&alice), spec.clone()).await,
        StatusCode::CONFLICT,
        "already_exists",
    );

    let (status, out) = api
        .post(
            &format!("/v1/instances/{id}/exec"),
            Some(&alice),
            json!({"command": ["sh", "-c", "echo hi; exit 3"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        (out["stdout"].as_str(), out["exit_code"].as_i64()),
        (Some("hi\n"), Some(3))
    );
    let (_, logs) = api
        .get(&format!("/v1/instances/{id}/logs"), Some(&alice))
        .await;
    assert_eq!(logs, "up\n");
    let (status, stats) = api
        .get(&format!("/v1/instances/{id}/stats"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["memory_limit_bytes"], 64 << 20);

    let mine = api.get("/v1/instances", Some(&alice)).await.1;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], id.as_str());
    error(
        &api.get(&format!("/v1/instances/{id}"), Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.post(
            &format!("/v1/instances/{id}/exec"),
            Some(&bob),
            json!({"command": ["true"]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // A server restart keeps the tenant's instances, still running on the engine.
    let restarted = api_with(
        &format!("sqlite://{}", dir.path().join("nubes.db").display()),
        Some("docker://"),
    )
    .await;
    let again = restarted
        .get(&format!("/v1/instances/{id}"), Some(&alice))
        .await
        .1;
    assert_eq!(
        (again["name"].as_str(), again["state"].as_str()),
        (Some("web"), Some("running")),
        "{again}"
    );

    let (status, stopped) = api
        .post(&format!("/v1/instances/{id}/stop"), Some(&alice), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["state"], "stopped");
    error(
        &api.post(
            &format!("/v1/instances/{id}/exec"),
            Some(&alice),
            json!({"command": ["true"]}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(
        api.delete(&format!("/v1/instances/{id}"), Some(&alice))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    error(
        &api.get(&format!("/v1/instances/{id}"), Some(&alice)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let running = format!("/v1/instances/{}", bobs["id"].as_str().unwrap());
    error(
        &api.delete(&running, Some(&bob)).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let forced = api
        .delete(&format!("{running}?force=true"), Some(&bob))
        .await;
    assert_eq!(forced.0, StatusCode::NO_CONTENT);
}

async fn matrix(url: &str) {
    let api = api_with(url, Some(&format!("memory://?images={IMAGE}"))).await;
    let alice = user(&api, "alice@example.com").await;
    let bob = user(&api, "bob@example.com").await;
    let carol = user(&api, "carol@example.com").await;
    let eve = user(&api, "eve@example.com").await;
    let org = org(&api, &alice, "Acme").await;
    let member = invite(&api, &org, &alice, json!({})).await;
    let viewer = invite(&api, &org, &alice, json!({"role": "viewer"})).await;
    api.post("/v1/orgs/join", Some(&bob), json!({"code": member}))
        .await;
    api.post("/v1/orgs/join", Some(&carol), json!({"code": viewer}))
        .await;

    let (status, web) = api
        .post(
            "/v1/instances",
            Some(&alice),
            json!({"org_id": org, "name": "web", "image": IMAGE}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    let base = format!("/v1/instances/{}", web["id"].as_str().unwrap());

    // Everyone in the organization sees it; nobody outside learns it exists.
    for (who, token) in [("bob", &bob), ("carol", &carol)] {
        assert_eq!(api.get(&base, Some(token)).await.0, StatusCode::OK, "{who}");
        assert_eq!(
            api.get("/v1/instances", Some(token))
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            1,
            "{who}"
        );
    }
    assert_eq!(api.get("/v1/instances", Some(&eve)).await.1, json!([]));
    let mutations = ["start", "stop", "restart"];
    for action in mutations {
        let path = format!("{base}/{action}");
        error(
            &api.post(&path, Some(&eve), json!({})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        error(
            &api.post(&path, Some(&carol), json!({})).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        error(
            &api.post(&path, Some(&bob), json!({})).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        assert_eq!(
            api.post(&path, Some(&alice), json!({})).await.0,
            StatusCode::OK,
            "{action}"
        );
    }
    for path in [
        base.clone(),
        format!("{base}/logs"),
        format!("{base}/stats"),
    ] {
        error(
            &api.get(&path, Some(&eve)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let exec = format!("{base}/exec");
    error(
        &api.post(&exec, Some(&eve), json!({"command": ["true"]}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    error(
        &api.post(&exec, Some(&carol), json!({"command": ["true"]}))
            .await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );
    // Allowed, but this provider runs no processes: a clear 501, not a crash.
    error(
        &api.post(&exec, Some(&alice), json!({"command": ["true"]}))
            .await,
        StatusCode::NOT_IMPLEMENTED,
        "unsupported",
    );
    for token in [&eve] {
        error(
            &api.delete(&base, Some(token)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    for token in [&carol, &bob] {
        error(
            &api.delete(&base, Some(token)).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
    }

    // Bad input never creates anything and never answers 5xx.
    let bad = [
        json!({"org_id": org, "name": "x", "image": IMAGE, "cpus": -1}),
        json!({"org_id": org, "name": "x", "image": IMAGE, "memory": -5}),
        json!({"org_id": org, "name": "x", "image": IMAGE, "memory": 1e30}),
        json!({"org_id": org, "name": "Bad Name", "image": IMAGE}),
        json!({"org_id": org, "name": "x".repeat(300), "image": IMAGE}),
        json!({"org_id": org, "name": "x", "image": ""}),
        json!({"org_id": org, "name": "x"}),
        json!({"org_id": org, "name": "x", "image": IMAGE, "privileged": true}),
        json!({"org_id": org, "name": "x", "image": IMAGE, "command": "not a list"}),
    ];
    for body in bad {
        error(
            &api.post("/v1/instances", Some(&alice), body.clone()).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        );
    }
    let taken = json!({"org_id": org, "name": "web", "image": IMAGE});
    let z = json!({"org_id": org, "name": "z", "image": IMAGE});
    for (token, body, status, kind) in [
        (Some(&alice), taken, StatusCode::CONFLICT, "already_exists"),
        (
            Some(&alice),
            json!({"org_id": org, "name": "y", "image": "nope/nope"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (Some(&eve), z.clone(), StatusCode::NOT_FOUND, "not_found"),
        (Some(&carol), z, StatusCode::FORBIDDEN, "permission_denied"),
        (
            None,
            json!({"name": "z", "image": IMAGE}),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
    ] {
        let res = api
            .post("/v1/instances", token.map(String::as_str), body)
            .await;
        error(&res, status, kind);
    }
    assert_eq!(
        api.get("/v1/instances", Some(&alice))
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A member creates in the org and may delete their own; the admin may delete anyone's.
    let (status, bobs) = api
        .post(
            "/v1/instances",
            Some(&bob),
            json!({"org_id": org, "name": "bobs", "image": IMAGE}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bobs}");
    assert_eq!(
        api.delete(
            &format!("/v1/instances/{}?force=true", bobs["id"].as_str().unwrap()),
            Some(&bob)
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete(&format!("{base}?force=true"), Some(&alice))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    error(
        &api.get(&base, Some(&alice)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

/// On a direct Docker server: an instance created without cpus or memory is limited to what
/// plans count and metering bills (1 cpu, 256 MiB), and exec takes bounded resources: output
/// past 1 MiB a stream is dropped and flagged, timeouts are bounded, and one user runs at most
/// eight commands at once.
#[tokio::test(flavor = "multi_thread")]
async fn defaults_are_enforced_and_exec_is_bounded_on_docker() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_with(
        &format!("sqlite://{}", dir.path().join("nubes.db").display()),
        Some("docker://"),
    )
    .await;
    let ann = user(&api, "ann@example.com").await;
    let spec = json!({"name": "plain", "image": image(), "command": ["sleep", "600"]});
    let (status, plain) = api.post("/v1/instances", Some(&ann), spec).await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    assert_eq!(
        (&plain["cpus"], &plain["memory"]),
        (&json!(1.0), &json!(256 << 20))
    );
    let id = plain["id"].as_str().unwrap().to_string();
    let (_, stats) = api
        .get(&format!("/v1/instances/{id}/stats"), Some(&ann))
        .await;
    assert_eq!(stats["memory_limit_bytes"], 256 << 20, "enforced: {stats}");

    let exec = format!("/v1/instances/{id}/exec");
    let (status, out) = api
        .post(
            &exec,
            Some(&ann),
            json!({"command": ["sh", "-c", "yes aaaaaaaaaaaaaaa | head -c 5000000; echo done >&2"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", out["error"]);
    assert_eq!(out["stdout"].as_str().unwrap().len(), 1 << 20);
    assert_eq!(
        (&out["truncated"], &out["stderr"]),
        (&json!(true), &json!("done\n"))
    );
    let (_, small) = api
        .post(
            &exec,
            Some(&ann),
            json!({"command": ["echo", "hello"], "max_output": 3}),
        )
        .await;
    assert_eq!(
        (&small["stdout"], &small["truncated"]),
        (&json!("hel"), &json!(true))
    );
    for bad in [0, 3601] {
        error(
            &api.post(
                &exec,
                Some(&ann),
                json!({"command": ["true"], "timeout_secs": bad}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        );
    }

    // Nine commands at once: eight run, the ninth is told to wait.
    let mut racers = Vec::new();
    for _ in 0..9 {
        let (api, ann, exec) = (api.clone(), ann.clone(), exec.clone());
        racers.push(tokio::spawn(async move {
            api.post(&exec, Some(&ann), json!({"command": ["sleep", "3"]}))
                .await
        }));
    }
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.unwrap().0);
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        8,
        "{statuses:?}"
    );
    assert_eq!(statuses[8], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let (status, _) = api
        .post(&exec, Some(&ann), json!({"command": ["true"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "the passes were given back");

    let gone = api
        .delete(&format!("/v1/instances/{id}?force=true"), Some(&ann))
        .await;
    assert_eq!(gone.0, StatusCode::NO_CONTENT);
}

/// Tenants cannot set labels the platform reads back (which cluster an instance counts
/// against, its priority, its agent): the whole `nubes` namespace is refused, in any case.
#[tokio::test(flavor = "multi_thread")]
async fn the_platforms_labels_are_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_with(
        &format!("sqlite://{}", dir.path().join("nubes.db").display()),
        Some(&format!("memory://?images={IMAGE}")),
    )
    .await;
    let mallory = user(&api, "mallory@example.com").await;
    for key in [
        "nubes-cluster",
        "Nubes-Priority",
        "nubes-fleet",
        "io.nubes.kind",
    ] {
        let spec = json!({"name": "x", "image": IMAGE, "labels": {key: "c1"}});
        let res = api.post("/v1/instances", Some(&mallory), spec).await;
        error(&res, StatusCode::BAD_REQUEST, "invalid_input");
        assert!(
            res.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains("reserved"),
            "{key}: {}",
            res.1
        );
    }
    let spec = json!({"name": "x", "image": IMAGE, "labels": {"app": "web"}});
    assert_eq!(
        api.post("/v1/instances", Some(&mallory), spec).await.0,
        StatusCode::CREATED
    );
}

// The scenarios above, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test(flavor = "multi_thread")]
    isolation_matrix_on_sqlite, isolation_matrix_on_postgres =>
        |url| async move { matrix(&url).await };
}
