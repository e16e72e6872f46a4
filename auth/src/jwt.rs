//! Short-lived signed access tokens (HS256 JWT), and the short-lived challenge a login returns
//! when a second factor is still owed. Each carries its type so one can never stand for the other.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{AuthError, Result};

/// Secrets shorter than this are refused: HS256 needs at least 256 bits to be worth its name.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    /// Password accepted, second factor pending.
    Challenge,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The session (refresh-token family) it belongs to, so logout can revoke it.
    pub sid: String,
    pub typ: TokenType,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// Issues and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    pub access_ttl: Duration,
    pub challenge_ttl: Duration,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TokenSigner")
            .field("issuer", &self.issuer)
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

fn now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| AuthError::internal("the system clock is before 1970"))
}

impl TokenSigner {
    pub fn new(secret: &[u8], issuer: impl Into<String>) -> Result<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::invalid_input(format!(
                "the token secret must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.into(),
            access_ttl: Duration::from_secs(15 * 60),
            challenge_ttl: Duration::from_secs(5 * 60),
        })
    }

    /// Signs a token of `typ` for user `sub` in session `sid`.
    pub fn issue(&self, typ: TokenType, sub: &str, sid: &str) -> Result<String> {
        let iat = now()?;
        let ttl = match typ {
            TokenType::Access => self.access_ttl,
            TokenType::Challenge => self.challenge_ttl,
        };
        let claims = Claims {
            sub: sub.to_string(),
            sid: sid.to_string(),
            typ,
            iss: self.issuer.clone(),
            iat,
            exp: iat + ttl.as_secs(),
            jti: crate::token::random_id(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::internal(format!("signing failed: {e}")))
    }

    /// Checks signature, issuer, expiry (no leeway) and type.
    pub fn verify(&self, token: &str, typ: TokenType) -> Result<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            AuthError::invalid_token(match e.kind() {
                K::ExpiredSignature => "token expired",
                _ => "invalid token",
            })
        })?;
        if data.claims.typ != typ {
            return Err(AuthError::invalid_token("invalid token"));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthErrorKind;

    fn signer() -> TokenSigner {
        TokenSigner::new(&[7u8; 32], "nubes-test").unwrap()
    }

    #[test]
    fn round_trip() {
        let s = signer();
        let t = s.issue(TokenType::Access, "user-1", "sess-1").unwrap();
        let c = s.verify(&t, TokenType::Access).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("user-1", "sess-1"));
        assert_eq!(c.exp - c.iat, 15 * 60);
    }

    #[test]
    fn tampered_foreign_expired_and_wrong_type_tokens_fail() {
        let s = signer();
        let t = s.issue(TokenType::Access, "user-1", "sess-1").unwrap();
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1] = parts[1].replace('A', "B");
        let tampered = parts.join(".");
        assert_eq!(
            s.verify(&tampered, TokenType::Access).unwrap_err().kind,
            AuthErrorKind::InvalidToken
        );

        let other = TokenSigner::new(&[8u8; 32], "nubes-test").unwrap();
        assert!(
            other.verify(&t, TokenType::Access).is_err(),
            "another secret's token was accepted"
        );

        let challenge = s.issue(TokenType::Challenge, "user-1", "sess-1").unwrap();
        assert!(
            s.verify(&challenge, TokenType::Access).is_err(),
            "a challenge passed as access"
        );

        let mut short = signer();
        short.access_ttl = Duration::ZERO;
        let expired = short.issue(TokenType::Access, "user-1", "sess-1").unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let e = short.verify(&expired, TokenType::Access).unwrap_err();
        assert_eq!(e.message, "token expired");
        assert!(s.verify("not.a.jwt", TokenType::Access).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenSigner::new(b"too short", "x").is_err());
        assert!(!format!("{:?}", signer()).contains('7'));
    }
}
