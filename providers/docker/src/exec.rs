//! Running a command in a container: stdin in, stdout and stderr apart, the real exit code.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use nubes_core::{
    collect_exec, ByteStream, Error, ErrorKind, ExecEvent, ExecOutput, ExecRequest, ExecStream,
    LogChunk, LogStreamKind, Result,
};
use tokio::io::AsyncWriteExt;

use crate::{error, SCHEME};

/// Runs a command to its end and collects what it wrote.
pub async fn run(docker: &Docker, container: &str, request: ExecRequest) -> Result<ExecOutput> {
    let max = request.max_output;
    collect_exec(stream(docker, container, request, None).await?, max).await
}

/// Starts a command and yields its output as the engine passes it on, then its exit code.
/// stdin is `request.stdin`, then `more` as it arrives.
pub async fn stream(
    docker: &Docker,
    container: &str,
    request: ExecRequest,
    more: Option<ByteStream>,
) -> Result<ExecStream> {
    let env: Vec<String> = request
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let takes_stdin = request.stdin.is_some() || more.is_some();
    let options = CreateExecOptions {
        attach_stdin: Some(takes_stdin),
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
    let started = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(error::map)?;
    let StartExecResults::Attached { output, mut input } = started else {
        return Err(Error::unexpected("the engine detached an attached exec").with_provider(SCHEME));
    };
    // stdin is written beside the reading: a command that echoes more than the pipe buffers
    // would otherwise block us both.
    let first = request.stdin.clone();
    let writer = takes_stdin.then(|| {
        tokio::spawn(async move {
            if let Some(bytes) = first {
                input.write_all(&bytes).await?;
            }
            if let Some(mut more) = more {
                while let Some(piece) = more.next().await {
                    match piece {
                        Ok(bytes) => input.write_all(&bytes).await?,
                        Err(e) => return Err(std::io::Error::other(e.to_string())),
                    }
                }
            }
            input.shutdown().await
        })
        .abort_handle()
    });
    let running = Running {
        docker: docker.clone(),
        exec_id: exec.id,
        output,
        writer,
        deadline: request
            .timeout
            .map(|t| (tokio::time::Instant::now() + t, t)),
        command: request.command.join(" "),
        program: request.command[0].clone(),
        queued: Vec::new(),
        first: true,
        finished: false,
    };
    Ok(futures::stream::unfold(Some(running), next_event).boxed())
}

/// A started exec. Dropped before its end, it kills the command: no one reads it any more.
struct Running {
    docker: Docker,
    exec_id: String,
    output: Output,
    writer: Option<tokio::task::AbortHandle>,
    deadline: Option<(tokio::time::Instant, Duration)>,
    command: String,
    program: String,
    /// Events already read, last first.
    queued: Vec<Result<ExecEvent>>,
    /// No output seen yet: the first may be runc saying the program cannot be run.
    first: bool,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(w) = &self.writer {
            w.abort();
        }
        if !self.finished {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (docker, id) = (self.docker.clone(), self.exec_id.clone());
                rt.spawn(async move { kill(&docker, &id).await });
            }
        }
    }
}

fn runc_refused(output: &[u8]) -> bool {
    let said = String::from_utf8_lossy(output);
    said.contains("OCI runtime exec failed") || said.contains("executable file not found")
}

async fn next_event(state: Option<Running>) -> Option<(Result<ExecEvent>, Option<Running>)> {
    let mut r = state?;
    if let Some(event) = r.queued.pop() {
        let more = !r.queued.is_empty();
        return Some((event, more.then_some(r)));
    }
    loop {
        let next = match r.deadline {
            None => r.output.next().await,
            Some((at, limit)) => match tokio::time::timeout_at(at, r.output.next()).await {
                Ok(next) => next,
                Err(_) => {
                    let e = Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "`{}` did not finish within {limit:?} and was killed",
                            r.command
                        ),
                    )
                    .with_provider(SCHEME);
                    return Some((Err(e), None));
                }
            },
        };
        let (stream, data) = match next {
            Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                (LogStreamKind::Stdout, message)
            }
            Some(Ok(LogOutput::StdErr { message })) => (LogStreamKind::Stderr, message),
            Some(Ok(LogOutput::StdIn { .. })) => continue,
            Some(Err(e)) => return Some((Err(error::map(e)), None)),
            None => {
                r.finished = true;
                let code = exit_code(&r.docker, &r.exec_id).await;
                return Some((code.map(|exit_code| ExecEvent::Exit { exit_code }), None));
            }
        };
        if std::mem::take(&mut r.first) && runc_refused(&data) {
            // runc reports a program it cannot find as exit 126/127 with this message as the
            // only output; anything else is the program's own.
            let rest = drain(std::mem::replace(
                &mut r.output,
                Box::pin(futures::stream::empty()),
            ))
            .await;
            r.finished = true;
            let code = exit_code(&r.docker, &r.exec_id).await;
            if matches!(code, Ok(126 | 127)) {
                let e = Error::not_found(format!(
                    "`{}` cannot be run: no such executable in the instance",
                    r.program
                ))
                .with_provider(SCHEME);
                return Some((Err(e), None));
            }
            let mut events = vec![Ok(ExecEvent::Output(LogChunk { stream, data }))];
            match rest {
                Ok((out, err)) => {
                    for (stream, data) in
                        [(LogStreamKind::Stdout, out), (LogStreamKind::Stderr, err)]
                    {
                        if !data.is_empty() {
                            events.push(Ok(ExecEvent::Output(LogChunk { stream, data })));
                        }
                    }
                    events.push(code.map(|exit_code| ExecEvent::Exit { exit_code }));
                }
                Err(e) => events.push(Err(e)),
            }
            r.queued = events;
            r.queued.reverse();
            let first = r.queued.pop().expect("one event at least");
            return Some((first, Some(r)));
        }
        return Some((Ok(ExecEvent::Output(LogChunk { stream, data })), Some(r)));
    }
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
    // The engine records the pid a moment after the process starts (output can come first),
    // so a running exec without one is asked again.
    let mut delay = Duration::from_millis(5);
    let pid = loop {
        match docker.inspect_exec(exec_id).await {
            Ok(i) if i.pid.is_some_and(|p| p > 0) => break i.pid,
            Ok(i) if i.running == Some(true) && delay < Duration::from_secs(2) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            _ => return,
        }
    };
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
        tracing::warn!(%pid, error = %e, "could not kill an abandoned exec (is the engine remote?)");
    }
}
