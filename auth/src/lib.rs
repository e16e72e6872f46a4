#![doc = include_str!("../README.md")]

pub mod code;
mod error;
pub mod jwt;
pub mod password;
pub mod policy;
pub mod token;
pub mod totp;

pub use error::{AuthError, AuthErrorKind, Result};
pub use jwt::{Claims, TokenSigner, TokenType};
pub use policy::{authorize, Action, Actor, Decision, Role, Target};
pub use totp::TotpSecret;
