//! A console's WebSocket, `GET /v1/instances/{instance}/console?kind=` upgraded: binary frames
//! carry the console's bytes both ways as they are (a terminal's, or RFB for noVNC), so any
//! client of the console's own protocol works over it unchanged. Text frames are ignored. The
//! server closes with 1000 when the console ends and 1011, with the reason, when it fails.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use nubes::{ByteStream, Bytes, ConsoleKind, Error, ErrorKind, Result};

use super::AppState;
use crate::tenancy::{Principal, Ref};

/// The largest frame a client may send: keystrokes and pointer moves, never bulk.
pub const MAX_FRAME: usize = 64 << 10;
/// How many frames of input may wait for the console before the client is made to wait.
const INPUT_BACKLOG: usize = 16;
/// A close frame's reason holds at most 123 bytes.
const MAX_REASON: usize = 123;

/// Attaches before the upgrade, so a refusal is an HTTP answer: the sender for the client's
/// input, and the console's output.
pub async fn attach(
    s: &AppState,
    p: &Principal,
    r: Ref<'_>,
    kind: ConsoleKind,
) -> Result<(mpsc::Sender<Result<Bytes>>, ByteStream)> {
    let (tx, rx) = mpsc::channel(INPUT_BACKLOG);
    let output = s.instances.console(p, r, kind, rx.boxed()).await?;
    Ok((tx, output))
}

pub async fn serve(
    s: AppState,
    p: Principal,
    socket: WebSocket,
    mut input: mpsc::Sender<Result<Bytes>>,
    mut output: ByteStream,
) {
    let (mut sink, mut incoming) = socket.split();
    let pump_in = async move {
        while let Some(Ok(frame)) = incoming.next().await {
            let sent = match frame {
                Message::Binary(data) if !data.is_empty() => input.send(Ok(data)).await.is_ok(),
                Message::Close(_) => false,
                _ => true,
            };
            if !sent {
                break;
            }
        }
    };
    let pump_out = async {
        while let Some(piece) = output.next().await {
            let data = piece?;
            if sink.send(Message::Binary(data)).await.is_err() {
                return Err(Error::new(ErrorKind::Unavailable, "the client went away"));
            }
        }
        Ok(())
    };
    tokio::select! {
        // The client closed: dropping the console's stream detaches it.
        _ = pump_in => {}
        // Signed out or revoked: the same.
        () = super::session_ends(&s, &p) => {}
        ended = pump_out => {
            drop(output);
            let frame = match ended {
                Ok(()) => CloseFrame { code: 1000, reason: "the console ended".into() },
                Err(e) => {
                    if e.kind() == ErrorKind::Unexpected {
                        tracing::error!(error = %e, "a console failed");
                    }
                    CloseFrame { code: 1011, reason: reason(e.message()).into() }
                }
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
    }
}

/// `message`, cut to fit a close frame on a character boundary.
fn reason(message: &str) -> &str {
    let mut end = message.len().min(MAX_REASON);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}
