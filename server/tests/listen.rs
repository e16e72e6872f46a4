//! The listener against slow and greedy clients, over real sockets: half-sent requests are cut
//! off after the header timeout, one address holds a bounded number of connections, and the
//! server answers others throughout.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_and_greedy_clients_do_not_lock_others_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        ..Default::default()
    };
    let (_state, addr) = common::live(&config).await;

    // Half-sent requests, as many as one address may hold.
    let mut slow = Vec::new();
    for _ in 0..nubes_server::listen::CONNECTIONS_PER_ADDRESS {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // One more from the same address is closed at once, unanswered.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), extra.read_to_end(&mut buf))
        .await
        .expect("an address over its bound is refused at once");
    assert!(
        n.is_err() || buf.is_empty(),
        "{}",
        String::from_utf8_lossy(&buf)
    );

    // Each half-sent request is cut off after the header timeout.
    let started = Instant::now();
    let deadline = nubes_server::listen::HEADER_READ_TIMEOUT + Duration::from_secs(10);
    for s in &mut slow {
        let mut rest = Vec::new();
        tokio::time::timeout(deadline, s.read_to_end(&mut rest))
            .await
            .expect("a half-sent request is cut off")
            .ok();
    }
    assert!(started.elapsed() < deadline);

    // And the address is served again.
    let ok = get(addr, "/healthz").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

/// Opens `/v1/events` with `token`; returns once the server ends the stream.
async fn events_until_closed(addr: std::net::SocketAddr, token: &str) -> Duration {
    let mut req = format!("ws://{addr}/v1/events")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
        }
    })
    .await
    .expect("the stream ends with its session");
    started.elapsed()
}

/// An event stream lasts no longer than the credential it was opened with: a logout ends it,
/// and so does revoking the API token it used.
#[tokio::test(flavor = "multi_thread")]
async fn websockets_end_with_their_session() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        ..Default::default()
    };
    let (state, addr) = common::live(&config).await;
    let api = common::Api {
        app: nubes_server::app(state),
    };

    let access = common::user(&api, "sam@example.com").await;
    let watching = tokio::spawn({
        let access = access.clone();
        async move { events_until_closed(addr, &access).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = api.post("/v1/auth/logout", Some(&access), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    watching.await.unwrap();

    let creds = json!({"email": "sam@example.com", "password": "correct horse battery"});
    let access = api.login(&creds).await;
    let (status, made) = api
        .post("/v1/auth/tokens", Some(&access), json!({"name": "ci"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["token"].as_str().unwrap().to_string();
    let watching = tokio::spawn(async move { events_until_closed(addr, &secret).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = made["id"].as_str().unwrap();
    let (status, _) = api
        .delete(&format!("/v1/auth/tokens/{id}"), Some(&access))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    watching.await.unwrap();
}

/// Behind a trusted proxy the audit log (and the per-address limits) see the client the proxy
/// names; a client that writes the header itself, not through a trusted proxy, is not believed.
#[tokio::test(flavor = "multi_thread")]
async fn forwarded_addresses_count_only_through_trusted_proxies() {
    for (trusted, expected) in [(true, "203.0.113.5"), (false, "127.0.0.1")] {
        let dir = tempfile::tempdir().unwrap();
        let config = nubes_server::Config {
            database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
            trusted_proxies: if trusted {
                vec!["127.0.0.0/8".parse().unwrap()]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let (state, addr) = common::live(&config).await;
        let db = state.accounts.db().clone();
        let out =
            common::register_over_tcp(addr, "fwd@example.com", "X-Forwarded-For: 203.0.113.5\r\n")
                .await;
        assert!(out.starts_with("HTTP/1.1 201"), "{out}");
        let rows = db
            .audit(&nubes_server::db::AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            rows[0].source.as_deref(),
            Some(expected),
            "trusted: {trusted}"
        );
    }
}
