//! Errors leave the API as `{"error": {"kind": "...", "message": "..."}}` with the status that fits
//! the kind; this is the one table.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use nubes::{Error, ErrorKind};
pub use nubes_api::{ErrorBody, ErrorDetail};

pub use nubes_api::KIND_HEADER;

pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::PermissionDenied | ErrorKind::QuotaExceeded => StatusCode::FORBIDDEN,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::InsufficientCredits => StatusCode::PAYMENT_REQUIRED,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The SDK error as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        // What the client is not told in full, the operator is.
        match kind {
            ErrorKind::Unexpected => {
                tracing::error!(error = %self.0, source = ?std::error::Error::source(&self.0), "request failed")
            }
            ErrorKind::Unavailable | ErrorKind::Timeout => {
                tracing::warn!(error = %self.0, "a backend did not answer")
            }
            _ => {}
        }
        // The kind is in a header too, for answers without a body (HEAD).
        (
            status(kind),
            [(KIND_HEADER, kind.as_str())],
            Json(body(&self.0)),
        )
            .into_response()
    }
}

/// The JSON an error is answered with.
pub fn body(e: &Error) -> ErrorBody {
    let kind = e.kind();
    // Unexpected errors say nothing of their cause: that went to the server's log.
    let message = if kind == ErrorKind::Unexpected {
        "internal error"
    } else {
        e.message()
    };
    ErrorBody::new(kind.as_str(), message)
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The error answers every route may give, for the OpenAPI document.
#[derive(Debug, utoipa::IntoResponses)]
pub enum Errors {
    /// Bad input, a missing or invalid token, no permission, not found, a conflict, a limit
    #[response(status = "4XX")]
    Client(ErrorBody),
    /// The server or its backend failed
    #[response(status = "5XX")]
    Server(ErrorBody),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_status() {
        for kind in ErrorKind::ALL {
            let s = status(kind);
            assert!(s.is_client_error() || s.is_server_error(), "{kind}");
        }
        assert_eq!(
            status(ErrorKind::Unexpected),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
