//! cloudctl: the Nubes command line. Commands are thin: they parse flags, call the SDK and print.

mod args;
mod commands;
mod context;
mod exit;
mod output;
mod parse;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use nubes::prelude::*;

use args::{Cli, Command};
use nubes::remote::Client;

/// What a command wants cloudctl to exit with, when not plain success.
pub type Outcome = Result<i32>;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings and errors of long-running commands (serve, up, agent) go to stderr; RUST_LOG
    // picks other levels. Nothing secret is logged.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let outcome = run(cli).await;
    match outcome {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("{}", exit::message(&e));
            ExitCode::from(exit::code(e.kind()) as u8)
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    let format = cli.output;
    match cli.command {
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cloudctl", &mut script);
            // A closed pipe (`| head`) is the reader's choice, not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Ok(0)
        }
        Command::Image(cmd) => {
            let provider = cli.provider.as_deref().unwrap_or("docker://");
            commands::image::run(provider, cmd, format).await
        }
        Command::Agent(args) => match args.admin {
            Some(cmd) => {
                let client = server_client(cli.provider.as_deref(), None)?;
                commands::agent::admin(&client, cmd, format).await
            }
            None => commands::agent::run(args).await,
        },
        Command::Cluster(cmd) => {
            let client = server_client(cli.provider.as_deref(), cli.org)?;
            commands::cluster::run(&client, cmd, format).await
        }
        Command::Org(cmd) => {
            let client = server_client(cli.provider.as_deref(), None)?;
            commands::org::run(&client, cmd, format).await
        }
        Command::Token(cmd) => {
            let client = server_client(cli.provider.as_deref(), None)?;
            commands::account::token(&client, cmd, format).await
        }
        Command::Totp(cmd) => {
            let client = server_client(cli.provider.as_deref(), None)?;
            commands::account::totp(&client, cmd, format).await
        }
        Command::EmailOtp { state } => {
            let client = server_client(cli.provider.as_deref(), None)?;
            commands::account::email_otp(&client, state, format).await
        }
        Command::Admin(cmd) => {
            let client = server_client(cli.provider.as_deref(), None)?;
            commands::admin::run(&client, cmd, format).await
        }
        Command::Register(args) => commands::account::register(args).await,
        Command::Billing(cmd) => {
            let client = server_client(cli.provider.as_deref(), None)?;
            commands::billing::run(&client, cmd, format).await
        }
        Command::Events => {
            let (server, token) = server_target(cli.provider.as_deref())?;
            commands::events::run(&server, &token).await
        }
        Command::Login(args) => commands::login::login(args).await,
        Command::Logout => commands::login::logout().await,
        Command::Context(cmd) => commands::login::context(cmd, format),
        #[cfg(feature = "server")]
        Command::Serve(args) => commands::serve::run(args).await,
        #[cfg(feature = "server")]
        Command::Up(args) => commands::serve::up(args).await,
        command => {
            let cloud = connect(cli.provider.as_deref(), cli.org).await?;
            match command {
                Command::Instance(cmd) => commands::instance::run(&cloud, cmd, format).await,
                Command::Disk(cmd) => commands::disk::run(&cloud, cmd, format).await,
                Command::Bucket(cmd) => commands::bucket::run(&cloud, cmd, format).await,
                Command::Object(cmd) => commands::object::run(&cloud, cmd, format).await,
                Command::Function(cmd) => commands::function::run(&cloud, cmd, format).await,
                _ => unreachable!("handled above"),
            }
        }
    }
}

/// The Nubes server and token commands that speak to a server directly (events) use: a server
/// `--provider` with `NUBES_TOKEN` or its context's token, else the current context.
fn server_target(provider: Option<&str>) -> nubes::Result<(String, String)> {
    let config = context::ConfigFile::load()?;
    let env_token = std::env::var("NUBES_TOKEN").ok();
    match provider {
        Some(uri) if uri.starts_with("http") => {
            let server = uri.trim_end_matches('/').to_string();
            let token = match env_token {
                Some(t) => t,
                None => config
                    .contexts
                    .iter()
                    .find(|c| c.server == server)
                    .map(|c| c.token.token.clone())
                    .ok_or_else(|| {
                        nubes::Error::new(
                            nubes::ErrorKind::Unauthenticated,
                            "no token: set NUBES_TOKEN or log in to this server first",
                        )
                    })?,
            };
            Ok((server, token))
        }
        Some(other) => Err(nubes::Error::invalid_input(format!(
            "this command talks to a Nubes server, not to `{other}`"
        ))),
        None => config
            .current()
            .map(|c| (c.server.clone(), c.token.token.clone()))
            .ok_or_else(|| {
                nubes::Error::invalid_input(
                    "no server: log in to one, or pass --provider https://... with NUBES_TOKEN",
                )
            }),
    }
}

/// A client of the Nubes server `server_target` names, creating in `org`.
fn server_client(provider: Option<&str>, org: Option<String>) -> nubes::Result<Client> {
    let (server, token) = server_target(provider)?;
    Ok(Client::new(&server, &token)?.with_org(org))
}

/// The cloud to use: `--provider` (or `NUBES_PROVIDER`) when given, else the current context's
/// server, else the local Docker engine. A server URL without `NUBES_TOKEN` takes the token of
/// the context for that server.
/// `qemu` alone means disks and VMs on this machine's libvirt.
fn expand(provider: &str) -> &str {
    match provider {
        "qemu" => "qemu://?libvirt=qemu:///system",
        "docker" => "docker://",
        other => other,
    }
}

async fn connect(provider: Option<&str>, org: Option<String>) -> nubes::Result<Cloud> {
    let on_server = match provider.map(expand) {
        Some(uri) if uri.starts_with("http") => true,
        Some(_) => false,
        None => context::ConfigFile::load()?.current().is_some(),
    };
    if on_server {
        let (server, token) = server_target(provider)?;
        return nubes::remote::connect(Client::new(&server, &token)?.with_org(org)).await;
    }
    if org.is_some() {
        return Err(nubes::Error::invalid_input(
            "--org applies to a Nubes server: this provider has no organizations",
        ));
    }
    Cloud::connect(provider.map_or("docker://", expand)).await
}
