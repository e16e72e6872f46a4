//! The interactive exec's WebSocket, `GET /v1/instances/{instance}/exec` upgraded:
//!
//! - client → server: first a text frame, the command as JSON (`ExecStart`); then binary frames,
//!   each more stdin, when `stdin_open`; an empty binary frame closes stdin. Closing the socket
//!   ends the command.
//! - server → client: binary frames of output, the first byte saying which stream
//!   ([`nubes_api::channel`]: 1 stdout, 2 stderr, as Kubernetes' exec channels), the rest the
//!   bytes as written; at the end one text
//!   frame, `{"exit_code": N}` or `{"error": {"kind", "message"}}`, then a close.

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use nubes::{ByteStream, Error, ExecEvent};
use nubes_api::channel;
use nubes_auth::Action;

use super::AppState;
use crate::tenancy::{Principal, Ref};
pub use nubes_api::instances::{ExecEnd, ExecStart};

/// The upgrade of an exec or console socket, refusing a client frame over
/// [`channel::FRAME_MAX`] (with 1009) before it is read: the default reads up to 16 MiB whole,
/// and each of the frames waiting below could be that large.
pub fn bounded(
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> axum::extract::ws::WebSocketUpgrade {
    upgrade
        .max_message_size(channel::FRAME_MAX)
        .max_frame_size(channel::FRAME_MAX)
}

/// How often a quiet exec's client is pinged.
const PING: std::time::Duration = std::time::Duration::from_secs(15);

/// How many stdin frames may wait for the command to read them before the client is made to
/// wait (TCP pushes back), so a fast writer cannot fill the server's memory.
const STDIN_BACKLOG: usize = 16;

pub async fn serve(s: AppState, p: Principal, id: String, socket: WebSocket) {
    let (mut sink, mut incoming) = socket.split();
    let start = match incoming.next().await {
        Some(Ok(Message::Text(text))) => serde_json::from_str::<ExecStart>(&text)
            .map_err(|e| Error::invalid_input(format!("the first frame is not a command: {e}"))),
        Some(Ok(_)) => Err(Error::invalid_input(
            "the first frame must be a JSON text frame naming the command",
        )),
        _ => return,
    };
    let start = match start {
        Ok(s) => s,
        Err(e) => return finish(&mut sink, Err(e)).await,
    };
    let (stdin_tx, stdin) = if start.stdin_open {
        let (tx, rx) =
            futures::channel::mpsc::channel::<nubes::Result<nubes::Bytes>>(STDIN_BACKLOG);
        (Some(tx), Some(rx.boxed() as ByteStream))
    } else {
        (None, None)
    };
    let body = start.into_body();
    let mut events = match s.instances.exec_stream(&p, Ref::id(&id), body, stdin).await {
        Ok(events) => events,
        Err(e) => return finish(&mut sink, Err(e)).await,
    };

    // Both directions at once: a command that stops reading stdin until its output is read
    // must not wait on us.
    let pump_in = async move {
        let mut stdin_tx = stdin_tx;
        while let Some(Ok(frame)) = incoming.next().await {
            match frame {
                Message::Binary(data) if data.is_empty() => stdin_tx = None,
                Message::Binary(data) => {
                    if let Some(tx) = stdin_tx.as_mut() {
                        // The command is gone or stdin closed: the rest has nowhere to go.
                        let _ = tx.send(Ok(data)).await;
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    let pump_out = async {
        // While stdin waits for the command, the client's close goes unread: a ping now and
        // then finds a client that is gone, where a quiet command would never write to it.
        let mut ping = tokio::time::interval(PING);
        ping.reset();
        loop {
            let frame = tokio::select! {
                event = events.next() => {
                    let (channel, data) = match event {
                        Some(Ok(ExecEvent::Output(chunk))) => (channel::of(chunk.stream), chunk.data),
                        Some(Ok(ExecEvent::Exit { exit_code })) => return Ok(exit_code),
                        Some(Err(e)) => return Err(e),
                        None => {
                            return Err(Error::unexpected(
                                "the command's output ended without an exit code",
                            ))
                        }
                    };
                    let mut frame = Vec::with_capacity(data.len() + 1);
                    frame.push(channel);
                    frame.extend_from_slice(&data);
                    Message::Binary(frame.into())
                }
                _ = ping.tick() => Message::Ping(nubes::Bytes::new()),
            };
            if sink.send(frame).await.is_err() {
                return Err(Error::new(
                    nubes::ErrorKind::Unavailable,
                    "the client went away",
                ));
            }
        }
    };
    tokio::select! {
        // The client closed: dropping the command's stream ends it.
        _ = pump_in => {}
        ended = pump_out => {
            drop(events);
            finish(&mut sink, ended).await;
        }
        // Signed out, revoked, or no longer allowed: the command's stream is dropped, which
        // ends it, and the client is told why.
        e = super::access_ends(&s, &p, &id, Action::Operate) => {
            drop(events);
            finish(&mut sink, Err(e)).await;
        }
    }
}

async fn finish<S>(sink: &mut S, ended: nubes::Result<i64>)
where
    S: futures::Sink<Message> + Unpin,
{
    let end = match ended {
        Ok(exit_code) => ExecEnd {
            exit_code: Some(exit_code),
            error: None,
        },
        Err(e) => {
            if e.kind() == nubes::ErrorKind::Unexpected {
                tracing::error!(error = %e, "interactive exec failed");
            }
            ExecEnd {
                exit_code: None,
                error: Some(super::error::body(&e).error),
            }
        }
    };
    let text = serde_json::to_string(&end).expect("an exec's end serializes");
    let _ = sink.send(Message::text(text)).await;
    let _ = sink.send(Message::Close(None)).await;
}
