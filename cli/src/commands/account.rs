//! `cloudctl register`, `token`, `totp` and `email-otp`: an account on a Nubes server, its API
//! tokens and its second factors.

use nubes::remote::auth::{self, ApiToken, TotpEnrolment, User};
use nubes::remote::Client;

use crate::args::{AccountArgs, Switch, TokenCmd, TotpCmd};
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for User {
    const HEADERS: &'static [&'static str] =
        &["ID", "EMAIL", "ADMIN", "TOTP", "EMAIL-OTP", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.email.clone(),
            self.platform_admin.to_string(),
            self.totp_enabled.to_string(),
            self.email_otp.to_string(),
            output::epoch(self.created_at),
        ]
    }
}

impl Tabular for ApiToken {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "CREATED", "LAST USED", "TOKEN"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            output::epoch(self.created_at),
            output::or_dash(self.last_used_at.map(output::epoch)),
            output::or_dash(self.token.clone()),
        ]
    }
}

impl Tabular for TotpEnrolment {
    const HEADERS: &'static [&'static str] = &["SECRET", "URI"];

    fn row(&self) -> Vec<String> {
        vec![self.secret.clone(), self.otpauth_uri.clone()]
    }
}

pub async fn register(args: AccountArgs) -> Outcome {
    let server = args.server.trim_end_matches('/');
    let password = super::login::password(args.password_stdin)?;
    let user = auth::register(server, &args.email, &password).await?;
    eprintln!("registered {}; sign in with `cloudctl login`", user.email);
    Ok(0)
}

pub async fn token(client: &Client, cmd: TokenCmd, format: Format) -> Outcome {
    match cmd {
        TokenCmd::Create { name } => {
            output::one(format, &auth::create_token(client, &name).await?);
            eprintln!("the token is shown this once: keep it");
        }
        TokenCmd::List => output::list(format, &auth::tokens(client).await?),
        TokenCmd::Revoke { id } => {
            auth::revoke_token(client, &id).await?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(0)
}

pub async fn totp(client: &Client, cmd: TotpCmd, format: Format) -> Outcome {
    match cmd {
        TotpCmd::Enrol => {
            output::one(format, &auth::enrol_totp(client).await?);
            eprintln!("add it to an authenticator app, then `cloudctl totp confirm CODE`");
        }
        TotpCmd::Confirm { code } => output::one(format, &auth::confirm_totp(client, &code).await?),
    }
    Ok(0)
}

pub async fn email_otp(client: &Client, state: Switch, format: Format) -> Outcome {
    let user = auth::email_otp(client, state == Switch::On).await?;
    output::one(format, &user);
    Ok(0)
}
