//! One error type for every provider, with a small set of kinds that front doors map to
//! HTTP statuses, CLI exit codes and Python exceptions.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Operation;

/// What went wrong, independent of the backend that said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidInput,
    Unsupported,
    PermissionDenied,
    Unauthenticated,
    QuotaExceeded,
    InsufficientCredits,
    Conflict,
    RateLimited,
    Timeout,
    Unavailable,
    Unexpected,
}

impl ErrorKind {
    /// Every kind, in a stable order (front doors build their mapping tables from it).
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::InvalidInput,
        ErrorKind::Unsupported,
        ErrorKind::PermissionDenied,
        ErrorKind::Unauthenticated,
        ErrorKind::QuotaExceeded,
        ErrorKind::InsufficientCredits,
        ErrorKind::Conflict,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::Unexpected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::InsufficientCredits => "insufficient_credits",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unexpected => "unexpected",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = ();

    /// The kind named by [`ErrorKind::as_str`], as it travels in the REST API's errors.
    fn from_str(s: &str) -> Result<Self, ()> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SDK's error: a kind, a message meant for people, whether retrying may help, and where it
/// happened. The backend's own error is kept as `source` for logs, never shown as the message.
pub struct Error {
    kind: ErrorKind,
    message: String,
    temporary: bool,
    provider: Option<Cow<'static, str>>,
    operation: Option<Operation>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            temporary: false,
            provider: None,
            operation: None,
            source: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A failed file or socket operation on `what`: not found and permission denied keep their
    /// meaning, anything else is unexpected.
    pub fn io(e: std::io::Error, what: &str) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Unexpected,
        };
        Self::new(kind, format!("{what}: {e}"))
    }

    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unexpected, message)
    }

    /// Marks the error as one a retry may cure (a dropped connection, a busy backend).
    pub fn set_temporary(mut self) -> Self {
        self.temporary = true;
        self
    }

    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Records the operation, keeping one set closer to the failure.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        self.operation.get_or_insert(operation);
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    pub fn operation(&self) -> Option<Operation> {
        self.operation
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        match (&self.provider, self.operation) {
            (Some(p), Some(op)) => write!(f, " ({p} {op})"),
            (Some(p), None) => write!(f, " ({p})"),
            (None, Some(op)) => write!(f, " ({op})"),
            (None, None) => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("message", &self.message)
            .field("temporary", &self.temporary);
        if let Some(p) = &self.provider {
            d.field("provider", p);
        }
        if let Some(op) = self.operation {
            d.field("operation", &op);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_context_but_not_source() {
        let io = std::io::Error::other("socket reset by peer 10.0.0.1");
        let e = Error::new(ErrorKind::Unavailable, "docker engine is not reachable")
            .set_temporary()
            .with_provider("docker")
            .with_operation(Operation::ComputeCreate)
            .with_source(io);
        assert_eq!(
            e.to_string(),
            "docker engine is not reachable (docker compute.create)"
        );
        assert!(e.is_temporary());
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn first_operation_wins() {
        let e = Error::not_found("x")
            .with_operation(Operation::ComputeExec)
            .with_operation(Operation::ComputeGet);
        assert_eq!(e.operation(), Some(Operation::ComputeExec));
    }

    #[test]
    fn kinds_parse_back_from_their_names() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
        }
        assert!("nope".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn kinds_have_distinct_names() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
