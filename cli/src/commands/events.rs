//! `cloudctl events`: prints the server's live events, one JSON line each, until interrupted.

use futures::StreamExt;
use nubes::{Error, ErrorKind};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::Outcome;

pub async fn run(server: &str, token: &str) -> Outcome {
    let mut request = nubes_agent::agent::websocket_url(server, "/v1/events")?
        .into_client_request()
        .map_err(|e| Error::invalid_input(format!("bad server URL: {e}")))?;
    let auth = format!("Bearer {token}")
        .parse()
        .map_err(|_| Error::invalid_input("the token is not a valid header value"))?;
    request.headers_mut().insert("authorization", auth);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| match &e {
            tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401 => {
                Error::new(ErrorKind::Unauthenticated, "the server refused the token")
            }
            _ => Error::new(
                ErrorKind::Unavailable,
                format!("cannot reach {server}: {e}"),
            ),
        })?;
    eprintln!("watching {server} (Ctrl-C to stop)");
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(Message::Text(text)) => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                // A closed pipe is the reader's choice.
                if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                    return Ok(0);
                }
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the event stream broke: {e}"),
                ))
            }
        }
    }
    Ok(0)
}
