#![doc = include_str!("../README.md")]

#[cfg(feature = "credentials")]
pub mod code;
mod error;
#[cfg(feature = "credentials")]
pub mod jwt;
#[cfg(feature = "credentials")]
pub mod password;
pub mod policy;
#[cfg(feature = "credentials")]
pub mod token;
#[cfg(feature = "credentials")]
pub mod totp;

pub use error::{AuthError, AuthErrorKind, Result};
#[cfg(feature = "credentials")]
pub use jwt::{Claims, TokenSigner, TokenType};
pub use policy::{authorize, Action, Actor, Decision, Role, Target};
#[cfg(feature = "credentials")]
pub use totp::TotpSecret;
