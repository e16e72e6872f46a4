//! The HTTP client: bearer auth, JSON in and out, the API's errors turned back into SDK errors.

use std::time::Duration;

use nubes_core::{Error, ErrorKind, Result};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::SCHEME;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    org: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// An error response as the SDK error it stands for; `header_kind` is the kind the server put
/// in a header, which is all a bodiless (HEAD) answer has.
pub fn api_error(status: StatusCode, body: &[u8], header_kind: Option<ErrorKind>) -> Error {
    let err = match (
        serde_json::from_slice::<nubes_api::ErrorBody>(body),
        header_kind,
    ) {
        (Ok(b), _) => Error::new(
            b.error.kind.parse().unwrap_or(ErrorKind::Unexpected),
            b.error.message,
        ),
        (Err(_), Some(kind)) => Error::new(kind, format!("the server answered {status}")),
        (Err(_), None) => Error::new(
            if status.is_server_error() {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Unexpected
            },
            format!("the server answered {status}"),
        ),
    };
    let temporary = matches!(
        err.kind(),
        ErrorKind::Unavailable | ErrorKind::RateLimited | ErrorKind::Timeout
    );
    let err = err.with_provider(SCHEME);
    if temporary {
        err.set_temporary()
    } else {
        err
    }
}

impl Client {
    pub fn new(base: &str, token: &str) -> Result<Self> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid_input(format!(
                "a Nubes server URL starts with http:// or https://, got `{base}`"
            )));
        }
        if token.is_empty() {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "no token: set NUBES_TOKEN or log in first",
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| Error::unexpected(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            org: None,
        })
    }

    /// The organization what this client creates goes to (by id); the caller's personal one
    /// when unset.
    pub fn with_org(mut self, org: Option<String>) -> Self {
        self.org = org;
        self
    }

    /// The server's URL, as `https://host`.
    pub fn server(&self) -> &str {
        &self.base
    }

    pub fn org(&self) -> Option<String> {
        self.org.clone()
    }

    /// `path` with `?org_id=` when this client works in an organization, so a name is looked
    /// up there.
    pub fn in_org(&self, path: String) -> String {
        match &self.org {
            Some(org) => {
                let query: String = reqwest::Url::parse_with_params("http://x/", [("org_id", org)])
                    .ok()
                    .and_then(|u| u.query().map(str::to_string))
                    .unwrap_or_default();
                format!("{path}?{query}")
            }
            None => path,
        }
    }

    /// A client without a token, for signing in.
    pub fn anonymous(base: &str) -> Result<Self> {
        let mut client = Self::new(base, "-")?;
        client.token.clear();
        Ok(client)
    }

    /// The WebSocket URL of `path` on the server.
    pub fn websocket_url(&self, path: &str) -> Result<String> {
        let rest = if let Some(r) = self.base.strip_prefix("https://") {
            format!("wss://{r}")
        } else if let Some(r) = self.base.strip_prefix("http://") {
            format!("ws://{r}")
        } else {
            return Err(Error::invalid_input("the server URL is not http(s)"));
        };
        Ok(format!("{rest}{path}"))
    }

    /// The `authorization` header this client sends, if it has a token.
    pub fn authorization(&self) -> Result<Option<reqwest::header::HeaderValue>> {
        if self.token.is_empty() {
            return Ok(None);
        }
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token))
                .map_err(|_| Error::invalid_input("the token is not a valid header value"))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// Sends a request and reads its JSON answer; an empty answer is an error.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let res = self
            .send(method, path, |req| match body {
                Some(b) => req.json(b),
                None => req,
            })
            .await?;
        read_json(res).await
    }

    /// Sends a request and returns the body bytes of a successful answer.
    pub async fn raw<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<bytes::Bytes> {
        let res = self
            .send(method, path, |req| match body {
                Some(b) => req.json(b),
                None => req,
            })
            .await?;
        res.bytes().await.map_err(cut_off)
    }

    /// Sends the request `build` makes of `method path` and returns a successful answer with its
    /// body unread (for streams); an error answer becomes the error it stands for.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        let res = build(req).send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unavailable
            };
            Error::new(
                kind,
                format!("the Nubes server at {} is not reachable", self.base),
            )
            .set_temporary()
            .with_provider(SCHEME)
            .with_source(e)
        })?;
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let kind = res
            .headers()
            .get(nubes_api::KIND_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<ErrorKind>().ok());
        let bytes = res.bytes().await.map_err(cut_off)?;
        Err(api_error(status, &bytes, kind))
    }
}

/// Reads a successful answer's JSON; an empty or unreadable answer is an error.
pub async fn read_json<T: DeserializeOwned>(res: Response) -> Result<T> {
    let bytes = res.bytes().await.map_err(cut_off)?;
    if bytes.is_empty() {
        return Err(Error::unexpected("the server's answer was empty").with_provider(SCHEME));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::unexpected(format!("the server's answer could not be read: {e}"))
            .with_provider(SCHEME)
    })
}

/// A body that stopped arriving.
pub fn cut_off(e: reqwest::Error) -> Error {
    Error::new(ErrorKind::Unavailable, "the server's answer was cut off")
        .set_temporary()
        .with_provider(SCHEME)
        .with_source(e)
}

/// `segments` as a URL path, each percent-encoded, so names and object keys travel intact.
pub fn path(segments: &[&str]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a valid base URL");
    url.path_segments_mut()
        .expect("an http URL has a path")
        .pop_if_empty()
        .extend(segments);
    url.path().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_their_kind_and_message() {
        let e = api_error(
            StatusCode::NOT_FOUND,
            br#"{"error":{"kind":"not_found","message":"instance x not found"}}"#,
            None,
        );
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::NotFound, "instance x not found")
        );
        let e = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":{"kind":"rate_limited","message":"slow down"}}"#,
            None,
        );
        assert!(e.is_temporary());
        let e = api_error(StatusCode::BAD_GATEWAY, b"<html>proxy error</html>", None);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(!e.message().contains("html"));
        let e = api_error(StatusCode::NOT_FOUND, b"", Some(ErrorKind::NotFound));
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn paths_encode_each_segment() {
        assert_eq!(
            path(&["v1", "buckets", "b", "objects", "a b", "c?#%.txt"]),
            "/v1/buckets/b/objects/a%20b/c%3F%23%25.txt"
        );
        assert_eq!(path(&["v1", "x", "dir", ""]), "/v1/x/dir/");
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert_eq!(
            Client::new("ftp://x", "t").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            Client::new("http://x", "").unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
        assert!(
            !format!("{:?}", Client::new("http://x", "secret-token").unwrap())
                .contains("secret-token")
        );
    }
}
