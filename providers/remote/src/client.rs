//! The HTTP client: bearer auth, JSON in and out, the API's errors turned back into SDK errors.

use std::time::Duration;

use nubes_core::{Error, ErrorKind, Result};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::SCHEME;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct ApiErrorBody {
    error: ApiErrorInner,
}

#[derive(serde::Deserialize)]
struct ApiErrorInner {
    kind: String,
    message: String,
}

/// An error response as the SDK error it stands for.
pub fn api_error(status: StatusCode, body: &[u8]) -> Error {
    let err = match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(b) => Error::new(
            b.error.kind.parse().unwrap_or(ErrorKind::Unexpected),
            b.error.message,
        ),
        Err(_) => Error::new(
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
        })
    }

    /// A client without a token, for signing in.
    pub fn anonymous(base: &str) -> Result<Self> {
        let mut client = Self::new(base, "-")?;
        client.token.clear();
        Ok(client)
    }

    /// Sends a request and reads its JSON answer; an empty answer is an error.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let bytes = self.raw(method, path, body).await?;
        if bytes.is_empty() {
            return Err(Error::unexpected("the server's answer was empty").with_provider(SCHEME));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::unexpected(format!("the server's answer could not be read: {e}"))
                .with_provider(SCHEME)
        })
    }

    /// Sends a request and returns the body bytes of a successful answer.
    pub async fn raw<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<bytes::Bytes> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| {
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
        let bytes = res.bytes().await.map_err(|e| {
            Error::new(ErrorKind::Unavailable, "the server's answer was cut off")
                .set_temporary()
                .with_provider(SCHEME)
                .with_source(e)
        })?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(api_error(status, &bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_their_kind_and_message() {
        let e = api_error(
            StatusCode::NOT_FOUND,
            br#"{"error":{"kind":"not_found","message":"instance x not found"}}"#,
        );
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::NotFound, "instance x not found")
        );
        let e = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":{"kind":"rate_limited","message":"slow down"}}"#,
        );
        assert!(e.is_temporary());
        let e = api_error(StatusCode::BAD_GATEWAY, b"<html>proxy error</html>");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(!e.message().contains("html"));
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
