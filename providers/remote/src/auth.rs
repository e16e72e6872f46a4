//! Signing in to a Nubes server: password, then a second factor when the account has one, then
//! an API token for this machine (so nothing expiring has to be refreshed by a CLI).

use nubes_core::{Error, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::Client;
use crate::SCHEME;

/// What a password login gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Signed in: an access token.
    Done(String),
    /// A second factor is owed: answer with `verify` and one of `methods` ("totp", "email").
    Challenge { token: String, methods: Vec<String> },
}

#[derive(Deserialize)]
struct LoginAnswer {
    access_token: Option<String>,
    challenge_token: Option<String>,
    #[serde(default)]
    methods: Vec<String>,
}

/// A token minted for a machine; `id` revokes it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct MachineToken {
    pub id: String,
    pub token: String,
}

pub async fn login(server: &str, email: &str, password: &str) -> Result<Login> {
    let client = Client::anonymous(server)?;
    let body = json!({"email": email, "password": password});
    let answer: LoginAnswer = client
        .call(Method::POST, "/v1/auth/login", Some(&body))
        .await?;
    match (answer.access_token, answer.challenge_token) {
        (Some(access), _) => Ok(Login::Done(access)),
        (None, Some(token)) => Ok(Login::Challenge {
            token,
            methods: answer.methods,
        }),
        (None, None) => {
            Err(Error::unexpected("the server's login answer had no token").with_provider(SCHEME))
        }
    }
}

/// Answers a login challenge with a code; returns an access token.
pub async fn verify(server: &str, challenge: &str, code: &str) -> Result<String> {
    let client = Client::anonymous(server)?;
    let body = json!({"challenge_token": challenge, "code": code});
    let answer: LoginAnswer = client
        .call(Method::POST, "/v1/auth/verify-otp", Some(&body))
        .await?;
    answer
        .access_token
        .ok_or_else(|| Error::unexpected("the server's answer had no token").with_provider(SCHEME))
}

/// Mints an API token named `name` for the signed-in user.
pub async fn machine_token(server: &str, access: &str, name: &str) -> Result<MachineToken> {
    let client = Client::new(server, access)?;
    client
        .call(
            Method::POST,
            "/v1/auth/tokens",
            Some(&json!({"name": name})),
        )
        .await
}

/// Revokes a machine token with itself.
pub async fn revoke(server: &str, token: &MachineToken) -> Result<()> {
    let client = Client::new(server, &token.token)?;
    client
        .raw(
            Method::DELETE,
            &format!("/v1/auth/tokens/{}", token.id),
            None::<&()>,
        )
        .await
        .map(|_| ())
}
