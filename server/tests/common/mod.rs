//! Shared by the server's HTTP tests: a client for the router, and databases to run on.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Clone)]
pub struct Api {
    pub app: Router,
}

impl Api {
    /// As `send`, from client address `from` (what a real socket gives the server).
    pub async fn send_from(
        &self,
        from: &str,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (StatusCode, Value) {
        let addr: std::net::SocketAddr = format!("{from}:40000").parse().unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send("POST", path, token, Some(body.to_string())).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send("GET", path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send("DELETE", path, token, None).await
    }

    /// Signs `creds` in; the access token.
    pub async fn login(&self, creds: &Value) -> String {
        let (status, tokens) = self.post("/v1/auth/login", None, creds.clone()).await;
        tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login answered {status}: {tokens}"))
            .to_string()
    }
}

pub async fn api(url: &str) -> Api {
    api_with(url, None).await
}

/// A server whose instances run on `compute` (a provider URI).
pub async fn api_with(url: &str, compute: Option<&str>) -> Api {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        compute: compute.map(str::to_string),
        ..Default::default()
    };
    Api {
        app: nubes_server::app(nubes_server::state(&config).await.unwrap()),
    }
}

#[track_caller]
pub fn error(res: &(StatusCode, Value), status: StatusCode, kind: &str) {
    assert_eq!(res.0, status, "{}", res.1);
    assert_eq!(res.1["error"]["kind"], kind, "{}", res.1);
    let message = res.1["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty() && !message.to_ascii_lowercase().contains("sql"),
        "{message}"
    );
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Registers and logs in; returns the access token.
pub async fn user(api: &Api, email: &str) -> String {
    let creds = json!({"email": email, "password": nubes_testing::PASSWORD});
    assert_eq!(
        api.post("/v1/auth/register", None, creds.clone()).await.0,
        StatusCode::CREATED
    );
    let (status, tokens) = api.post("/v1/auth/login", None, creds).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_string()
}

/// Runs `f` on a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    f(format!(
        "sqlite://{}",
        dir.path().join("nubes.db").display()
    ))
    .await;
}

/// Runs `f` on a fresh PostgreSQL database, dropped afterwards. `scripts/test.sh` starts the
/// server and sets NUBES_TEST_POSTGRES_URL; without it this fails rather than skips.
pub async fn on_postgres<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let base = std::env::var("NUBES_TEST_POSTGRES_URL").expect(
        "NUBES_TEST_POSTGRES_URL is not set: scripts/test.sh starts PostgreSQL and sets it",
    );
    let name = format!(
        "nubes_test_{}",
        (0..8).map(|_| fastrand::lowercase()).collect::<String>()
    );
    let db = nubes_testing::Scratch::create(&base, &name).await;
    let url = db.url.clone();
    f(url.clone()).await;
    db.remove().await;
    if let Some(journal) = journal_of(&url) {
        let _ = std::fs::remove_dir_all(journal);
    }
}

/// Two tests with the attributes given, `$sqlite` and `$postgres`, running `$run` (what
/// `on_sqlite` takes) on each database: every flow is held to both, under the names CI reports.
#[allow(unused_macros)]
macro_rules! on_both {
    (#[$meta:meta] $($sqlite:ident, $postgres:ident => $run:expr;)+) => {
        $(
            #[$meta]
            async fn $sqlite() {
                $crate::common::on_sqlite($run).await;
            }

            #[$meta]
            async fn $postgres() {
                $crate::common::on_postgres($run).await;
            }
        )+
    };
}
#[allow(unused_imports)]
pub(crate) use on_both;

/// The usage journal's directory for a PostgreSQL database (an SQLite file keeps it beside
/// itself): the same for a server restarted on the same database, and gone with the database.
pub fn journal_of(url: &str) -> Option<std::path::PathBuf> {
    let name = url.strip_prefix("postgres://")?.rsplit_once('/')?.1;
    Some(std::env::temp_dir().join(format!("nubes-usage-journal-{name}")))
}

/// A server on `url` with providers the test built.
pub async fn api_backends(url: &str, backends: nubes_server::Backends) -> Api {
    let config = nubes_server::Config {
        database_url: url.to_string(),
        ..Default::default()
    };
    Api {
        app: nubes_server::app(nubes_server::state_with(&config, backends).await.unwrap()),
    }
}

/// A raw answer: status, headers and body bytes.
pub struct Raw {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: nubes::Bytes,
}

impl Raw {
    /// The body as the API's JSON (for error answers).
    pub fn json(&self) -> (StatusCode, Value) {
        (
            self.status,
            serde_json::from_slice(&self.body).unwrap_or(Value::Null),
        )
    }
}

impl Api {
    /// Sends raw bytes with extra headers; returns everything the server answered.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<nubes::Bytes>,
    ) -> Raw {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body.into())).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Raw {
            status,
            headers,
            body,
        }
    }
}

/// An organization of alice (admin), bob (member) and carol (viewer), and eve outside it.
pub struct Team {
    pub org: String,
    pub alice: String,
    pub bob: String,
    pub carol: String,
    pub eve: String,
}

/// A new organization `name` of `owner`'s; its id.
pub async fn org(api: &Api, owner: &str, name: &str) -> String {
    let (status, org) = api
        .post("/v1/orgs", Some(owner), json!({"name": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    org["id"].as_str().unwrap().to_string()
}

/// The code of an invite to `org` that `admin` made with `body` (the role).
pub async fn invite(api: &Api, org: &str, admin: &str, body: Value) -> String {
    let (status, invite) = api
        .post(&format!("/v1/orgs/{org}/invites"), Some(admin), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    invite["code"].as_str().unwrap().to_string()
}

/// Gives the member of `org` with `email` the `role`, as `admin` (one of its admins).
pub async fn set_role(api: &Api, org: &str, admin: &str, email: &str, role: &str) {
    let (_, members) = api
        .get(&format!("/v1/orgs/{org}/members"), Some(admin))
        .await;
    let member = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not in {members}"));
    let path = format!(
        "/v1/orgs/{org}/members/{}",
        member["user_id"].as_str().unwrap()
    );
    let body = json!({ "role": role }).to_string();
    let (status, changed) = api.send("PUT", &path, Some(admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
}

pub async fn team(api: &Api) -> Team {
    let alice = user(api, "alice@example.com").await;
    let bob = user(api, "bob@example.com").await;
    let carol = user(api, "carol@example.com").await;
    let eve = user(api, "eve@example.com").await;
    let org = org(api, &alice, "Acme").await;
    for (token, role) in [(&bob, "member"), (&carol, "viewer")] {
        let code = invite(api, &org, &alice, json!({"role": role})).await;
        let (status, joined) = api
            .post("/v1/orgs/join", Some(token), json!({"code": code}))
            .await;
        assert_eq!(status, StatusCode::OK, "{joined}");
    }
    Team {
        org,
        alice,
        bob,
        carol,
        eve,
    }
}

/// An environment variable `scripts/test.sh` sets (a tool's path, a server's URL); without it the
/// test fails rather than skips.
pub fn from_test_script(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: scripts/test.sh installs it and sets it"))
}

/// A server with `config` on a real socket (what a client's address and slow clients need).
pub async fn live(config: &nubes_server::Config) -> (nubes_server::AppState, std::net::SocketAddr) {
    let state = nubes_server::state(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(nubes_server::serve(listener, state.clone()));
    (state, addr)
}

/// Serves `config` (a fleet's) on a free port with its first admin made, so agents can be
/// issued; its state, URL, router and fleet.
pub async fn live_fleet(
    config: &nubes_server::Config,
) -> (nubes_server::AppState, String, Api, nubes_agent::Fleet) {
    let (state, addr) = live(config).await;
    let api = Api {
        app: nubes_server::app(state.clone()),
    };
    state
        .accounts
        .bootstrap_admin("admin@example.com")
        .await
        .unwrap();
    let fleet = state.agents.fleet().unwrap().clone();
    (state, format!("http://{addr}"), api, fleet)
}

/// Registers `email` with one HTTP/1.1 request over a plain socket, with `headers` (each a
/// whole `Name: value` line); returns the raw answer.
pub async fn register_over_tcp(addr: std::net::SocketAddr, email: &str, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!(r#"{{"email":"{email}","password":"correct horse battery"}}"#);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /v1/auth/register HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// A WebSocket to the live server at `url` (`http://…`).
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the WebSocket at `path` with `token` as the bearer, or the HTTP status that refused it.
pub async fn websocket(url: &str, path: &str, token: &str) -> Result<Socket, StatusCode> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws = nubes_agent::agent::websocket_url(url, path).unwrap();
    let mut req = ws.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status()),
        Err(e) => panic!("connecting to {path}: {e}"),
    }
}
