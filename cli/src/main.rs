//! cloudctl: the Nubes command line. Commands are thin: they parse flags, call the SDK and print.

mod args;
mod commands;
mod exit;
mod output;
mod parse;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use nubes::prelude::*;

use args::{Cli, Command};

/// What a command wants cloudctl to exit with, when not plain success.
pub type Outcome = Result<i32>;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Image(cmd) => commands::image::run(&cli.provider, cmd, format).await,
        #[cfg(feature = "server")]
        Command::Serve(args) => commands::serve::run(args).await,
        command => {
            let cloud = Cloud::connect(&cli.provider).await?;
            match command {
                Command::Instance(cmd) => commands::instance::run(&cloud, cmd, format).await,
                Command::Bucket(cmd) => commands::bucket::run(&cloud, cmd, format).await,
                Command::Object(cmd) => commands::object::run(&cloud, cmd, format).await,
                Command::Function(cmd) => commands::function::run(&cloud, cmd, format).await,
                _ => unreachable!("handled above"),
            }
        }
    }
}
