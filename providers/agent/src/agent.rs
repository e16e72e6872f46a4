//! The agent: dials the server over one outbound WebSocket (so it works behind NAT), says what
//! it offers, heartbeats what is free and what it runs, and carries out the server's requests on
//! its local provider. Limits are the local provider's (cgroups): the agent never trusts a
//! request to keep within them by itself. It reconnects with backoff; its id is its token's, so
//! it is the same agent across reconnects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use nubes_core::{
    Compute, ConsoleKind, Error, ErrorKind, Instance, InstanceState, ListOptions, Result,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{self, AgentMessage, Hello, ServerMessage};

mod requests;

use crate::scheduler::Resources;
use requests::{InFlight, Outbox};

/// The label an agent puts on what it runs for the fleet, valued with [`fleet_tag`], to tell it
/// from anything else the local provider runs, other agents' work on the same engine included.
pub const FLEET_LABEL: &str = "nubes-fleet";

/// The value of [`FLEET_LABEL`] on one agent's work: derived from its token, so it is the same
/// across restarts and differs between agents, and does not reveal the token.
pub fn fleet_tag(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("nubes-fleet:{token}").as_bytes());
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// How to reach the server and what to offer it.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `https://nubes.example.com` (or `http://` on a trusted network).
    pub server: String,
    /// The agent token an admin issued (`nbg_...`).
    pub token: String,
    pub name: String,
    pub capacity: Resources,
    pub labels: BTreeMap<String, String>,
}

impl AgentConfig {
    /// An agent for `server` with `token`, named after this host, leasing nothing yet.
    pub fn new(server: &str, token: String) -> Self {
        let name = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "agent".into());
        Self {
            server: server.trim_end_matches('/').to_string(),
            token,
            name,
            capacity: Resources::default(),
            labels: BTreeMap::new(),
        }
    }

    /// As `new`, leasing the whole host: all its cpus and memory.
    pub fn detect(server: &str, token: String) -> Result<Self> {
        let mut config = Self::new(server, token);
        config.capacity = host_capacity()?;
        Ok(config)
    }
}

/// All of this host's cpus and memory (from /proc/meminfo).
pub fn host_capacity() -> Result<Resources> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let info = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| Error::invalid_input(format!("cannot read /proc/meminfo ({e})")))?;
    let memory = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| Error::invalid_input("cannot read this host's memory size"))?;
    Ok(Resources::from_cpus(cpus, memory, 0))
}

/// Runs the agent until the task is dropped, reconnecting with backoff.
pub async fn run(config: AgentConfig, compute: Arc<dyn Compute>) -> Result<()> {
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(&config, compute.clone()).await {
            // A session that got as far as a welcome resets the backoff.
            Ok(()) => backoff = Duration::from_millis(250),
            Err(e) if e.kind() == ErrorKind::Unauthenticated => return Err(e),
            Err(e) => tracing::warn!(error = %e, "agent connection lost"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// The WebSocket URL of `path` on a Nubes server given by its http(s) URL.
pub fn websocket_url(server: &str, path: &str) -> Result<String> {
    let rest = if let Some(r) = server.strip_prefix("https://") {
        format!("wss://{r}")
    } else if let Some(r) = server.strip_prefix("http://") {
        format!("ws://{r}")
    } else {
        return Err(Error::invalid_input(format!(
            "a Nubes server URL starts with http:// or https://, got `{server}`"
        )));
    };
    Ok(format!("{}{path}", rest.trim_end_matches('/')))
}

fn connect_url(server: &str) -> Result<String> {
    websocket_url(server, "/v1/agents/connect")
}

/// What this agent runs for the fleet, as the local provider sees it now.
async fn running(compute: &dyn Compute, tag: &str) -> Result<Vec<Instance>> {
    compute
        .list(ListOptions::default().label(FLEET_LABEL, tag))
        .await
}

/// Capacity less what running instances hold.
fn free(capacity: &Resources, instances: &[Instance]) -> Resources {
    let held = instances
        .iter()
        .filter(|i| i.state == InstanceState::Running)
        .fold(Resources::default(), |acc, i| {
            acc.saturating_add(&Resources::from_cpus(
                i.cpus.unwrap_or(0.0),
                i.memory.unwrap_or(0),
                i.disk.unwrap_or(0),
            ))
        });
    capacity.saturating_sub(&held)
}

/// One connection: hello, welcome, then requests and heartbeats until it drops.
async fn session(config: &AgentConfig, compute: Arc<dyn Compute>) -> Result<()> {
    let tag = fleet_tag(&config.token);
    let mut request = connect_url(&config.server)?
        .into_client_request()
        .map_err(|e| Error::invalid_input(format!("bad server URL: {e}")))?;
    let auth = format!("Bearer {}", config.token)
        .parse()
        .map_err(|_| Error::invalid_input("the agent token is not a valid header value"))?;
    request.headers_mut().insert("authorization", auth);
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| match &e {
            tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401 => Error::new(
                ErrorKind::Unauthenticated,
                "the server refused the agent token",
            ),
            _ => Error::new(
                ErrorKind::Unavailable,
                format!("cannot reach the server: {e}"),
            ),
        })?;
    let (mut sink, mut stream) = ws.split();

    let hello = Hello {
        version: protocol::VERSION,
        name: config.name.clone(),
        capacity: config.capacity,
        providers: BTreeSet::from([compute.provider().to_string()]),
        labels: config.labels.clone(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        instances: running(compute.as_ref(), &tag).await?,
        consoles: [ConsoleKind::Serial, ConsoleKind::Vnc]
            .into_iter()
            .filter(|k| compute.capability().has_console(*k))
            .collect(),
    };
    sink.send(frame(&AgentMessage::Hello(hello)))
        .await
        .map_err(lost)?;
    let heartbeat = loop {
        match next_message(&mut stream).await? {
            Some(ServerMessage::Welcome {
                agent_id,
                heartbeat_secs,
            }) => {
                tracing::info!(%agent_id, "agent connected");
                break Duration::from_secs(heartbeat_secs.max(1));
            }
            Some(ServerMessage::Error { message, .. }) => {
                return Err(Error::new(ErrorKind::Unavailable, message))
            }
            Some(_) => continue,
            None => return Err(Error::new(ErrorKind::Unavailable, "closed before welcome")),
        }
    };

    // Two queues into the one socket: replies and heartbeats go before bulk output, so a large
    // or slow exec stream never delays a heartbeat by more than one chunk.
    let (control_tx, mut control_rx) = mpsc::channel::<AgentMessage>(64);
    let (bulk_tx, mut bulk_rx) = mpsc::channel::<AgentMessage>(16);
    let writer = tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                biased;
                Some(m) = control_rx.recv() => m,
                Some(m) = bulk_rx.recv() => m,
                else => break,
            };
            if sink.send(frame(&msg)).await.is_err() {
                break;
            }
        }
    });
    let beat = {
        let (compute, tx, capacity, tag) = (
            compute.clone(),
            control_tx.clone(),
            config.capacity,
            tag.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(heartbeat);
            loop {
                tick.tick().await;
                let msg = match running(compute.as_ref(), &tag).await {
                    Ok(instances) => AgentMessage::Heartbeat {
                        free: free(&capacity, &instances),
                        instances,
                        backend_error: None,
                    },
                    // Silence would look like a live agent with nothing on it: say what is wrong.
                    Err(e) => {
                        tracing::warn!(error = %e, "the local provider does not answer");
                        AgentMessage::Heartbeat {
                            free: Resources::default(),
                            instances: Vec::new(),
                            backend_error: Some(e.message().to_string()),
                        }
                    }
                };
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        })
    };

    let in_flight = InFlight::default();
    let out = Outbox {
        control: control_tx.clone(),
        bulk: bulk_tx.clone(),
    };
    let result = loop {
        let msg = match next_message(&mut stream).await {
            Ok(Some(m)) => m,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match msg {
            ServerMessage::Request { id, op } => {
                in_flight.start(compute.clone(), tag.clone(), id, op, out.clone());
            }
            ServerMessage::Stdin { id, data } => {
                if let Err(e) = in_flight.stdin(id, data) {
                    let _ = control_tx.try_send(AgentMessage::Error {
                        id: Some(id),
                        kind: e.kind().as_str().to_string(),
                        message: e.message().to_string(),
                    });
                }
            }
            ServerMessage::Cancel { id } => in_flight.cancel(id),
            ServerMessage::Error { id, message, .. } => {
                tracing::warn!(?id, %message, "the server reported an error");
            }
            ServerMessage::Welcome { .. } => {}
        }
    };
    // What ran for this connection has no one to answer to any more.
    in_flight.cancel_streams();
    beat.abort();
    drop(out);
    drop(control_tx);
    drop(bulk_tx);
    writer.abort();
    result
}

fn lost(e: tokio_tungstenite::tungstenite::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("connection lost: {e}"))
}

/// The WebSocket frame that carries `msg`.
pub fn frame(msg: &AgentMessage) -> Message {
    match protocol::encode(msg) {
        protocol::Frame::Text(text) => Message::text(text),
        protocol::Frame::Binary(data) => Message::Binary(data),
    }
}

/// The next protocol message; frames that are not one are logged and skipped.
async fn next_message<S>(stream: &mut S) -> Result<Option<ServerMessage>>
where
    S: futures::Stream<Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    while let Some(frame) = stream.next().await {
        match frame.map_err(lost)? {
            Message::Text(text) => match protocol::decode::<ServerMessage>(&text) {
                Ok(m) => return Ok(Some(m)),
                Err(u) => tracing::warn!(id = ?u.id, message = %u.message, "unreadable message"),
            },
            Message::Binary(data) => match protocol::decode_piece::<ServerMessage>(data) {
                Ok(m) => return Ok(Some(m)),
                Err(u) => tracing::warn!(id = ?u.id, message = %u.message, "unreadable piece"),
            },
            Message::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_become_websocket_urls() {
        assert_eq!(
            connect_url("https://n.example.com/").unwrap(),
            "wss://n.example.com/v1/agents/connect"
        );
        assert_eq!(
            connect_url("http://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080/v1/agents/connect"
        );
        assert_eq!(
            connect_url("ftp://x").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
}
