//! Commands in a running pod, over the exec WebSocket (kube's `AttachedProcess`): stdout and
//! stderr apart, the real exit code from the status channel, stdin framed (see `script`).

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, AttachedProcess};
use kube::Api;
use nubes_core::{
    ByteStream, Error, ErrorKind, ExecEvent, ExecRequest, ExecStream, LogChunk, LogStreamKind,
    Result,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::from_kube;
use crate::manifest::CONTAINER;
use crate::script;

/// Output pieces in flight between the WebSocket and the caller; past this the reader waits,
/// so a caller that reads slowly holds the command back instead of growing memory.
const IN_FLIGHT: usize = 16;
const READ_BUF: usize = 32 * 1024;

/// A random per-command mark for the wrapper's trailers and its processes.
pub fn marker() -> String {
    (0..16).map(|_| fastrand::alphanumeric()).collect()
}

/// The wrapper exports the request's environment: keys must be shell variable names, and the
/// wrapper's own marker is not the caller's to set.
pub fn check_env(request: &ExecRequest) -> Result<()> {
    for key in request.env.keys() {
        let shell_name = key
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
        if !shell_name || key == "NUBES_EXEC" {
            return Err(Error::invalid_input(format!(
                "environment variable `{}`: exec here takes shell variable names \
                 (letters, digits, '_'), and not NUBES_EXEC",
                key.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Starts `request` in `pod` and streams its output, then its exit code. Dropping the stream
/// kills the command.
pub async fn start(
    pods: Api<Pod>,
    pod: &str,
    mut request: ExecRequest,
    stdin: Option<ByteStream>,
) -> Result<ExecStream> {
    let marker = marker();
    let first = request.stdin.take();
    let framed = first.is_some() || stdin.is_some();
    let argv = script::exec(
        &request.command,
        &request.env,
        request.workdir.as_deref(),
        &marker,
        framed,
    );
    let params = AttachParams::default()
        .container(CONTAINER)
        .stdin(framed)
        .stdout(true)
        .stderr(true);
    // A pod just made again under the same name (a restart, a resize) can briefly be the old
    // one to the kubelet, which then answers "container not found": asked again, it knows.
    let mut attempt = 0;
    let proc = loop {
        match pods.exec(pod, argv.clone(), &params).await {
            Err(kube::Error::Api(s))
                if attempt < 10 && s.message.contains("container not found") =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            result => {
                break result.map_err(|e| from_kube(e, &format!("exec in instance {pod}")))?
            }
        }
    };
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let session = Session {
        pods,
        pod: pod.to_string(),
        marker,
    };
    tokio::spawn(session.pump(proc, first, stdin, tx));
    Ok(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    })
    .boxed())
}

struct Session {
    pods: Api<Pod>,
    pod: String,
    marker: String,
}

impl Session {
    async fn pump(
        self,
        mut proc: AttachedProcess,
        first: Option<Bytes>,
        stdin: Option<ByteStream>,
        tx: mpsc::Sender<Result<ExecEvent>>,
    ) {
        let (Some(mut out), Some(mut err), Some(status)) =
            (proc.stdout(), proc.stderr(), proc.take_status())
        else {
            let _ = tx
                .send(Err(Error::unexpected("the exec stream has no output")))
                .await;
            return;
        };
        // The writer stays alive until the command ends: on a v4 stream, dropping it closes
        // the whole WebSocket, output and exit code included.
        let mut writer = proc.stdin();
        let feed = async {
            if let Some(w) = writer.as_mut() {
                if let Some(bytes) = first.filter(|b| !b.is_empty()) {
                    w.write_all(&script::frame(&bytes)).await.ok()?;
                }
                if let Some(mut more) = stdin {
                    while let Some(piece) = more.next().await {
                        let piece = piece.ok()?;
                        if !piece.is_empty() {
                            w.write_all(&script::frame(&piece)).await.ok()?;
                        }
                    }
                }
                w.write_all(script::END).await.ok()?;
                w.flush().await.ok()?;
            }
            Some(())
        }
        .fuse();
        tokio::pin!(feed);
        let (mut out_buf, mut err_buf) = (vec![0u8; READ_BUF], vec![0u8; READ_BUF]);
        let mut out_end = script::Trailer::new(&self.marker);
        let mut err_end = script::Trailer::new(&self.marker);
        let (mut out_open, mut err_open) = (true, true);
        // A stream is done at its trailer or its end. After its trailer it is still read (and
        // dropped): kube's pipe for it is small, and a full one would hold back the other.
        loop {
            let out_done = !out_open || out_end.code().is_some();
            let err_done = !err_open || err_end.code().is_some();
            if out_done && err_done {
                break;
            }
            let (stream, data) = tokio::select! {
                fed = &mut feed => {
                    if fed.is_none() {
                        // The caller's stdin failed: the command cannot be given the rest.
                        self.abandon(&proc);
                        let _ = tx.send(Err(Error::unexpected("reading the command's stdin failed"))).await;
                        return;
                    }
                    continue;
                }
                n = out.read(&mut out_buf), if out_open => match n {
                    Ok(0) | Err(_) => { out_open = false; (LogStreamKind::Stdout, out_end.finish()) }
                    Ok(n) => (LogStreamKind::Stdout, out_end.feed(&out_buf[..n])),
                },
                n = err.read(&mut err_buf), if err_open => match n {
                    Ok(0) | Err(_) => { err_open = false; (LogStreamKind::Stderr, err_end.finish()) }
                    Ok(n) => (LogStreamKind::Stderr, err_end.feed(&err_buf[..n])),
                },
                () = tx.closed() => {
                    self.abandon(&proc);
                    return;
                }
            };
            if data.is_empty() {
                continue;
            }
            let chunk = LogChunk {
                stream,
                data: Bytes::from(data),
            };
            if tx.send(Ok(ExecEvent::Output(chunk))).await.is_err() {
                self.abandon(&proc);
                return;
            }
        }
        // Both trailers read: the command has ended (its stream may stay open while Docker
        // waits for a stdin that v4 cannot close, so it is dropped here).
        let end = match (out_end.code(), err_end.code()) {
            (Some(exit_code), _) | (None, Some(exit_code)) => {
                proc.abort();
                Ok(ExecEvent::Exit { exit_code })
            }
            // No trailer: the command was killed, or the wrapper never ran (no `sh` in the
            // image); the status channel says how it ended.
            (None, None) => match status.await {
                Some(status) => {
                    exit_code(&status, &self.pod).map(|exit_code| ExecEvent::Exit { exit_code })
                }
                None => Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the exec stream in instance {} ended without an exit code",
                        self.pod
                    ),
                )),
            },
        };
        let _ = tx.send(end).await;
    }

    /// Nobody reads the command any more: close its stream and kill what it started.
    fn abandon(&self, proc: &AttachedProcess) {
        proc.abort();
        let (pods, pod, marker) = (self.pods.clone(), self.pod.clone(), self.marker.clone());
        tokio::spawn(async move { kill(&pods, &pod, &marker).await });
    }
}

/// Kills every process an exec marked with `marker`.
pub async fn kill(pods: &Api<Pod>, pod: &str, marker: &str) {
    let params = AttachParams::default().container(CONTAINER);
    match pods.exec(pod, script::kill(marker), &params).await {
        Ok(proc) => {
            let _ = proc.join().await;
        }
        Err(e) => tracing::warn!(%pod, error = %e, "could not kill an abandoned exec"),
    }
}

/// The exit code a finished exec's status carries; a status that is not an exit is the error
/// it describes (the program is missing, the container is gone).
pub fn exit_code(status: &Status, pod: &str) -> Result<i64> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        if let Some(code) = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
            .and_then(|c| c.message.as_deref()?.parse::<i64>().ok())
        {
            return Ok(code);
        }
    }
    let message = status.message.clone().unwrap_or_default();
    let kind = if message.contains("executable file not found") || message.contains("no such file")
    {
        ErrorKind::NotFound
    } else if message.contains("not running") || message.contains("container not found") {
        ErrorKind::Conflict
    } else {
        ErrorKind::Unexpected
    };
    Err(Error::new(
        kind,
        format!("exec in instance {pod}: {message}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keys_are_shell_names() {
        assert!(check_env(&ExecRequest::new(["true"]).env("A_1", "x y")).is_ok());
        for bad in ["A B", "1A", "A-B", "NUBES_EXEC", "A$(x)"] {
            let e = check_env(&ExecRequest::new(["true"]).env(bad, "v")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn exit_codes_come_from_the_status_channel() {
        let ok: Status = serde_json::from_value(serde_json::json!({"status": "Success"})).unwrap();
        assert_eq!(exit_code(&ok, "p").unwrap(), 0);
        let nonzero: Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: exit status 7",
            "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}
        }))
        .unwrap();
        assert_eq!(exit_code(&nonzero, "p").unwrap(), 7);
        let missing: Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "InternalError",
            "message": "exec: \"nope\": executable file not found in $PATH"
        }))
        .unwrap();
        assert_eq!(
            exit_code(&missing, "p").unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
