//! The dashboard as a browser meets it: its files at `/` with their security headers, its own
//! routes answered by `index.html`, the API's misses still JSON, nothing outside its directory;
//! and WebSockets signed in the one way a browser can, by subprotocol.

use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

async fn server(web: &std::path::Path) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        web_dir: Some(web.to_path_buf()),
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    (nubes_testing::serve(state).await, dir)
}

fn built() -> tempfile::TempDir {
    let web = tempfile::tempdir().unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>Nubes</title>",
    )
    .unwrap();
    std::fs::write(web.path().join("assets/index-abc.js"), "console.log(1)").unwrap();
    std::fs::write(web.path().join(".env"), "SECRET=1").unwrap();
    web
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_is_served_at_the_root_and_the_api_keeps_its_answers() {
    let web = built();
    let (base, _data) = server(web.path()).await;
    let http = reqwest::Client::new();

    for path in ["/", "/instances/web", "/login?next=%2Fsecurity"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
        assert_eq!(h["cache-control"], "no-cache");
        let csp = h["content-security-policy"].to_str().unwrap();
        for rule in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(rule), "{csp}");
        }
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(res.text().await.unwrap().contains("<title>Nubes</title>"));
    }

    let asset = http
        .get(format!("{base}/assets/index-abc.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.text().await.unwrap(), "console.log(1)");

    // The API's misses are its own JSON, never the page.
    for path in ["/v1/nope", "/v1", "/docs/nope", "/openapi.json/x"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["kind"], "not_found", "{path}");
    }
    let res = http.post(format!("{base}/instances")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-nubes-error-kind"], "not_found");

    // Hidden files and paths out of the directory are routes of the page, not files.
    for path in ["/.env", "/assets/../.env", "/%2e%2e/%2e%2e/etc/passwd"] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("SECRET") && !body.contains("root:"),
            "{path}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_a_dashboard_answers_json_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        ..Default::default()
    };
    let base = nubes_testing::serve(nubes_server::state(&config).await.unwrap()).await;
    let res = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-nubes-error-kind"], "not_found");
}

/// What a browser's `new WebSocket(url, ["nubes", "nubes.bearer." + token])` sends.
async fn browser_socket(
    base: &str,
    path: &str,
    protocols: &str,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let mut req = format!("{}{path}", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).unwrap(),
    );
    tokio_tungstenite::connect_async(req).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_signs_its_websockets_in_by_subprotocol() {
    let web = built();
    let (base, _data) = server(web.path()).await;
    let token = nubes_testing::sign_in(&reqwest::Client::new(), &base, "ws@example.com").await;

    let (mut ws, res) =
        browser_socket(&base, "/v1/events", &format!("nubes, nubes.bearer.{token}"))
            .await
            .unwrap();
    // Only `nubes` is answered: the token is never echoed back.
    assert_eq!(res.headers()["sec-websocket-protocol"], "nubes");
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}

    for bad in [
        "nubes".to_string(),
        "nubes, nubes.bearer.".to_string(),
        "nubes, nubes.bearer.not-a-token".to_string(),
        format!("nubes, nubes.bearer.{token}x"),
    ] {
        match browser_socket(&base, "/v1/events", &bad).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 401, "{bad}")
            }
            other => panic!("{bad}: {:?}", other.map(|(_, r)| r.status())),
        }
    }
    // A plain request never signs in by the subprotocol header: only an upgrade does.
    let plain = reqwest::Client::new()
        .get(format!("{base}/v1/auth/me"))
        .header(
            "sec-websocket-protocol",
            format!("nubes, nubes.bearer.{token}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);
    // The exec socket takes it too: past sign-in, the missing instance is what stops it.
    match browser_socket(
        &base,
        "/v1/instances/nope/exec",
        &format!("nubes, nubes.bearer.{token}"),
    )
    .await
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_ne!(res.status(), 401);
        }
        other => panic!("{:?}", other.map(|(_, r)| r.status())),
    }
}
