//! A console over the server's WebSocket (`GET /v1/instances/{id}/console?kind=`): the bytes
//! both ways in binary frames, as they are. The server closes with 1000 when the console ends,
//! 1011 when it fails, and 4401 or 4403 when the caller's credential or access ends, each with
//! the reason.

use futures::{SinkExt, StreamExt};
use nubes_core::{ByteStream, Error, ErrorKind, Result};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::client::Client;
use crate::exec_socket::connect;
use crate::SCHEME;

pub async fn open(client: &Client, at: &str, input: ByteStream) -> Result<ByteStream> {
    let ws = connect(client, at, "console").await?;
    let (mut sink, incoming) = ws.split();
    let writer = tokio::spawn(async move {
        let mut input = input;
        while let Some(Ok(mut bytes)) = input.next().await {
            while !bytes.is_empty() {
                let piece = bytes.split_to(bytes.len().min(nubes_api::channel::FRAME_MAX));
                if sink.send(Message::Binary(piece)).await.is_err() {
                    return;
                }
            }
        }
        // Input ended; output goes on until the console or the caller ends it.
        std::future::pending::<()>().await;
    });
    let guard = Writer(writer.abort_handle());
    let output = futures::stream::unfold(Some((incoming, guard)), |state| async move {
        let (mut incoming, guard) = state?;
        loop {
            match incoming.next().await {
                Some(Ok(Message::Binary(data))) => {
                    return Some((Ok(data), Some((incoming, guard))))
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) if f.code != CloseCode::Normal => {
                            let kind = match u16::from(f.code) {
                                4401 => ErrorKind::Unauthenticated,
                                4403 => ErrorKind::PermissionDenied,
                                _ => ErrorKind::Unavailable,
                            };
                            Some((
                                Err(Error::new(kind, f.reason.to_string()).with_provider(SCHEME)),
                                None,
                            ))
                        }
                        _ => None,
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Some((
                        Err(Error::new(
                            ErrorKind::Unavailable,
                            format!("the console's connection was lost: {e}"),
                        )
                        .with_provider(SCHEME)),
                        None,
                    ))
                }
                None => return None,
            }
        }
    });
    Ok(output.boxed())
}

/// Stops writing, and with it the connection, when the console's stream is dropped.
struct Writer(tokio::task::AbortHandle);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}
