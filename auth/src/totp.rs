//! TOTP (RFC 6238) over HMAC-SHA1, 6 digits, 30-second steps: what authenticator apps speak.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::{AuthError, Result};

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: u64 = 30;

/// A shared TOTP secret (160 bits, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Reads the base32 form (as stored, or as typed from an app's manual entry).
    pub fn from_base32(encoded: &str) -> Result<Self> {
        let clean: String = encoded
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .collect();
        BASE32_NOPAD
            .decode(clean.to_ascii_uppercase().as_bytes())
            .map(Self)
            .map_err(|_| AuthError::invalid_input("the TOTP secret is not valid base32"))
    }

    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent(issuer),
            percent(account),
            self.to_base32(),
            percent(issuer)
        )
    }

    /// The code for time step `step` with `digits` digits (RFC 4226 dynamic truncation).
    pub fn code_for_step(&self, step: u64, digits: u32) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = (digest[19] & 0x0f) as usize;
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        format!(
            "{:0width$}",
            binary % 10u32.pow(digits),
            width = digits as usize
        )
    }

    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.code_for_step(unix_seconds / STEP_SECONDS, DIGITS)
    }

    /// Checks `code` at `unix_seconds`, allowing one step of clock drift either way. Returns the
    /// matching step, which the caller stores and refuses next time, so a code works once.
    pub fn verify(
        &self,
        code: &str,
        unix_seconds: u64,
        last_used_step: Option<u64>,
    ) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = unix_seconds / STEP_SECONDS;
        let mut found = None;
        // Check every candidate, matched or not, so timing does not tell which step matched.
        for step in [now.saturating_sub(1), now, now + 1] {
            let expected = self.code_for_step(step, DIGITS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
                found = Some(step);
            }
        }
        found.filter(|step| last_used_step.is_none_or(|last| *step > last))
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, 8 digits.
    #[test]
    fn rfc6238_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(
                secret.code_for_step(time / STEP_SECONDS, 8),
                code,
                "t={time}"
            );
        }
    }

    #[test]
    fn verify_allows_one_step_of_drift_and_no_reuse() {
        let secret = TotpSecret::generate();
        let t = 1_700_000_000;
        let code = secret.code_at(t);
        let step = secret.verify(&code, t, None).expect("current code");
        assert_eq!(
            secret.verify(&code, t + 30, None),
            Some(step),
            "one step late is fine"
        );
        assert_eq!(
            secret.verify(&code, t + 90, None),
            None,
            "three steps late is not"
        );
        assert_eq!(
            secret.verify(&code, t, Some(step)),
            None,
            "a used code is refused"
        );
        assert_eq!(secret.verify("12345", t, None), None);
        assert_eq!(secret.verify("abcdef", t, None), None);
    }

    #[test]
    fn base32_and_uri() {
        let secret = TotpSecret::generate();
        let b32 = secret.to_base32();
        assert_eq!(
            TotpSecret::from_base32(&b32.to_ascii_lowercase()).unwrap(),
            secret
        );
        let uri = secret.otpauth_uri("Nubes Cloud", "ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Nubes%20Cloud:ada%40example.com?secret="),
            "{uri}"
        );
        assert!(
            uri.contains("&issuer=Nubes%20Cloud")
                && uri.contains("digits=6")
                && uri.contains("period=30")
        );
        assert!(TotpSecret::from_base32("not base32!").is_err());
        assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
    }
}
