//! The agent protocol over one WebSocket the agent dials. Control messages are JSON text
//! frames with a `type`; requests and their replies share an `id`. A message of a type the
//! receiver does not know is answered with an `error` naming it, never dropped in silence.
//!
//! Version 3:
//! - agent → server: `hello` (first, once), `heartbeat`, `reply`, `output` (exec or log output
//!   while it runs), `stdin_read` (its command took more of the input), `error`;
//! - server → agent: `welcome` (answers hello), `request`, `stdin` (input for a running exec),
//!   `cancel` (the caller went away: stop and send nothing more), `error`.
//!
//! A console session is a request too: the server's `stdin` pieces are its input, the agent's
//! `output` pieces what the console sends. Its first `output` piece is empty: it says the
//! console attached, before which a failure is the request's `reply`.
//!
//! `output` and `stdin` are binary frames, the bytes as they are: the request's id (8 bytes,
//! big-endian), the [`channel`](crate::channel) (0 stdin, 1 stdout, 2 stderr, as on the exec
//! WebSocket), then the data; an empty `stdin` piece closes stdin. Exec and logs answer in
//! `output` pieces of at most [`CHUNK`] bytes as they are written, then one `reply`.
//!
//! Input is paced by its reader: the server has at most [`STDIN_WINDOW`] pieces of a request's
//! input unread on the agent, and sends more as `stdin_read` says the command or console took
//! them. A command that never reads its stdin so holds the caller back, not the agent's memory,
//! and the agent's one reader never waits on a single command. (Version 2 had no window.)
//!
//! Requests carry the SDK's own request types (`InstanceSpec`, `StopOptions`, `ExecRequest`,
//! `LogOptions`, `ResizeRequest`), so a field added to one reaches the agent without a change
//! here.

use std::collections::{BTreeMap, BTreeSet};

use nubes_core::{
    Bytes, ConsoleKind, DeleteOptions, Error, ErrorKind, ExecRequest, Instance, InstanceSpec,
    InstanceStats, LogOptions, LogStreamKind, ResizeRequest, Resources, StopOptions,
};
use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 3;

/// Exec output travels in pieces of at most this many bytes, so a large stream never holds up
/// a heartbeat for long.
pub const CHUNK: usize = 64 * 1024;

/// How many `stdin` pieces of one request may be on their way to, or waiting on, the agent
/// before it says it read some: 1 MiB per request at most, held by the agent (which bounds how
/// many requests take input at once).
pub const STDIN_WINDOW: usize = 16;

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
    /// The consoles its provider attaches to (a VM agent's), so the fleet can say it has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consoles: Vec<ConsoleKind>,
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
    /// A piece of a running exec's or followed log's output: a binary frame.
    #[serde(skip)]
    Output {
        id: u64,
        stream: LogStreamKind,
        data: Bytes,
    },
    /// The request's command or console took `pieces` more `stdin` pieces: the server may send
    /// that many more (see [`STDIN_WINDOW`]).
    StdinRead {
        id: u64,
        pieces: u32,
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
    /// More of a running exec's stdin or a console's input: a binary frame; `None` (an empty
    /// piece) closes it.
    #[serde(skip)]
    Stdin {
        id: u64,
        data: Option<Bytes>,
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
        options: StopOptions,
    },
    Restart {
        name: String,
        options: StopOptions,
    },
    Delete {
        name: String,
        options: DeleteOptions,
    },
    /// The request's own `stdin` stays empty on the wire: every byte of input comes in `stdin`
    /// pieces when `stdin_follows`, until an empty one.
    Exec {
        name: String,
        request: ExecRequest,
        #[serde(default)]
        stdin_follows: bool,
    },
    Logs {
        name: String,
        options: LogOptions,
    },
    /// Attaches to a console: its input comes in `stdin` pieces (an empty one ends it), what it
    /// sends goes back in `output` pieces on stdout, and `done` ends it (the VM stopped).
    Console {
        name: String,
        kind: ConsoleKind,
    },
    Stats {
        name: String,
    },
    Resize {
        name: String,
        request: ResizeRequest,
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

/// One frame on the agent's socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Text(String),
    Binary(Bytes),
}

/// A message of either direction, as frames.
pub trait Framed: Sized + Serialize + serde::de::DeserializeOwned {
    /// The channels a binary frame of this direction may name.
    const CHANNELS: &'static [u8];

    /// The piece a binary frame carries: request id, channel and data.
    fn piece(&self) -> Option<(u64, u8, &[u8])>;
    /// The message a binary frame on `channel` makes.
    fn from_piece(id: u64, channel: u8, data: Bytes) -> Self;
}

impl Framed for AgentMessage {
    const CHANNELS: &'static [u8] = &[crate::channel::STDOUT, crate::channel::STDERR];

    fn piece(&self) -> Option<(u64, u8, &[u8])> {
        match self {
            AgentMessage::Output { id, stream, data } => {
                Some((*id, crate::channel::of(*stream), data))
            }
            _ => None,
        }
    }

    fn from_piece(id: u64, channel: u8, data: Bytes) -> Self {
        let stream = crate::channel::output(channel).unwrap_or(LogStreamKind::Stdout);
        AgentMessage::Output { id, stream, data }
    }
}

impl Framed for ServerMessage {
    const CHANNELS: &'static [u8] = &[crate::channel::STDIN];

    fn piece(&self) -> Option<(u64, u8, &[u8])> {
        match self {
            ServerMessage::Stdin { id, data } => Some((
                *id,
                crate::channel::STDIN,
                data.as_deref().unwrap_or_default(),
            )),
            _ => None,
        }
    }

    fn from_piece(id: u64, _: u8, data: Bytes) -> Self {
        let data = (!data.is_empty()).then_some(data);
        ServerMessage::Stdin { id, data }
    }
}

/// Bytes before a piece's data: the id and the channel.
const PIECE_HEADER: usize = 9;

pub fn encode<T: Framed>(msg: &T) -> Frame {
    match msg.piece() {
        Some((id, channel, data)) => {
            let mut frame = Vec::with_capacity(PIECE_HEADER + data.len());
            frame.extend_from_slice(&id.to_be_bytes());
            frame.push(channel);
            frame.extend_from_slice(data);
            Frame::Binary(frame.into())
        }
        None => Frame::Text(serde_json::to_string(msg).expect("protocol messages serialize")),
    }
}

/// Reads a binary frame: a piece on one of the direction's channels.
pub fn decode_piece<T: Framed>(frame: Bytes) -> std::result::Result<T, Undecodable> {
    if frame.len() < PIECE_HEADER {
        return Err(Undecodable {
            id: None,
            message: format!("a binary frame of {} bytes holds no piece", frame.len()),
        });
    }
    let id = u64::from_be_bytes(frame[..8].try_into().expect("eight bytes"));
    let channel = frame[8];
    if !T::CHANNELS.contains(&channel) {
        return Err(Undecodable {
            id: Some(id),
            message: format!("no channel {channel} in this direction"),
        });
    }
    Ok(T::from_piece(id, channel, frame.slice(PIECE_HEADER..)))
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
                options: StopOptions::timeout(std::time::Duration::from_secs(3)),
            },
        };
        let Frame::Text(text) = encode(&msg) else {
            panic!("a request is text")
        };
        assert!(
            text.contains(r#""type":"request""#) && text.contains(r#""op":"stop""#),
            "{text}"
        );
        assert_eq!(decode::<ServerMessage>(&text).unwrap(), msg);
        let read = AgentMessage::StdinRead { id: 9, pieces: 2 };
        let Frame::Text(text) = encode(&read) else {
            panic!("stdin_read is text")
        };
        assert_eq!(text, r#"{"type":"stdin_read","id":9,"pieces":2}"#);
        assert_eq!(decode::<AgentMessage>(&text).unwrap(), read);
    }

    #[test]
    fn pieces_travel_as_the_bytes_they_are() {
        let out = AgentMessage::Output {
            id: u64::MAX - 1,
            stream: LogStreamKind::Stderr,
            data: Bytes::from_static(b"\0\xffraw"),
        };
        let Frame::Binary(frame) = encode(&out) else {
            panic!("output is binary")
        };
        assert_eq!(frame.len(), 9 + 5);
        assert_eq!(frame[8], crate::channel::STDERR);
        assert_eq!(decode_piece::<AgentMessage>(frame.clone()).unwrap(), out);
        // Output is not stdin: an agent cannot write to the server's side of a command.
        let e = decode_piece::<ServerMessage>(frame).unwrap_err();
        assert_eq!(e.id, Some(u64::MAX - 1));
        let close = ServerMessage::Stdin { id: 3, data: None };
        let Frame::Binary(frame) = encode(&close) else {
            panic!("stdin is binary")
        };
        assert_eq!(decode_piece::<ServerMessage>(frame).unwrap(), close);
        assert!(decode_piece::<AgentMessage>(Bytes::from_static(b"short")).is_err());
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
