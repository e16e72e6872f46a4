use std::fmt;

/// What went wrong. The server maps these to its error kinds; none of them carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// Wrong password, code or token: deliberately not saying which part.
    InvalidCredentials,
    /// A token that is malformed, tampered with, of the wrong type, or expired.
    InvalidToken,
    /// Input that breaks a rule (a too-short password, a malformed code).
    InvalidInput,
    /// A failure inside (the hasher, the system clock).
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub kind: AuthErrorKind,
    pub message: String,
}

impl AuthError {
    pub fn new(kind: AuthErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(AuthErrorKind::InvalidInput, message)
    }

    pub fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(AuthErrorKind::InvalidToken, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(AuthErrorKind::Internal, message)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AuthError {}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;
