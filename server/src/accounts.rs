//! Accounts: registration, login with an optional second factor, sessions with rotating refresh
//! tokens, TOTP enrolment. Handlers call these; the rules live here only.

use std::sync::Arc;
use std::time::Duration;

use nubes::{Error, ErrorKind, Result};
use nubes_auth::token::{self, TokenKind};
use nubes_auth::{password, AuthError, AuthErrorKind, TokenSigner, TokenType, TotpSecret};

use crate::db::{Db, OrgRow, RefreshLookup, UserRow};
use crate::mail::Mailer;
use crate::throttles::Attempts;
pub use nubes_api::accounts::{ApiToken, LoginOutcome, Tokens, TotpEnrolment, User};

const ISSUER: &str = "nubes";
const JWT_SECRET_SETTING: &str = "jwt_secret";
const EMAIL_CODE_TTL: Duration = Duration::from_secs(10 * 60);

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            email: u.email,
            platform_admin: u.platform_admin,
            totp_enabled: u.totp_secret.is_some(),
            email_otp: u.email_otp,
            created_at: u.created_at,
        }
    }
}

pub use crate::tenancy::Principal;

const API_TOKEN_SESSION: &str = "token:";

/// The first admin's credentials, generated on first start.
#[derive(Clone)]
pub struct Bootstrap {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The system's time, as billing's `SystemClock` tells it: one clock for the whole server
/// (billing's may be replaced, for tests and simulations).
pub(crate) fn now() -> i64 {
    use nubes_billing::Clock;
    nubes_billing::SystemClock.now()
}

/// An auth failure as the API shows it.
pub fn auth_error(e: AuthError) -> Error {
    let kind = match e.kind {
        AuthErrorKind::InvalidCredentials | AuthErrorKind::InvalidToken => {
            ErrorKind::Unauthenticated
        }
        AuthErrorKind::InvalidInput => ErrorKind::InvalidInput,
        _ => ErrorKind::Unexpected,
    };
    Error::new(kind, e.message)
}

fn unauthenticated(message: &str) -> Error {
    Error::new(ErrorKind::Unauthenticated, message)
}

/// Normalises and checks an email address; enough to catch typos, not an RFC 5322 parser.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid_input(
            "email must be an address like ada@example.com",
        ))
    }
}

#[derive(Debug)]
pub struct Accounts {
    db: Db,
    signer: TokenSigner,
    refresh_ttl: Duration,
    attempts: Attempts,
    mailer: Option<Arc<dyn Mailer>>,
}

impl Accounts {
    /// Uses `secret` when configured; otherwise the one stored in the database, generating it on
    /// first start. It is never logged or returned.
    pub async fn new(db: Db, secret: Option<Vec<u8>>) -> Result<Self> {
        let secret = match secret {
            Some(s) => s,
            None => {
                let generated = format!("{}{}", token::random_id(), token::random_id());
                db.setting_or_insert(JWT_SECRET_SETTING, &generated)
                    .await?
                    .into_bytes()
            }
        };
        let signer = TokenSigner::new(&secret, ISSUER).map_err(auth_error)?;
        Ok(Self {
            db,
            signer,
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            attempts: Attempts::new(),
            mailer: None,
        })
    }

    /// Sends email codes through `mailer`, which makes the email second factor available.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The user a bearer token names (signature and expiry for access tokens, a lookup for API
    /// tokens), for the audit log, which records attempts whether or not the session is live.
    pub async fn identify(&self, bearer: &str) -> Option<String> {
        if token::looks_like(TokenKind::Api, bearer) {
            return self
                .db
                .api_token_owner(&token::hash(bearer))
                .await
                .ok()
                .flatten();
        }
        self.signer
            .verify(bearer, TokenType::Access)
            .ok()
            .map(|c| c.sub)
    }

    /// `source` is the client's address, when known, for per-address limits.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<User> {
        self.attempts.attempt_from(source)?;
        self.create_user(email, password, false).await
    }

    /// On a server with no platform admin yet, creates one with a generated password and returns
    /// the credentials, to be shown once. Nothing here is logged.
    pub async fn bootstrap_admin(&self, email: &str) -> Result<Option<Bootstrap>> {
        if self.db.has_platform_admin().await? {
            return Ok(None);
        }
        let password = token::random_id();
        let user = self.create_user(email, &password, true).await?;
        Ok(Some(Bootstrap {
            email: user.email,
            password,
        }))
    }

    async fn create_user(&self, email: &str, password: &str, platform_admin: bool) -> Result<User> {
        let email = normalize_email(email)?;
        let hash = password::hash(password).await.map_err(auth_error)?;
        let row = UserRow {
            id: token::random_id(),
            email,
            password_hash: hash,
            platform_admin,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            email_otp: false,
            created_at: now(),
        };
        // Everyone starts with a personal organization, so every resource has a tenant.
        let org = OrgRow {
            id: token::random_id(),
            name: row.email.clone(),
            created_at: row.created_at,
        };
        self.db.insert_user_with_org(&row, &org).await?;
        Ok(row.into())
    }

    /// Checks the password; with TOTP on, returns a challenge to answer at `verify_otp`.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<LoginOutcome> {
        self.attempts.attempt_from(source)?;
        // Keyed by what was typed, so unknown emails are throttled the same way and reveal
        // nothing; the place is taken before the hash, so concurrent guesses count at once.
        let account = email.trim().to_ascii_lowercase();
        let attempt = self.attempts.begin(&account, source)?;
        let user = match normalize_email(email) {
            Ok(email) => self.db.user_by_email(&email).await?,
            Err(_) => None,
        };
        // Unknown users cost a full hash verification too: timing does not reveal accounts.
        if let Err(e) =
            password::verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await
        {
            attempt.failed();
            return Err(auth_error(e));
        }
        attempt.succeeded();
        let user = user.ok_or_else(|| unauthenticated("invalid credentials"))?;
        if user.totp_secret.is_none() && user.email_otp {
            let mailer = self.mailer.as_ref().ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    "email codes are on for this account but the server cannot send mail",
                )
            })?;
            let challenge_id = token::random_id();
            let code = nubes_auth::code::issue();
            self.db
                .insert_email_code(
                    &challenge_id,
                    &user.id,
                    &code.hash,
                    now() + EMAIL_CODE_TTL.as_secs() as i64,
                )
                .await?;
            let body = format!(
                "Your Nubes sign-in code is {}.\n\nIt expires in {} minutes. If you did not try to sign in, change your password.\n",
                code.code,
                EMAIL_CODE_TTL.as_secs() / 60
            );
            mailer
                .send(&user.email, "Your Nubes sign-in code", &body)
                .await?;
            let challenge_token = self
                .signer
                .issue(TokenType::Challenge, &user.id, &challenge_id)
                .map_err(auth_error)?;
            return Ok(LoginOutcome::Challenge {
                challenge_token,
                methods: vec!["email".into()],
            });
        }
        if user.totp_secret.is_some() {
            let challenge_token = self
                .signer
                .issue(TokenType::Challenge, &user.id, &token::random_id())
                .map_err(auth_error)?;
            return Ok(LoginOutcome::Challenge {
                challenge_token,
                methods: vec!["totp".into()],
            });
        }
        Ok(LoginOutcome::Tokens(self.start_session(&user.id).await?))
    }

    /// Answers a login challenge with a TOTP code; each code works once.
    pub async fn verify_otp(
        &self,
        challenge_token: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<Tokens> {
        self.attempts.attempt_from(source)?;
        let claims = self
            .signer
            .verify(challenge_token, TokenType::Challenge)
            .map_err(auth_error)?;
        // Codes are six digits: without a lock, one challenge could be brute-forced in time.
        let account = format!("otp:{}", claims.sub);
        let attempt = self.attempts.begin(&account, source)?;
        let result = self.check_code(&claims.sub, &claims.sid, code).await;
        match &result {
            Ok(_) => attempt.succeeded(),
            Err(e) if e.kind() == ErrorKind::Unauthenticated => attempt.failed(),
            Err(_) => {}
        }
        result
    }

    async fn check_code(&self, user_id: &str, challenge_id: &str, code: &str) -> Result<Tokens> {
        let user = self
            .db
            .user(user_id)
            .await
            .map_err(|_| unauthenticated("invalid token"))?;
        if user.totp_secret.is_none() && user.email_otp {
            let stored = self
                .db
                .email_code(challenge_id, &user.id, now())
                .await?
                .ok_or_else(|| unauthenticated("invalid code"))?;
            if !nubes_auth::code::matches(code, &stored)
                || !self.db.use_email_code(challenge_id, now()).await?
            {
                return Err(unauthenticated("invalid code"));
            }
            return self.start_session(&user.id).await;
        }
        let secret = user
            .totp_secret
            .as_deref()
            .ok_or_else(|| unauthenticated("invalid code"))?;
        let secret = TotpSecret::from_base32(secret).map_err(auth_error)?;
        let last = user.totp_last_step.map(|s| s as u64);
        let step = secret
            .verify(code, now() as u64, last)
            .ok_or_else(|| unauthenticated("invalid code"))?;
        if !self.db.use_totp_step(&user.id, step as i64).await? {
            return Err(unauthenticated("invalid code"));
        }
        self.start_session(&user.id).await
    }

    async fn start_session(&self, user_id: &str) -> Result<Tokens> {
        let session_id = token::random_id();
        let refresh = token::issue(TokenKind::Refresh);
        let now = now();
        self.db
            .insert_session(
                &session_id,
                user_id,
                &refresh.hash,
                now,
                now + self.refresh_ttl.as_secs() as i64,
            )
            .await?;
        self.tokens(user_id, &session_id, refresh.plaintext)
    }

    fn tokens(&self, user_id: &str, session_id: &str, refresh_token: String) -> Result<Tokens> {
        Ok(Tokens {
            access_token: self
                .signer
                .issue(TokenType::Access, user_id, session_id)
                .map_err(auth_error)?,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: self.signer.access_ttl.as_secs(),
        })
    }

    /// Trades a refresh token for new tokens. A token that was already traded is a sign of theft:
    /// the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        if !token::looks_like(TokenKind::Refresh, refresh_token) {
            return Err(unauthenticated("invalid token"));
        }
        let old = token::hash(refresh_token);
        match self.db.lookup_refresh(&old, now()).await? {
            RefreshLookup::Current {
                session_id,
                user_id,
            } => {
                let new = token::issue(TokenKind::Refresh);
                if !self.db.rotate_refresh(&session_id, &old, &new.hash).await? {
                    return Err(unauthenticated("invalid token"));
                }
                self.tokens(&user_id, &session_id, new.plaintext)
            }
            RefreshLookup::Spent { session_id } => {
                tracing::warn!(session = %session_id, "a spent refresh token was replayed; revoking the session");
                self.db.revoke_session(&session_id, now()).await?;
                Err(unauthenticated("invalid token"))
            }
            RefreshLookup::Unknown => Err(unauthenticated("invalid token")),
        }
    }

    /// Ends the session; called with an API token, revokes that token.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        match principal.session_id.strip_prefix(API_TOKEN_SESSION) {
            Some(id) => {
                self.db
                    .revoke_api_token(&principal.user_id, id, now())
                    .await
            }
            None => self.db.revoke_session(&principal.session_id, now()).await,
        }
    }

    /// A new API token for the caller, shown once.
    pub async fn create_api_token(&self, principal: &Principal, name: &str) -> Result<ApiToken> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "token name must be 1-100 printable characters",
            ));
        }
        let issued = token::issue(TokenKind::Api);
        let row = crate::db::ApiTokenRow {
            id: token::random_id(),
            name: name.to_string(),
            created_at: now(),
            last_used_at: None,
        };
        self.db
            .insert_api_token(&row, &principal.user_id, &issued.hash)
            .await?;
        Ok(ApiToken {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: None,
            token: Some(issued.plaintext),
        })
    }

    pub async fn api_tokens(&self, principal: &Principal) -> Result<Vec<ApiToken>> {
        Ok(self
            .db
            .api_tokens(&principal.user_id)
            .await?
            .into_iter()
            .map(|r| ApiToken {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                token: None,
            })
            .collect())
    }

    pub async fn revoke_api_token(&self, principal: &Principal, id: &str) -> Result<()> {
        self.db
            .revoke_api_token(&principal.user_id, id, now())
            .await
    }

    /// Checks an access token, and that its session is still live (so logout takes effect at once).
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        if access_token.starts_with(TokenKind::Api.prefix()) {
            let found = match token::looks_like(TokenKind::Api, access_token) {
                true => {
                    self.db
                        .use_api_token(&token::hash(access_token), now())
                        .await?
                }
                false => None,
            };
            let (id, user_id) = found.ok_or_else(|| unauthenticated("invalid token"))?;
            return Ok(Principal {
                user_id,
                session_id: format!("{API_TOKEN_SESSION}{id}"),
                expires_at: None,
            });
        }
        let claims = self
            .signer
            .verify(access_token, TokenType::Access)
            .map_err(auth_error)?;
        if !self.db.session_active(&claims.sid, now()).await? {
            return Err(unauthenticated("session ended"));
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.sid,
            expires_at: i64::try_from(claims.exp).ok(),
        })
    }

    /// Whether what `p` signed in with still holds: not expired, its session not ended (a
    /// logout) and its API token not revoked. Long-lived connections ask it as they go.
    pub async fn still_valid(&self, p: &Principal) -> bool {
        if p.expires_at.is_some_and(|at| at <= now()) {
            return false;
        }
        let live = match p.session_id.strip_prefix(API_TOKEN_SESSION) {
            Some(id) => self.db.api_token_live(id).await,
            None => self.db.session_active(&p.session_id, now()).await,
        };
        // A database that does not answer ends nothing by itself.
        live.unwrap_or(true)
    }

    pub async fn me(&self, principal: &Principal) -> Result<User> {
        Ok(self.db.user(&principal.user_id).await?.into())
    }

    /// Turns the emailed second factor on or off (TOTP, when enabled, takes precedence).
    pub async fn set_email_otp(&self, principal: &Principal, enabled: bool) -> Result<User> {
        if enabled && self.mailer.is_none() {
            return Err(Error::unsupported(
                "this server cannot send mail, so email codes cannot be turned on",
            ));
        }
        self.db.set_email_otp(&principal.user_id, enabled).await?;
        self.me(principal).await
    }

    /// Starts TOTP enrolment: a new secret, active only once a code from it is confirmed.
    pub async fn totp_enrol(&self, principal: &Principal) -> Result<TotpEnrolment> {
        let user = self.db.user(&principal.user_id).await?;
        if user.totp_secret.is_some() {
            return Err(Error::conflict("TOTP is already enabled"));
        }
        let secret = TotpSecret::generate();
        self.db
            .set_totp_pending(&user.id, Some(&secret.to_base32()))
            .await?;
        Ok(TotpEnrolment {
            otpauth_uri: secret.otpauth_uri("Nubes", &user.email),
            secret: secret.to_base32(),
        })
    }

    pub async fn totp_confirm(&self, principal: &Principal, code: &str) -> Result<User> {
        let user = self.db.user(&principal.user_id).await?;
        let pending = user
            .totp_pending
            .as_deref()
            .ok_or_else(|| Error::conflict("no TOTP enrolment is pending: start one first"))?;
        let secret = TotpSecret::from_base32(pending).map_err(auth_error)?;
        let step = secret.verify(code, now() as u64, None).ok_or_else(|| {
            Error::invalid_input(
                "the code does not match: check the device's clock and try the next code",
            )
        })?;
        self.db
            .activate_totp(&user.id, pending, step as i64)
            .await?;
        self.me(principal).await
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@.com",
            "a@b@c.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
