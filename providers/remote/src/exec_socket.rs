//! The interactive exec over the server's WebSocket (`GET /v1/instances/{id}/exec`): the command
//! in a first JSON frame, stdin in binary frames (an empty one closes it), output back in binary
//! frames tagged 1 (stdout) or 2 (stderr), then the exit code or an error in a text frame.

use futures::{SinkExt, StreamExt};
use nubes_api::channel;
use nubes_api::instances::{whole_secs, ExecEnd as End, ExecStart};
use nubes_core::{
    ByteStream, Bytes, Error, ErrorKind, ExecEvent, ExecRequest, ExecStream, LogChunk, Result,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{api_error, Client};
use crate::SCHEME;

fn lost(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("the exec's connection was lost: {e}"),
    )
    .with_provider(SCHEME)
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Upgrades `at` to a WebSocket as the client's user; a refusal before the upgrade is the
/// API's error.
pub async fn connect(client: &Client, at: &str, what: &str) -> Result<Socket> {
    let url = client.websocket_url(at)?;
    let mut upgrade = url
        .into_client_request()
        .map_err(|e| Error::invalid_input(format!("bad server URL: {e}")))?;
    if let Some(auth) = client.authorization()? {
        upgrade.headers_mut().insert("authorization", auth);
    }
    let (ws, _) = tokio_tungstenite::connect_async(upgrade)
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(res) => {
                let (parts, body) = res.into_parts();
                let status = reqwest::StatusCode::from_u16(parts.status.as_u16())
                    .unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
                api_error(status, body.as_deref().unwrap_or_default(), None)
            }
            e => Error::new(
                ErrorKind::Unavailable,
                format!("cannot open the {what}'s connection: {e}"),
            )
            .with_provider(SCHEME),
        })?;
    Ok(ws)
}

pub async fn open(
    client: &Client,
    at: &str,
    request: ExecRequest,
    more: Option<ByteStream>,
) -> Result<ExecStream> {
    let stdin_open = request.stdin.is_some() || more.is_some();
    // The first stdin goes in a binary frame too, so any bytes travel.
    let start = ExecStart {
        command: request.command.clone(),
        env: request.env.clone(),
        workdir: request.workdir.clone(),
        stdin: None,
        stdin_open,
        timeout_secs: request.timeout.map(whole_secs),
    };
    let start = serde_json::to_string(&start).expect("the start frame serializes");
    if start.len() > channel::FRAME_MAX {
        return Err(Error::invalid_input(format!(
            "the command and its environment come to {} bytes, over the exec socket's {} KiB \
             (send large input as stdin)",
            start.len(),
            channel::FRAME_MAX >> 10
        ))
        .with_provider(SCHEME));
    }
    let ws = connect(client, at, "exec").await?;
    let (mut sink, incoming) = ws.split();
    sink.send(Message::text(start)).await.map_err(lost)?;

    // stdin goes out beside the reading, in binary frames (so any bytes travel), and an empty
    // frame closes it. The writer holds the socket's sending half until the exec ends.
    let first = request.stdin.clone();
    let writer = tokio::spawn(async move {
        if stdin_open {
            let first = futures::stream::iter(first.map(Ok));
            let mut input = first.chain(more.unwrap_or_else(|| futures::stream::empty().boxed()));
            while let Some(Ok(mut bytes)) = input.next().await {
                // The server takes no frame over FRAME_MAX; an empty one would close stdin.
                while !bytes.is_empty() {
                    let piece = bytes.split_to(bytes.len().min(channel::FRAME_MAX));
                    sink.send(Message::Binary(piece)).await?;
                }
            }
            sink.send(Message::Binary(Bytes::new())).await?;
        }
        // Keep the half open: dropping it would end the connection early.
        std::future::pending::<()>().await;
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    });
    let guard = Writer(writer.abort_handle());

    let events = futures::stream::unfold(Some((incoming, guard)), |state| async move {
        let (mut incoming, guard) = state?;
        loop {
            let frame = match incoming.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Some((Err(lost(e)), None)),
                None => return Some((Err(lost("closed before the exit code")), None)),
            };
            match frame {
                Message::Binary(data) if !data.is_empty() => {
                    let stream = match channel::output(data[0]) {
                        Some(stream) => stream,
                        None => {
                            let other = data[0];
                            let e = Error::unexpected(format!("output on unknown channel {other}"));
                            return Some((Err(e.with_provider(SCHEME)), None));
                        }
                    };
                    let chunk = LogChunk {
                        stream,
                        data: data.slice(1..),
                    };
                    return Some((Ok(ExecEvent::Output(chunk)), Some((incoming, guard))));
                }
                Message::Text(text) => {
                    let end = match serde_json::from_str::<End>(&text) {
                        Ok(End {
                            exit_code: Some(exit_code),
                            ..
                        }) => Ok(ExecEvent::Exit { exit_code }),
                        Ok(End { error: Some(e), .. }) => Err(Error::new(
                            e.kind.parse().unwrap_or(ErrorKind::Unexpected),
                            e.message,
                        )
                        .with_provider(SCHEME)),
                        _ => Err(Error::unexpected(format!("unreadable end of exec: {text}"))
                            .with_provider(SCHEME)),
                    };
                    return Some((end, None));
                }
                Message::Close(_) => return Some((Err(lost("closed before the exit code")), None)),
                _ => {}
            }
        }
    });
    Ok(events.boxed())
}

/// Stops the stdin writer, and with it the connection, when the exec's stream is dropped.
struct Writer(tokio::task::AbortHandle);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}
