//! Opaque secrets handed to clients: refresh tokens, API tokens, invite codes. The plaintext is
//! shown once; only its SHA-256 is stored, so a database leak reveals no usable token.

use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new secret: what to give the client, and what to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub plaintext: String,
    pub hash: String,
}

/// Kinds of token, told apart by prefix so a leaked one is recognisable (and scannable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Refresh,
    Api,
    Invite,
    /// A lessor agent's credential.
    Agent,
    /// A code worth credits, redeemed once.
    Voucher,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Refresh => "nbr_",
            TokenKind::Api => "nba_",
            TokenKind::Invite => "nbi_",
            TokenKind::Agent => "nbg_",
            TokenKind::Voucher => "nbv_",
        }
    }
}

/// 160 random bits in lowercase base32 after the kind's prefix.
pub fn issue(kind: TokenKind) -> IssuedToken {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let plaintext = format!(
        "{}{}",
        kind.prefix(),
        BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
    );
    let hash = hash(&plaintext);
    IssuedToken { plaintext, hash }
}

/// A random 128-bit identifier in hex (session ids, token ids).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    data_encoding::HEXLOWER.encode(&bytes)
}

/// The stored form of a token.
pub fn hash(plaintext: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(plaintext.as_bytes()))
}

/// Whether `plaintext` is the token stored as `stored_hash`, in constant time.
pub fn matches(plaintext: &str, stored_hash: &str) -> bool {
    hash(plaintext)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// Whether a presented string looks like a token of `kind` at all (cheap rejection of garbage).
pub fn looks_like(kind: TokenKind, presented: &str) -> bool {
    presented.strip_prefix(kind.prefix()).is_some_and(|rest| {
        rest.len() == 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_unique_prefixed_and_stored_hashed() {
        let a = issue(TokenKind::Api);
        let b = issue(TokenKind::Api);
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with("nba_"));
        assert!(looks_like(TokenKind::Api, &a.plaintext));
        assert!(!looks_like(TokenKind::Refresh, &a.plaintext));
        assert!(!a.hash.contains(&a.plaintext[4..]));
        assert!(matches(&a.plaintext, &a.hash));
        assert!(!matches(&b.plaintext, &a.hash));
        assert!(!looks_like(TokenKind::Api, "nba_short"));
    }
}
