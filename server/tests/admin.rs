//! The first admin, platform-wide views, and the audit log.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

async fn flows(url: &str) {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        compute: Some("memory://?images=img".into()),
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    let creds = state
        .accounts
        .bootstrap_admin("admin@localhost.localdomain")
        .await
        .unwrap()
        .expect("first start creates an admin");
    assert!(creds.password.len() >= 20);
    assert!(
        !format!("{creds:?}").contains(&creds.password),
        "Debug shows the password"
    );
    assert!(
        state
            .accounts
            .bootstrap_admin("other@localhost.localdomain")
            .await
            .unwrap()
            .is_none(),
        "a second admin was bootstrapped"
    );
    let api = Api {
        app: nubes_server::app(state),
    };

    let (status, tokens) = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": creds.email, "password": creds.password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let admin = tokens["access_token"].as_str().unwrap().to_string();
    let alice = user(&api, "alice@example.com").await;
    let eve = user(&api, "eve@example.com").await;

    let (status, web) = api
        .post(
            "/v1/instances",
            Some(&alice),
            json!({"name": "web", "image": "img"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{web}");
    let id = web["id"].as_str().unwrap();
    error(
        &api.post(&format!("/v1/instances/{id}/stop"), Some(&eve), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        api.post(&format!("/v1/instances/{id}/stop"), Some(&alice), json!({}))
            .await
            .0,
        StatusCode::OK
    );

    // Platform admins see everyone and everything; nobody else reaches the admin API.
    let users = api.get("/v1/admin/users", Some(&admin)).await.1;
    assert_eq!(users.as_array().unwrap().len(), 3, "{users}");
    let all = api.get("/v1/admin/instances", Some(&admin)).await.1;
    assert_eq!(
        (all[0]["id"].as_str(), all[0]["state"].as_str()),
        (Some(id), Some("stopped"))
    );
    for path in ["/v1/admin/users", "/v1/admin/instances", "/v1/admin/audit"] {
        error(
            &api.get(path, Some(&alice)).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        error(
            &api.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    }
    // An admin may act on any tenant's instance.
    assert_eq!(
        api.post(
            &format!("/v1/instances/{id}/start"),
            Some(&admin),
            json!({})
        )
        .await
        .0,
        StatusCode::OK
    );

    // Every mutating request is in the log, failures included, with its organization.
    let alice_id = api.get("/v1/auth/me", Some(&alice)).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let eve_id = api.get("/v1/auth/me", Some(&eve)).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let log = api
        .get("/v1/admin/audit?action=POST%20/v1/instances/", Some(&admin))
        .await
        .1;
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{log}");
    let stop_by_eve = entries
        .iter()
        .find(|e| e["user_id"] == eve_id.as_str())
        .expect("eve's attempt");
    assert_eq!(stop_by_eve["action"], "POST /v1/instances/{instance}/stop");
    assert_eq!(stop_by_eve["status"], 404);
    assert_eq!(stop_by_eve["org_id"], web["org_id"]);
    // An interactive exec is a GET, and is logged all the same (even when, as here, it is no
    // WebSocket upgrade and is refused).
    let (status, _) = api
        .get(&format!("/v1/instances/{id}/exec"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let execs = api
        .get(
            "/v1/admin/audit?action=GET%20/v1/instances/%7Binstance%7D/exec",
            Some(&admin),
        )
        .await
        .1;
    assert_eq!(
        execs[0]["resource"],
        format!("/v1/instances/{id}/exec"),
        "{execs}"
    );
    assert_eq!(execs[0]["org_id"], web["org_id"], "{execs}");
    // An instance named rather than by id is logged with its organization too.
    let by_name = format!(
        "/v1/instances/web/restart?org_id={}&timeout_secs=0",
        web["org_id"].as_str().unwrap()
    );
    let (status, body) = api.post(&by_name, Some(&alice), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let restarts = api
        .get(
            "/v1/admin/audit?action=POST%20/v1/instances/%7Binstance%7D/restart",
            Some(&admin),
        )
        .await
        .1;
    assert_eq!(
        restarts[0]["resource"], "/v1/instances/web/restart",
        "{restarts}"
    );
    assert_eq!(restarts[0]["org_id"], web["org_id"], "{restarts}");
    let by_alice = api
        .get(&format!("/v1/admin/audit?user_id={alice_id}"), Some(&admin))
        .await
        .1;
    assert!(by_alice
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["user_id"] == alice_id.as_str()));
    assert!(
        by_alice
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "POST /v1/instances" && e["status"] == 201),
        "{by_alice}"
    );
    let create = by_alice
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "POST /v1/instances")
        .unwrap();
    assert_eq!(
        create["org_id"], web["org_id"],
        "the create's organization is in its audit row"
    );
    let reads = api.get("/v1/admin/audit?action=GET", Some(&admin)).await.1;
    let actions: Vec<&str> = reads
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["GET /v1/instances/{instance}/exec"],
        "reads are not audited, but for the interactive exec"
    );
    let logins = api
        .get(
            "/v1/admin/audit?action=POST%20/v1/auth/login&limit=2",
            Some(&admin),
        )
        .await
        .1;
    assert_eq!(logins.as_array().unwrap().len(), 2);
    error(
        &api.get("/v1/admin/audit?limit=-1", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );

    // Prometheus sees the same traffic, by route template rather than by id; only with a
    // platform admin's token.
    assert_eq!(
        api.send("GET", "/metrics", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.send("GET", "/metrics", Some(&alice), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, text) = api.send("GET", "/metrics", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(text.contains(r#"nubes_http_requests_total{method="POST",route="/v1/instances/{instance}/stop",status="404"} 1"#), "{text}");
    assert!(text.contains(r#"nubes_http_requests_total{method="POST",route="/v1/instances/{instance}/stop",status="200"} 1"#), "{text}");
    assert!(
        text.contains("nubes_users 3\n") && text.contains("nubes_instances 1\n"),
        "{text}"
    );
    assert!(
        text.contains(r#"nubes_http_request_duration_seconds_count{route="/v1/auth/login"}"#),
        "{text}"
    );
    assert!(!text.contains(id), "an instance id became a label");

    // The audit log survives a restart.
    let before = api
        .get("/v1/admin/audit?limit=1000", Some(&admin))
        .await
        .1
        .as_array()
        .unwrap()
        .len();
    let restarted = api_with(url, None).await;
    let after = restarted
        .get("/v1/admin/audit?limit=1000", Some(&admin))
        .await
        .1;
    assert!(
        after.as_array().unwrap().len() >= before,
        "{before} entries before, {after}"
    );
}

/// Over a real socket the audit log records where a request came from.
#[tokio::test(flavor = "multi_thread")]
async fn audit_records_the_source_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        ..Default::default()
    };
    let (state, addr) = live(&config).await;
    let db = state.accounts.db().clone();

    let response = register_over_tcp(addr, "tcp@example.com", "").await;
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let entries = db
        .audit(&nubes_server::db::AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].source.as_deref(), Some("127.0.0.1"));
    assert_eq!(entries[0].action, "POST /v1/auth/register");
}

/// Anonymous clients cannot fill the audit log: requests that are not sign-ins leave no row,
/// however long their path; an authenticated request's row keeps a bounded part of its path.
async fn audit_holds_what_was_authenticated(url: String) {
    let config = nubes_server::Config {
        database_url: url,
        compute: Some("memory://?images=img".into()),
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    let api = Api {
        app: nubes_server::app(state.clone()),
    };
    let db = state.accounts.db().clone();
    let rows = || async {
        db.audit(&nubes_server::db::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
    };
    let long = format!("/v1/instances/{}", "x".repeat(60_000));
    for _ in 0..50 {
        let (status, _) = api.post(&long, None, json!({})).await;
        assert!(status.is_client_error(), "{status}");
        let (status, _) = api.post("/v1/instances", None, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(rows().await.len(), 0, "anonymous requests leave no rows");

    // Sign-ins are recorded (by route), and so is what a signed-in user does.
    let alice = user(&api, "alice@example.com").await;
    let n = rows().await.len();
    assert!(n >= 2, "register and login are recorded: {n}");
    api.post(&long, Some(&alice), json!({})).await;
    let all = rows().await;
    assert_eq!(all.len(), n + 1);
    assert!(all.iter().all(|r| r.resource.len() <= 512), "bounded paths");
}

// The scenarios above, each on SQLite and on PostgreSQL.
on_both! {
    #[tokio::test(flavor = "multi_thread")]
    admin_and_audit_on_sqlite, admin_and_audit_on_postgres =>
        |url| async move { flows(&url).await };
    audit_holds_what_was_authenticated_on_sqlite, audit_holds_what_was_authenticated_on_postgres =>
        audit_holds_what_was_authenticated;
}
