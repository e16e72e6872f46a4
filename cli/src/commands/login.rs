use std::io::{BufRead, IsTerminal};

use nubes::remote::auth::{self, Login};
use nubes::{Error, ErrorKind};
use serde::Serialize;

use crate::args::{ContextCmd, LoginArgs};
use crate::context::{ConfigFile, Context};
use crate::output::{self, Format, Tabular};
use crate::Outcome;

pub fn read_line(prompt: Option<&str>) -> nubes::Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("cannot read stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn password(from_stdin: bool) -> nubes::Result<String> {
    if from_stdin {
        return read_line(None);
    }
    if let Ok(p) = std::env::var("NUBES_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("password: ")
            .map_err(|e| Error::invalid_input(format!("cannot read the password: {e}")));
    }
    Err(Error::invalid_input(
        "no password: use --password-stdin, NUBES_PASSWORD, or a terminal",
    ))
}

pub async fn login(args: LoginArgs) -> Outcome {
    let server = args.account.server.trim_end_matches('/').to_string();
    let password = password(args.account.password_stdin)?;
    let access = match auth::login(&server, &args.account.email, &password).await? {
        Login::Done(access) => access,
        Login::Challenge { token, methods } => {
            let code = match &args.code {
                Some(c) => c.clone(),
                None if std::io::stdin().is_terminal() => {
                    let how = if methods.iter().any(|m| m == "email") {
                        "code from your email: "
                    } else {
                        "code from your authenticator: "
                    };
                    read_line(Some(how))?
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Unauthenticated,
                        format!(
                            "a second factor ({}) is required: pass --code",
                            methods.join(" or ")
                        ),
                    ))
                }
            };
            auth::verify(&server, &token, &code).await?
        }
    };
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "this machine".into());
    let token = auth::machine_token(&server, &access, &format!("cloudctl on {host}")).await?;
    let name = args.context.unwrap_or_else(|| {
        server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string()
    });
    let mut config = ConfigFile::load()?;
    config.upsert(Context {
        name: name.clone(),
        server,
        user: args.account.email,
        token,
    });
    config.save()?;
    eprintln!("logged in; context {name} is now current");
    Ok(0)
}

pub async fn logout() -> Outcome {
    let mut config = ConfigFile::load()?;
    let name = config
        .current_context
        .clone()
        .ok_or_else(|| Error::not_found("no current context: nothing to log out of"))?;
    let ctx = config.remove(&name)?;
    // Revoke the machine's token; a server that already forgot it is fine.
    match auth::revoke(&ctx.server, &ctx.token).await {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::Unauthenticated | ErrorKind::NotFound) => {}
        Err(e) => return Err(e),
    }
    config.save()?;
    eprintln!("logged out of {name}");
    Ok(0)
}

#[derive(Serialize)]
struct Row {
    current: bool,
    name: String,
    server: String,
    user: String,
}

impl Tabular for Row {
    const HEADERS: &'static [&'static str] = &["CURRENT", "NAME", "SERVER", "USER"];

    fn row(&self) -> Vec<String> {
        vec![
            if self.current {
                "*".into()
            } else {
                String::new()
            },
            self.name.clone(),
            self.server.clone(),
            self.user.clone(),
        ]
    }
}

pub fn context(cmd: ContextCmd, format: Format) -> Outcome {
    let mut config = ConfigFile::load()?;
    match cmd {
        ContextCmd::List => {
            let rows: Vec<Row> = config
                .contexts
                .iter()
                .map(|c| Row {
                    current: config.current_context.as_deref() == Some(c.name.as_str()),
                    name: c.name.clone(),
                    server: c.server.clone(),
                    user: c.user.clone(),
                })
                .collect();
            output::list(format, &rows);
        }
        ContextCmd::Use { name } => {
            if !config.contexts.iter().any(|c| c.name == name) {
                return Err(Error::not_found(format!("no context named {name}")));
            }
            config.current_context = Some(name);
            config.save()?;
        }
        ContextCmd::Delete { name } => {
            config.remove(&name)?;
            config.save()?;
        }
    }
    Ok(0)
}
