//! One-time codes sent by email: six digits, stored hashed, compared in constant time.

use rand::Rng;

use crate::token;

/// A new code: what to send, and what to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode {
    pub code: String,
    pub hash: String,
}

pub fn issue() -> EmailCode {
    let n: u32 = rand::rngs::OsRng.gen_range(0..1_000_000);
    let code = format!("{n:06}");
    let hash = token::hash(&code);
    EmailCode { code, hash }
}

/// Whether `presented` is the code stored as `stored_hash`.
pub fn matches(presented: &str, stored_hash: &str) -> bool {
    let presented = presented.trim();
    presented.len() == 6
        && presented.bytes().all(|b| b.is_ascii_digit())
        && token::matches(presented, stored_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_verify() {
        let c = issue();
        assert_eq!(c.code.len(), 6);
        assert!(matches(&c.code, &c.hash));
        assert!(matches(&format!(" {} ", c.code), &c.hash));
        let other = if c.code == "000000" {
            "000001"
        } else {
            "000000"
        };
        assert!(!matches(other, &c.hash));
        assert!(!matches("12345", &c.hash));
    }
}
