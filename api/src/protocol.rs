//! The agent protocol: JSON text frames over one WebSocket the agent dials. Every message has a
//! `type`; requests and their replies share an `id`. A message of a type the receiver does not
//! know is answered with an `error` naming it, never dropped in silence.
//!
//! Version 1:
//! - agent → server: `hello` (first, once), `heartbeat`, `reply`, `output` (exec output while the
//!   command runs), `error`;
//! - server → agent: `welcome` (answers hello), `request`, `stdin` (more input for a running
//!   exec), `cancel` (the caller went away: stop and send nothing more), `error`.
//!
//! Exec and logs answer in `output` pieces as they are written, then one `reply`.

use std::collections::{BTreeMap, BTreeSet};

use nubes_core::{
    Error, ErrorKind, Instance, InstanceSpec, InstanceStats, LogStreamKind, Resources, Result,
};
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 1;

/// Exec output travels in pieces of at most this many bytes, so a large stream never holds up
/// a heartbeat for long.
pub const CHUNK: usize = 64 * 1024;

/// What an agent says about itself when it connects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub name: String,
    pub capacity: Resources,
    pub providers: BTreeSet<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub os: String,
    pub arch: String,
    /// What it runs for the fleet right now, so the server can reconcile.
    pub instances: Vec<Instance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    Hello(Hello),
    Heartbeat {
        free: Resources,
        instances: Vec<Instance>,
        /// Why the agent's own provider does not answer (its engine is down), when it does
        /// not: `instances` then means nothing, and the agent takes no new work.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backend_error: Option<String>,
    },
    Reply {
        id: u64,
        outcome: Outcome,
    },
    /// A piece of a running exec's or followed log's output (base64).
    Output {
        id: u64,
        stream: LogStreamKind,
        data: String,
    },
    Error {
        id: Option<u64>,
        kind: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        agent_id: String,
        heartbeat_secs: u64,
    },
    Request {
        id: u64,
        op: Op,
    },
    /// More of a running exec's stdin (base64); `None` closes it.
    Stdin {
        id: u64,
        data: Option<String>,
    },
    /// Stop the request; no reply is wanted.
    Cancel {
        id: u64,
    },
    Error {
        id: Option<u64>,
        kind: String,
        message: String,
    },
}

/// What the server asks an agent to do. Instances are named by the server's backend name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Create {
        /// Boxed: a spec is many times larger than any other request.
        spec: Box<InstanceSpec>,
    },
    Get {
        name: String,
    },
    Start {
        name: String,
    },
    Stop {
        name: String,
        timeout_secs: u64,
    },
    Restart {
        name: String,
        timeout_secs: u64,
    },
    Delete {
        name: String,
        force: bool,
        #[serde(default)]
        keep_disks: bool,
    },
    Exec {
        name: String,
        command: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
        workdir: Option<String>,
        /// base64
        stdin: Option<String>,
        /// More stdin follows in `stdin` messages, until one without data.
        #[serde(default)]
        stdin_follows: bool,
        timeout_secs: Option<u64>,
    },
    Logs {
        name: String,
        tail: Option<u64>,
        #[serde(default)]
        follow: bool,
    },
    Stats {
        name: String,
    },
    Resize {
        name: String,
        cpus: Option<f64>,
        memory: Option<u64>,
    },
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Instance {
        instance: Instance,
    },
    /// Also ends logs, whose output came before in `output` messages.
    Done,
    /// Output came before in `output` messages.
    Exited {
        exit_code: i64,
    },
    Stats {
        stats: InstanceStats,
    },
    Failed {
        kind: String,
        message: String,
    },
}

impl Outcome {
    pub fn failed(e: &Error) -> Self {
        Outcome::Failed {
            kind: e.kind().as_str().to_string(),
            message: e.message().to_string(),
        }
    }
}

/// An error as it crosses the wire, back into the SDK's error.
pub fn error(kind: &str, message: &str) -> Error {
    Error::new(
        kind.parse().unwrap_or(ErrorKind::Unexpected),
        message.to_string(),
    )
}

/// Why a frame could not be read: its `id` if it had one, and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable {
    pub id: Option<u64>,
    pub message: String,
}

/// Reads a frame; an unknown `type` or a malformed body is `Undecodable`, with the id so the
/// sender can be answered.
pub fn decode<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, Undecodable> {
    serde_json::from_str(text).map_err(|e| {
        let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let id = value
            .as_ref()
            .and_then(|v| v.get("id"))
            .and_then(|v| v.as_u64());
        let kind = value
            .as_ref()
            .and_then(|v| v.get("type"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let message = match kind {
            Some(t) => format!("cannot handle a `{t}` message: {e}"),
            None => format!("not a protocol message: {e}"),
        };
        Undecodable { id, message }
    })
}

pub fn encode<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(msg).expect("protocol messages serialize")
}

/// Base64 for bytes inside JSON.
pub fn b64(data: &[u8]) -> String {
    data_encoding::BASE64.encode(data)
}

pub fn unb64(text: &str) -> Result<Vec<u8>> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|e| Error::invalid_input(format!("not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msg = ServerMessage::Request {
            id: 7,
            op: Op::Stop {
                name: "nb-1".into(),
                timeout_secs: 3,
            },
        };
        let text = encode(&msg);
        assert!(
            text.contains(r#""type":"request""#) && text.contains(r#""op":"stop""#),
            "{text}"
        );
        assert_eq!(decode::<ServerMessage>(&text).unwrap(), msg);
    }

    #[test]
    fn unknown_types_are_reported_with_their_id() {
        let e = decode::<AgentMessage>(r#"{"type":"teleport","id":42}"#).unwrap_err();
        assert_eq!(e.id, Some(42));
        assert!(e.message.contains("teleport"), "{}", e.message);
        let e = decode::<AgentMessage>("not json").unwrap_err();
        assert_eq!(e.id, None);
    }
}
