//! Exec through qemu-guest-agent: `guest-exec` starts the command with its output captured,
//! `guest-exec-status` is asked until it has exited.

use std::time::{Duration, Instant};

use nubes_core::{Error, ErrorKind, ExecOutput, ExecRequest, Result};
use serde::Deserialize;
use serde_json::json;
use virt::domain::Domain;

use crate::SCHEME;

/// How long the agent may take to answer one command, in seconds.
const AGENT_TIMEOUT: i32 = 10;

/// The `guest-exec` command for a request. The agent has no working directory setting, so one
/// is made by a shell that changes to it and then runs the program itself (`exec "$@"`).
pub fn guest_exec(request: &ExecRequest) -> serde_json::Value {
    let (path, args): (String, Vec<String>) = match &request.workdir {
        Some(dir) => {
            let mut args = vec![
                "-c".to_string(),
                "cd \"$0\" && exec \"$@\"".to_string(),
                dir.clone(),
            ];
            args.extend(request.command.iter().cloned());
            ("/bin/sh".into(), args)
        }
        None => (request.command[0].clone(), request.command[1..].to_vec()),
    };
    let env: Vec<String> = request
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut arguments = json!({
        "path": path,
        "arg": args,
        "capture-output": true,
    });
    if !env.is_empty() {
        arguments["env"] = json!(env);
    }
    if let Some(stdin) = &request.stdin {
        arguments["input-data"] = json!(data_encoding::BASE64.encode(stdin));
    }
    json!({ "execute": "guest-exec", "arguments": arguments })
}

#[derive(Debug, Deserialize)]
struct Started {
    #[serde(rename = "return")]
    ret: Pid,
}

#[derive(Debug, Deserialize)]
struct Pid {
    pid: i64,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct Status {
    pub exited: bool,
    #[serde(default)]
    pub exitcode: Option<i64>,
    #[serde(default)]
    pub signal: Option<i64>,
    #[serde(rename = "out-data", default)]
    pub out_data: Option<String>,
    #[serde(rename = "err-data", default)]
    pub err_data: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatusReply {
    #[serde(rename = "return")]
    ret: Status,
}

fn command(dom: &Domain, cmd: &serde_json::Value) -> Result<String> {
    dom.qemu_agent_command(&cmd.to_string(), AGENT_TIMEOUT, 0)
        .map_err(|e| {
            let said = e.message().to_string();
            let lower = said.to_lowercase();
            let kind = if lower.contains("no such file") || lower.contains("failed to execute") {
                ErrorKind::NotFound
            } else if lower.contains("not connected")
                || lower.contains("not responding")
                || lower.contains("agent is not")
            {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Unexpected
            };
            Error::new(kind, format!("guest agent: {said}")).with_provider(SCHEME)
        })
}

fn decode(data: Option<&str>) -> Result<Vec<u8>> {
    match data {
        None => Ok(Vec::new()),
        Some(d) => data_encoding::BASE64
            .decode(d.as_bytes())
            .map_err(|e| Error::unexpected(format!("guest agent output is not base64: {e}"))),
    }
}

/// How long an exec waits for the guest's agent to come up (a VM just started is still booting).
const AGENT_WAIT: Duration = Duration::from_secs(90);

/// Waits until the agent answers a ping.
fn ready(dom: &Domain) -> Result<()> {
    let deadline = Instant::now() + AGENT_WAIT;
    let ping = json!({"execute": "guest-ping"});
    loop {
        match command(dom, &ping) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Unavailable && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the guest agent did not answer within {AGENT_WAIT:?}: is \
                         qemu-guest-agent running in the guest? ({})",
                        e.message()
                    ),
                )
                .with_provider(SCHEME))
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs a command to its end in the guest, once its agent answers. Blocks: call it on the
/// blocking pool.
pub fn exec(dom: &Domain, request: &ExecRequest) -> Result<ExecOutput> {
    ready(dom)?;
    let started: Started =
        serde_json::from_str(&command(dom, &guest_exec(request)).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::not_found(format!(
                    "`{}` cannot be run: no such executable in the instance",
                    request.command[0]
                ))
                .with_provider(SCHEME)
            } else {
                e
            }
        })?)
        .map_err(|e| Error::unexpected(format!("guest-exec answered oddly: {e}")))?;
    let ask = json!({"execute": "guest-exec-status", "arguments": {"pid": started.ret.pid}});
    let deadline = request.timeout.map(|t| Instant::now() + t);
    let mut delay = Duration::from_millis(2);
    loop {
        let reply: StatusReply = serde_json::from_str(&command(dom, &ask)?)
            .map_err(|e| Error::unexpected(format!("guest-exec-status answered oddly: {e}")))?;
        let s = reply.ret;
        if s.exited {
            let code = s.exitcode.or(s.signal.map(|sig| 128 + sig)).unwrap_or(-1);
            return Ok(ExecOutput::new(
                code,
                decode(s.out_data.as_deref())?,
                decode(s.err_data.as_deref())?,
            ));
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "`{}` did not finish within {:?}",
                    request.command.join(" "),
                    request.timeout.unwrap_or_default()
                ),
            )
            .with_provider(SCHEME));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_for_the_agent() {
        let plain = guest_exec(&ExecRequest::new(["echo", "hi"]));
        assert_eq!(
            plain,
            json!({"execute": "guest-exec", "arguments": {"path": "echo", "arg": ["hi"], "capture-output": true}})
        );
        let full = guest_exec(
            &ExecRequest::new(["cat"])
                .workdir("/tmp")
                .env("A", "b c")
                .stdin("x"),
        );
        let args = &full["arguments"];
        assert_eq!(args["path"], "/bin/sh");
        assert_eq!(
            args["arg"],
            json!(["-c", "cd \"$0\" && exec \"$@\"", "/tmp", "cat"])
        );
        assert_eq!(args["env"], json!(["A=b c"]));
        assert_eq!(args["input-data"], "eA==");
    }

    #[test]
    fn status_is_read() {
        let s: StatusReply = serde_json::from_str(
            r#"{"return": {"exitcode": 3, "out-data": "aGkK", "exited": true}}"#,
        )
        .unwrap();
        assert_eq!(s.ret.exitcode, Some(3));
        assert_eq!(decode(s.ret.out_data.as_deref()).unwrap(), b"hi\n");
    }
}
