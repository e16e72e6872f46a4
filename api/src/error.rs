//! Errors as every answer carries them: a body and a header naming the kind.

use serde::{Deserialize, Serialize};

/// Every error answer's body, for the OpenAPI document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// One of the SDK's error kinds: not_found, invalid_input, permission_denied, ...
    pub kind: String,
    pub message: String,
}

/// Carries the error kind on every error answer (for answers without a body, like HEAD's).
pub const KIND_HEADER: &str = "x-nubes-error-kind";

impl ErrorBody {
    pub fn new(kind: &str, message: &str) -> Self {
        Self {
            error: ErrorDetail {
                kind: kind.to_string(),
                message: message.to_string(),
            },
        }
    }
}
