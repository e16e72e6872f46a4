//! A console's WebSocket, `GET /v1/instances/{instance}/console?kind=` upgraded: binary frames
//! carry the console's bytes both ways as they are (a terminal's, or RFB for noVNC), so any
//! client of the console's own protocol works over it unchanged. Text frames are ignored. The
//! server closes with 1000 when the console ends, 1011 with the reason when it fails, 4401 once
//! the credential it was opened with lapses (expired, signed out, revoked) and 4403 once the
//! caller may no longer use it (role lowered, instance gone), each with the reason.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use nubes::{ByteStream, Bytes, ConsoleKind, Error, ErrorKind, Result};
use nubes_auth::Action;

use super::AppState;
use crate::tenancy::{Principal, Ref};

/// How many frames of input may wait for the console before the client is made to wait.
const INPUT_BACKLOG: usize = 16;
/// A close frame's reason holds at most 123 bytes.
const MAX_REASON: usize = 123;

/// A console attached, its socket not yet upgraded.
pub struct Attached {
    /// The instance's id, whose access is asked again while the console lasts.
    id: String,
    input: mpsc::Sender<Result<Bytes>>,
    output: ByteStream,
}

/// Attaches before the upgrade, so a refusal is an HTTP answer.
pub async fn attach(
    s: &AppState,
    p: &Principal,
    r: Ref<'_>,
    kind: ConsoleKind,
) -> Result<Attached> {
    let (input, rx) = mpsc::channel(INPUT_BACKLOG);
    let (id, output) = s.instances.console(p, r, kind, rx.boxed()).await?;
    Ok(Attached { id, input, output })
}

pub async fn serve(s: AppState, p: Principal, socket: WebSocket, attached: Attached) {
    let Attached {
        id,
        mut input,
        mut output,
    } = attached;
    let (mut sink, mut incoming) = socket.split();
    // Input is never awaited: a console that stops reading must not stop the client's close
    // from being seen, and dropping bytes would corrupt the screen's protocol. A console that
    // falls this far behind loses the client instead.
    let pump_in = async move {
        while let Some(Ok(frame)) = incoming.next().await {
            match frame {
                Message::Binary(data) if !data.is_empty() => match input.try_send(Ok(data)) {
                    Ok(()) => {}
                    Err(e) if e.is_full() => return Some("the console is not reading its input"),
                    Err(_) => return None,
                },
                Message::Close(_) => return None,
                _ => {}
            }
        }
        None
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
    let close = tokio::select! {
        // The client closed (nothing to say) or sent more than the console takes.
        stalled = pump_in => stalled.map(|why| CloseFrame { code: 1011, reason: why.into() }),
        // Signed out, revoked, or no longer allowed.
        e = super::access_ends(&s, &p, &id, Action::Operate) => {
            Some(CloseFrame { code: ended_code(e.kind()), reason: reason(e.message()).into() })
        }
        ended = pump_out => Some(match ended {
            Ok(()) => CloseFrame { code: 1000, reason: "the console ended".into() },
            Err(e) => {
                if e.kind() == ErrorKind::Unexpected {
                    tracing::error!(error = %e, "a console failed");
                }
                CloseFrame { code: 1011, reason: reason(e.message()).into() }
            }
        }),
    };
    // Dropping the console's stream detaches it.
    drop(output);
    if let Some(frame) = close {
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}

/// The close code for access that ended: 4401 when the credential lapsed (an access token's
/// quarter hour: a client with a fresh one attaches again), 4403 when the caller may no longer
/// use the console (its role was lowered, the instance is gone), as HTTP's 401 and 403.
pub fn ended_code(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Unauthenticated => 4401,
        _ => 4403,
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
