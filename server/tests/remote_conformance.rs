//! The conformance kit through `nubes-remote` against a live server (real TCP) whose instances run
//! on the real Docker engine: the SDK behaves the same through the platform as on the backend.

use nubes_core::conformance::{self, Fixture};

#[tokio::test(flavor = "multi_thread")]
async fn remote_compute_passes_the_kit_against_a_live_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        compute: Some("docker://".into()),
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(nubes_server::serve(listener, state));

    // Sign up and make an API token, as automation would.
    let http = sign_up(&url).await;
    let cloud = nubes_remote::connect_with_token(&url, &http).unwrap();
    let image =
        std::env::var("NUBES_TEST_IMAGE").unwrap_or_else(|_| "nubes-test/busybox:latest".into());
    let report =
        conformance::compute(cloud.compute().unwrap().as_ref(), &Fixture::new(image)).await;
    println!("{report}");
    for case in [
        "lifecycle",
        "bad_input_creates_nothing",
        "exec",
        "logs",
        "stats",
        "unsupported_operations",
        "disk_limit",
    ] {
        assert!(
            report.passed.contains(&case),
            "{case} did not pass: {report}"
        );
    }
}

/// Registers a user and returns a fresh API token, speaking HTTP/1.1 over a plain socket.
async fn sign_up(url: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let creds =
        serde_json::json!({"email": "kit@example.com", "password": "correct horse battery"});
    post(addr, "/v1/auth/register", None, &creds).await;
    let tokens = post(addr, "/v1/auth/login", None, &creds).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let created = post(
        addr,
        "/v1/auth/tokens",
        Some(&access),
        &serde_json::json!({"name": "kit"}),
    )
    .await;
    created["token"].as_str().unwrap().to_string()
}

async fn post(
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).await.unwrap();
    let (head, json) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 2"), "{path}: {response}");
    serde_json::from_str(json).unwrap()
}
