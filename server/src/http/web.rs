//! The dashboard: the built single-page application (`web/dist`) served at `/` from a directory
//! the server is given. Any GET outside the API that names no file gets `index.html`, so the
//! application's own routes (`/instances/web`) load on a reload; the API's misses stay JSON 404s.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use nubes::Error;

use super::error::ApiError;

/// What the dashboard may load and reach: its own files and the API on the same origin. Styles
/// may be inline (the charts and xterm.js set them); nothing may frame it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Paths that belong to the API (each, and everything under it) even where no route matches:
/// their misses are JSON.
const API: [&str; 5] = ["/v1", "/docs", "/openapi.json", "/metrics", "/healthz"];

#[derive(Debug, Clone)]
pub struct Web {
    dir: Option<PathBuf>,
}

impl Web {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// The answer to a request no route took.
    pub async fn fallback(&self, method: &Method, uri: &Uri) -> Response {
        let path = uri.path();
        let api = API.iter().any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        let Some(dir) = self.dir.as_deref().filter(|_| !api) else {
            return ApiError(Error::not_found("no such route")).into_response();
        };
        if method != Method::GET && method != Method::HEAD {
            return ApiError(Error::not_found("no such route")).into_response();
        }
        match file(dir, path) {
            Some(found) => serve(&found, method).await,
            // Not a file: the application's own route, which index.html resolves in the browser.
            None => serve(&dir.join("index.html"), method).await,
        }
    }
}

/// The file `path` names under `dir`, when it is one; never anything outside `dir` (no `..`,
/// no absolute or drive parts, no hidden files, no link out of it).
fn file(dir: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.trim_start_matches('/');
    if relative.is_empty() {
        return None;
    }
    let mut out = dir.to_path_buf();
    for part in Path::new(relative).components() {
        match part {
            Component::Normal(p)
                if !p.to_string_lossy().starts_with('.')
                    && !p.to_string_lossy().contains([':', '\\']) =>
            {
                out.push(p)
            }
            _ => return None,
        }
    }
    let real = out.canonicalize().ok()?;
    (real.starts_with(dir.canonicalize().ok()?) && real.is_file()).then_some(real)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Headers every page of the dashboard carries.
pub fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

async fn serve(path: &Path, method: &Method) -> Response {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the dashboard's file is missing");
            return ApiError(Error::not_found(
                "the dashboard is not built: run `npm run build` in web/",
            ))
            .into_response();
        }
    };
    // Vite names assets by their hash: they never change. index.html must be asked for again.
    let hashed = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|d| d == "assets");
    let cache = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let length = bytes.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    security_headers(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_directory_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app.js"), "x").unwrap();
        std::fs::write(dir.path().join(".env"), "secret").unwrap();
        std::fs::write(dir.path().with_extension("outside"), "no").unwrap();
        std::os::unix::fs::symlink(
            dir.path().with_extension("outside"),
            dir.path().join("assets/link.js"),
        )
        .unwrap();
        assert!(file(dir.path(), "/assets/app.js").is_some());
        for bad in [
            "/",
            "/assets",
            "/.env",
            "/assets/../.env",
            "/../outside",
            "//etc/passwd",
            "/instances/web",
            "/assets/link.js",
            "/x/C:Windows/win.ini",
        ] {
            assert_eq!(file(dir.path(), bad), None, "{bad}");
        }
    }
}
