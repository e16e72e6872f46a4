//! Running a command in a container: stdin in, stdout and stderr apart, the real exit code.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use nubes_core::{Error, ErrorKind, ExecOutput, ExecRequest, Result};
use tokio::io::AsyncWriteExt;

use crate::{error, SCHEME};

pub async fn run(docker: &Docker, container: &str, request: ExecRequest) -> Result<ExecOutput> {
    let env: Vec<String> = request
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let options = CreateExecOptions {
        attach_stdin: Some(request.stdin.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(request.command.clone()),
        working_dir: request.workdir.clone(),
        ..Default::default()
    };
    let exec =
        docker
            .create_exec(container, options)
            .await
            .map_err(|e| match error::status(&e) {
                Some(409) => Error::conflict(format!("instance {container} is not running"))
                    .with_provider(SCHEME),
                _ => error::map(e),
            })?;
    let collect = async {
        let started = docker
            .start_exec(&exec.id, None)
            .await
            .map_err(error::map)?;
        let StartExecResults::Attached { output, mut input } = started else {
            return Err(
                Error::unexpected("the engine detached an attached exec").with_provider(SCHEME)
            );
        };
        // Write stdin while reading: a command that echoes more than the pipe buffers would
        // otherwise block us both. `input` lives until the output ends either way.
        let writer = async {
            match &request.stdin {
                Some(bytes) => {
                    input.write_all(bytes).await?;
                    input.shutdown().await
                }
                None => Ok(()),
            }
        };
        let (written, drained) = tokio::join!(writer, drain(output));
        written.map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("writing the command's stdin failed: {e}"),
            )
            .with_provider(SCHEME)
        })?;
        drained
    };
    let (stdout, stderr) = match request.timeout {
        None => collect.await?,
        Some(limit) => match tokio::time::timeout(limit, collect).await {
            Ok(r) => r?,
            Err(_) => {
                kill(docker, &exec.id).await;
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "`{}` did not finish within {limit:?} and was killed",
                        request.command.join(" ")
                    ),
                )
                .with_provider(SCHEME));
            }
        },
    };
    let exit_code = exit_code(docker, &exec.id).await?;
    // runc reports a program it cannot find as exit 126/127 with its own message on the output.
    if matches!(exit_code, 126 | 127) {
        let said =
            String::from_utf8_lossy(if stdout.is_empty() { &stderr } else { &stdout }).to_string();
        if said.contains("OCI runtime exec failed") || said.contains("executable file not found") {
            return Err(Error::not_found(format!(
                "`{}` cannot be run: no such executable in the instance",
                request.command[0]
            ))
            .with_provider(SCHEME));
        }
    }
    Ok(ExecOutput::new(exit_code, stdout, stderr))
}

pub(crate) type Output = std::pin::Pin<
    Box<dyn futures::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>,
>;

/// Reads an attached stream to its end, keeping stdout and stderr apart.
pub(crate) async fn drain(mut output: Output) -> Result<(Bytes, Bytes)> {
    let mut stdout = BytesMut::new();
    let mut stderr = BytesMut::new();
    while let Some(chunk) = output.next().await {
        match chunk.map_err(error::map)? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                stdout.extend_from_slice(&message)
            }
            LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok((stdout.freeze(), stderr.freeze()))
}

/// The exit code, once the engine has recorded it (the output can end a moment before).
async fn exit_code(docker: &Docker, exec_id: &str) -> Result<i64> {
    let mut delay = Duration::from_millis(1);
    for _ in 0..50 {
        let inspect = docker.inspect_exec(exec_id).await.map_err(error::map)?;
        if inspect.running != Some(true) {
            if let Some(code) = inspect.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
    Err(
        Error::unexpected("the engine never reported the command's exit code")
            .with_provider(SCHEME),
    )
}

/// Docker has no API to stop an exec; on a local engine the process is ours to signal by pid.
async fn kill(docker: &Docker, exec_id: &str) {
    let pid = match docker.inspect_exec(exec_id).await {
        Ok(i) => i.pid.filter(|p| *p > 0),
        Err(_) => None,
    };
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
        tracing::warn!(%pid, error = %e, "could not kill a timed-out exec (is the engine remote?)");
    }
}
