//! Accounts on a Nubes server: registering, signing in (password, then a second factor when the
//! account has one, then an API token for this machine, so nothing expiring has to be refreshed
//! by a CLI), the second factors, and API tokens.

pub use nubes_api::accounts::{ApiToken, TotpEnrolment, User};
use nubes_api::accounts::{Code, Credentials, LoginOutcome, NewToken, OtpAnswer, Toggle, Tokens};
use nubes_core::{Error, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{path, Client};
use crate::SCHEME;

/// What a password login gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Signed in: an access token.
    Done(String),
    /// A second factor is owed: answer with `verify` and one of `methods` ("totp", "email").
    Challenge { token: String, methods: Vec<String> },
}

/// A token minted for a machine, as a CLI keeps it; `id` revokes it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct MachineToken {
    pub id: String,
    pub token: String,
}

const NONE: Option<&()> = None;

/// Creates an account (a user, never a platform admin: a server makes its first admin itself).
pub async fn register(server: &str, email: &str, password: &str) -> Result<User> {
    let body = Credentials {
        email: email.to_string(),
        password: password.to_string(),
    };
    Client::anonymous(server)?
        .call(Method::POST, "/v1/auth/register", Some(&body))
        .await
}

pub async fn login(server: &str, email: &str, password: &str) -> Result<Login> {
    let body = Credentials {
        email: email.to_string(),
        password: password.to_string(),
    };
    let answer: LoginOutcome = Client::anonymous(server)?
        .call(Method::POST, "/v1/auth/login", Some(&body))
        .await?;
    Ok(match answer {
        LoginOutcome::Tokens(t) => Login::Done(t.access_token),
        LoginOutcome::Challenge {
            challenge_token,
            methods,
        } => Login::Challenge {
            token: challenge_token,
            methods,
        },
    })
}

/// Answers a login challenge with a code; returns an access token.
pub async fn verify(server: &str, challenge: &str, code: &str) -> Result<String> {
    let body = OtpAnswer {
        challenge_token: challenge.to_string(),
        code: code.to_string(),
    };
    let tokens: Tokens = Client::anonymous(server)?
        .call(Method::POST, "/v1/auth/verify-otp", Some(&body))
        .await?;
    Ok(tokens.access_token)
}

/// Mints an API token named `name` for the signed-in user.
pub async fn machine_token(server: &str, access: &str, name: &str) -> Result<MachineToken> {
    let token = create_token(&Client::new(server, access)?, name).await?;
    match token.token {
        Some(secret) => Ok(MachineToken {
            id: token.id,
            token: secret,
        }),
        None => Err(Error::unexpected("the server's answer had no token").with_provider(SCHEME)),
    }
}

/// Revokes a machine token with itself.
pub async fn revoke(server: &str, token: &MachineToken) -> Result<()> {
    revoke_token(&Client::new(server, &token.token)?, &token.id).await
}

/// The signed-in user.
pub async fn me(client: &Client) -> Result<User> {
    client.call(Method::GET, "/v1/auth/me", NONE).await
}

/// A new API token; its secret is in this answer only.
pub async fn create_token(client: &Client, name: &str) -> Result<ApiToken> {
    let body = NewToken {
        name: name.to_string(),
    };
    client
        .call(Method::POST, "/v1/auth/tokens", Some(&body))
        .await
}

/// The caller's API tokens, without their secrets.
pub async fn tokens(client: &Client) -> Result<Vec<ApiToken>> {
    client.call(Method::GET, "/v1/auth/tokens", NONE).await
}

pub async fn revoke_token(client: &Client, id: &str) -> Result<()> {
    client
        .raw(Method::DELETE, &path(&["v1", "auth", "tokens", id]), NONE)
        .await
        .map(|_| ())
}

/// Starts TOTP enrolment: a secret to put in an authenticator app; `confirm_totp` turns it on.
pub async fn enrol_totp(client: &Client) -> Result<TotpEnrolment> {
    client.call(Method::POST, "/v1/auth/totp", NONE).await
}

/// Turns TOTP on with a code from the app.
pub async fn confirm_totp(client: &Client, code: &str) -> Result<User> {
    let body = Code {
        code: code.to_string(),
    };
    client
        .call(Method::POST, "/v1/auth/totp/confirm", Some(&body))
        .await
}

/// Turns emailed sign-in codes on or off.
pub async fn email_otp(client: &Client, enabled: bool) -> Result<User> {
    client
        .call(
            Method::POST,
            "/v1/auth/email-otp",
            Some(&Toggle { enabled }),
        )
        .await
}
