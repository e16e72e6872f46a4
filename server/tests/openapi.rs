//! The OpenAPI document and Swagger UI: every route is in the document, the document is valid
//! OpenAPI 3.1, and `/docs` serves a page whose files the server also serves.

mod common;

use axum::http::StatusCode;
use common::*;

/// Every path and method the router answers, as the document must list them.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/verify-otp"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("get", "/v1/auth/me"),
    ("post", "/v1/auth/totp"),
    ("post", "/v1/auth/totp/confirm"),
    ("post", "/v1/auth/email-otp"),
    ("post", "/v1/auth/tokens"),
    ("get", "/v1/auth/tokens"),
    ("delete", "/v1/auth/tokens/{token}"),
    ("post", "/v1/orgs"),
    ("get", "/v1/orgs"),
    ("post", "/v1/orgs/join"),
    ("get", "/v1/orgs/{org}/members"),
    ("put", "/v1/orgs/{org}/members/{user}"),
    ("post", "/v1/orgs/{org}/invites"),
    ("get", "/v1/orgs/{org}/invites"),
    ("delete", "/v1/orgs/{org}/invites/{invite}"),
    ("post", "/v1/instances"),
    ("get", "/v1/instances"),
    ("get", "/v1/instances/{instance}"),
    ("delete", "/v1/instances/{instance}"),
    ("post", "/v1/instances/{instance}/start"),
    ("post", "/v1/instances/{instance}/stop"),
    ("post", "/v1/instances/{instance}/restart"),
    ("post", "/v1/instances/{instance}/exec"),
    ("get", "/v1/instances/{instance}/exec"),
    ("get", "/v1/instances/{instance}/console"),
    ("get", "/v1/agents/{agent}/earnings"),
    ("post", "/v1/instances/dry-run"),
    ("get", "/v1/billing/plans"),
    ("get", "/v1/billing/plan"),
    ("put", "/v1/billing/plan"),
    ("get", "/v1/billing/balance"),
    ("get", "/v1/billing/transactions"),
    ("get", "/v1/billing/usage"),
    ("post", "/v1/admin/billing/top-ups"),
    ("post", "/v1/admin/billing/adjustments"),
    ("post", "/v1/billing/payments"),
    ("post", "/v1/admin/billing/vouchers"),
    ("get", "/v1/admin/billing/vouchers"),
    ("get", "/v1/instances/{instance}/logs"),
    ("get", "/v1/instances/{instance}/stats"),
    ("post", "/v1/instances/{instance}/resize"),
    ("post", "/v1/disks"),
    ("get", "/v1/disks"),
    ("get", "/v1/disks/{disk}"),
    ("delete", "/v1/disks/{disk}"),
    ("post", "/v1/disks/{disk}/resize"),
    ("post", "/v1/disks/{disk}/convert"),
    ("post", "/v1/disks/{disk}/rename"),
    ("post", "/v1/buckets"),
    ("get", "/v1/buckets"),
    ("get", "/v1/buckets/{bucket}"),
    ("delete", "/v1/buckets/{bucket}"),
    ("get", "/v1/buckets/{bucket}/objects"),
    ("post", "/v1/buckets/{bucket}/presign"),
    ("put", "/v1/buckets/{bucket}/objects/{key}"),
    ("get", "/v1/buckets/{bucket}/objects/{key}"),
    ("head", "/v1/buckets/{bucket}/objects/{key}"),
    ("delete", "/v1/buckets/{bucket}/objects/{key}"),
    ("post", "/v1/functions"),
    ("get", "/v1/functions"),
    ("get", "/v1/functions/{function}"),
    ("delete", "/v1/functions/{function}"),
    ("post", "/v1/functions/{function}/invoke"),
    ("post", "/v1/functions/{function}/invocations"),
    ("get", "/v1/admin/users"),
    ("get", "/v1/admin/instances"),
    ("get", "/v1/admin/clusters"),
    ("get", "/v1/admin/queue"),
    ("get", "/v1/admin/audit"),
    ("get", "/v1/capabilities"),
    ("get", "/v1/agents/connect"),
    ("get", "/v1/events"),
    ("post", "/v1/clusters"),
    ("get", "/v1/clusters"),
    ("get", "/v1/clusters/{cluster}"),
    ("delete", "/v1/clusters/{cluster}"),
    ("post", "/v1/admin/agents"),
    ("get", "/v1/admin/agents"),
    ("get", "/v1/admin/agents/{agent}"),
    ("delete", "/v1/admin/agents/{agent}"),
    ("post", "/v1/admin/agents/{agent}/cordon"),
    ("post", "/v1/admin/agents/{agent}/uncordon"),
    ("post", "/v1/admin/agents/{agent}/drain"),
    ("get", "/v1/admin/agents/{agent}/instances"),
    ("get", "/healthz"),
];

#[tokio::test]
async fn the_document_lists_every_route_with_its_parameters() {
    on_sqlite(|url| async move {
        let api = api(&url).await;
        let (status, doc) = api.get("/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
        let paths = doc["paths"].as_object().unwrap();
        let mut listed = 0;
        for (path, methods) in paths {
            for method in methods.as_object().unwrap().keys() {
                if method != "parameters" {
                    listed += 1;
                    assert!(
                        ROUTES.contains(&(method.as_str(), path.as_str())),
                        "the document lists {method} {path}, which is not a route"
                    );
                }
            }
        }
        assert_eq!(listed, ROUTES.len(), "routes missing from the document");
        for (method, path) in ROUTES {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} is not in the document");
            // Every `{param}` in the path is declared, as OpenAPI requires.
            for name in path
                .split('{')
                .skip(1)
                .map(|s| s.split('}').next().unwrap())
            {
                let declared = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
                assert!(declared, "{method} {path} does not declare {{{name}}}");
            }
            // And the route is really there: no "no such route" for it.
            let concrete = path.replace(['{', '}'], "");
            let res = api
                .send_raw(&method.to_ascii_uppercase(), &concrete, None, &[], "")
                .await;
            assert!(
                res.json().1["error"]["message"] != "no such route"
                    && res.status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
        }
        std::fs::write(
            std::env::temp_dir().join("nubes-openapi.json"),
            serde_json::to_vec_pretty(&doc).unwrap(),
        )
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_document_is_valid_openapi() {
    let doc = nubes_server::openapi_document().to_pretty_json().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc).unwrap();
    let out = std::process::Command::new(from_test_script("NUBES_TEST_PYTHON"))
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Headless Chromium opens `/docs`: Swagger UI loads from the server's own files, fetches the
/// document and renders its operations.
#[tokio::test(flavor = "multi_thread")]
async fn swagger_ui_renders_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = nubes_server::Config {
        database_url: format!("sqlite://{}", dir.path().join("nubes.db").display()),
        swagger_ui_dir: Some(from_test_script("NUBES_TEST_SWAGGER_UI_DIR").into()),
        ..Default::default()
    };
    let state = nubes_server::state(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/docs", listener.local_addr().unwrap());
    tokio::spawn(nubes_server::serve(listener, state));

    let profile = dir.path().join("chromium");
    let chromium = from_test_script("NUBES_TEST_CHROMIUM");
    let out = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .output()
        .await
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("opblock") && dom.contains("/v1/instances/{instance}/exec"),
        "Swagger UI did not render the operations (exit {:?}): {}\n{}",
        out.status.code(),
        &dom[..dom.len().min(2000)],
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn docs_assets_are_served_by_name_only() {
    on_sqlite(|url| async move {
        let config = nubes_server::Config {
            database_url: url,
            swagger_ui_dir: Some(from_test_script("NUBES_TEST_SWAGGER_UI_DIR").into()),
            ..Default::default()
        };
        let api = Api {
            app: nubes_server::app(nubes_server::state(&config).await.unwrap()),
        };
        let js = api
            .send_raw("GET", "/docs/assets/swagger-ui-bundle.js", None, &[], "")
            .await;
        assert_eq!(js.status, StatusCode::OK);
        assert_eq!(js.headers["content-type"], "text/javascript");
        for other in ["package.json", "index.html", "..%2F..%2Fpackage.json"] {
            let res = api
                .send_raw("GET", &format!("/docs/assets/{other}"), None, &[], "")
                .await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{other}");
        }
        let page = api.send_raw("GET", "/docs", None, &[], "").await;
        assert!(String::from_utf8_lossy(&page.body).contains("/docs/assets/swagger-ui-bundle.js"));
    })
    .await;
}

/// Without a local copy the page loads Swagger UI from the CDN, but only the exact files of the
/// pinned version: their hashes, as the page names them, are those of the npm package's.
#[tokio::test]
async fn the_cdn_copy_is_pinned_by_hash() {
    use sha2::Digest as _;
    let dir = std::path::PathBuf::from(from_test_script("NUBES_TEST_SWAGGER_UI_DIR"));
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("package.json")).unwrap()).unwrap();
    assert_eq!(
        package["version"], "5.35.0",
        "the CDN's version and the test's copy differ"
    );
    on_sqlite(|url| async move {
        let config = nubes_server::Config {
            database_url: url,
            ..Default::default()
        };
        let api = Api {
            app: nubes_server::app(nubes_server::state(&config).await.unwrap()),
        };
        let page = api.send_raw("GET", "/docs", None, &[], "").await;
        let page = String::from_utf8_lossy(&page.body).to_string();
        for file in ["swagger-ui.css", "swagger-ui-bundle.js"] {
            let digest = sha2::Sha384::digest(std::fs::read(dir.join(file)).unwrap());
            let hash = data_encoding::BASE64.encode(&digest);
            let tag = page
                .lines()
                .find(|l| l.contains(&format!("swagger-ui-dist@5.35.0/{file}")))
                .unwrap_or_else(|| panic!("{file} is not on the page: {page}"));
            assert!(
                tag.contains(&format!(
                    r#"integrity="sha384-{hash}" crossorigin="anonymous""#
                )),
                "{file} is not pinned to sha384-{hash}: {tag}"
            );
        }
    })
    .await;
}
