//! The API's OpenAPI document at `/openapi.json`, built from the handlers' own annotations as
//! their routes are registered (so the two cannot drift), and Swagger UI at `/docs`.
//!
//! Swagger UI's files are not part of this crate: the server serves them from a directory
//! (`Config::swagger_ui_dir`, the `swagger-ui-dist` npm package's folder), or, without one, the
//! page loads them from the unpkg CDN, pinned by hash.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use super::AppState;

/// The CDN copy used when no local Swagger UI directory is configured.
const CDN: &str = "https://unpkg.com/swagger-ui-dist@5.35.0";
/// That copy's files, pinned by hash (Subresource Integrity): the page shares its origin with
/// the dashboard's tokens, so a CDN serving anything else must not run here. A test checks
/// them against the npm package of the same version.
pub const CDN_CSS_SHA384: &str =
    "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I";
pub const CDN_JS_SHA384: &str =
    "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nubes",
        description = "The Nubes platform: accounts with a second factor, organizations, and tenant-scoped instances, disks, buckets and functions. Errors are `{\"error\": {\"kind\": ..., \"message\": ...}}`, with the kind also in the `x-nubes-error-kind` header."
    ),
    paths(
        super::buckets::put_object,
        super::buckets::get_object,
        super::buckets::head_object,
        super::buckets::delete_object,
        healthz,
    ),
    components(schemas(
        super::error::ErrorBody,
        super::error::ErrorDetail,
        super::exec_socket::ExecStart
    )),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Accounts, sessions, second factors, API tokens"),
        (name = "orgs", description = "Organizations, members and invites"),
        (name = "instances", description = "Containers or VMs"),
        (name = "billing", description = "Plans, credits, prices and the ledger"),
        (name = "disks", description = "Disk images"),
        (name = "buckets", description = "Buckets and their objects"),
        (name = "functions", description = "Deploy once, invoke with a payload"),
        (name = "admin", description = "Platform-wide views"),
        (name = "agents", description = "Lessor agents: their WebSocket, and their management by platform admins"),
        (name = "events", description = "Live events"),
        (name = "clusters", description = "Fleet capacity reserved by an organization"),
        (name = "meta", description = "Liveness"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An access token from /v1/auth/login, or an API token (nba_...)",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Liveness: answers while the server runs.
#[utoipa::path(get, path = "/healthz", operation_id = "meta_healthz", tag = "meta", security(()), responses((status = 200, body = String, content_type = "text/plain")))]
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// What `/openapi.json` and `/docs` serve.
#[derive(Debug, Clone)]
pub struct Docs {
    json: Arc<String>,
    swagger_ui_dir: Option<Arc<PathBuf>>,
}

impl Docs {
    pub fn new(doc: &Document, swagger_ui_dir: Option<PathBuf>) -> Self {
        let json = doc.to_json().expect("the OpenAPI document serializes");
        Self {
            json: Arc::new(json),
            swagger_ui_dir: swagger_ui_dir.map(Arc::new),
        }
    }
}

pub fn routes(docs: Docs) -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(document))
        .route("/docs", get(page))
        .route("/docs/init.js", get(init))
        .route("/docs/assets/{file}", get(asset))
        .with_state(docs)
}

async fn document(State(docs): State<Docs>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        docs.json.as_str().to_owned(),
    )
        .into_response()
}

/// What starts Swagger UI: a file of its own, so the page's CSP needs no inline script.
const INIT: &str = "window.ui = SwaggerUIBundle({ url: \"/openapi.json\", dom_id: \"#swagger-ui\", deepLinking: true });\n";

async fn init() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INIT,
    )
        .into_response()
}

/// The page shares its origin with the dashboard, whose tokens are in the origin's storage: it
/// runs only its own scripts (and the CDN's, when that is where Swagger UI comes from) and is
/// never framed.
async fn page(State(docs): State<Docs>) -> Response {
    let (base, from, css, js) = if docs.swagger_ui_dir.is_some() {
        ("/docs/assets", "", String::new(), String::new())
    } else {
        let pinned = |hash| format!(r#" integrity="{hash}" crossorigin="anonymous""#);
        (
            CDN,
            // The pinned package's folder, not the whole CDN.
            " https://unpkg.com/swagger-ui-dist@5.35.0/",
            pinned(CDN_CSS_SHA384),
            pinned(CDN_JS_SHA384),
        )
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'{from}; style-src 'self' 'unsafe-inline'{from}; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'"
    );
    let mut response = Html(format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Nubes API</title>
<link rel="stylesheet" href="{base}/swagger-ui.css"{css}>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"{js}></script>
<script src="/docs/init.js"></script>
</body>
</html>"##
    ))
    .into_response();
    let headers = response.headers_mut();
    super::web::security_headers(headers);
    if let Ok(csp) = axum::http::HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Swagger UI's own files, by name from a fixed list: nothing else in the directory is served.
async fn asset(State(docs): State<Docs>, Path(file): Path<String>) -> Response {
    let content_type = match file.as_str() {
        "swagger-ui-bundle.js" => "text/javascript",
        "swagger-ui.css" => "text/css",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Some(dir) = &docs.swagger_ui_dir else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, file, "cannot read a Swagger UI file");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}
