//! Streamed requests: exec and logs output forwarded to the caller as the agent sends it, stdin
//! forwarded to the agent as the caller writes it, and a cancel when the caller goes away.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;

use super::*;

/// How many pieces a streamed request may have waiting for its caller. One that falls this far
/// behind loses the stream, rather than hold up everything else on the agent's connection
/// (heartbeats included). The last slot is kept for the stream's end, so that always arrives.
const BACKLOG: usize = 256;

impl Wire {
    /// Sends a streamed request; its output arrives on the returned stream.
    pub(in crate::fleet) async fn live(
        self: &Arc<Self>,
        agent: &str,
        op: Op,
        stdin: Option<ByteStream>,
    ) -> Result<Live> {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let window = stdin
            .is_some()
            .then(|| Arc::new(Semaphore::new(protocol::STDIN_WINDOW)));
        let id = self
            .send(agent, op, Reply::Live(tx), window.clone())
            .await?;
        let feeder = match stdin.zip(window) {
            Some((input, window)) => {
                let link = self.link(agent).inspect_err(|_| {
                    self.withdraw(id);
                })?;
                Some(tokio::spawn(feed(link, id, input, window)).abort_handle())
            }
            None => None,
        };
        Ok(Live {
            wire: self.clone(),
            agent: agent.to_string(),
            id,
            rx,
            feeder,
            ended: false,
        })
    }

    /// A piece of a streamed request's output, from its agent.
    pub(in crate::fleet) fn output(&self, agent: &str, id: u64, chunk: LogChunk) {
        let mut pending = lock(&self.pending);
        let Some(Pending {
            reply: Reply::Live(tx),
            agent: to,
            ..
        }) = pending.get(&id)
        else {
            return;
        };
        if to != agent {
            drop(pending);
            tracing::warn!(%agent, request = id, "an agent sent output for a request it was not sent");
            self.send_error(agent, Some(id), "no such request");
            return;
        }
        // The backlog is counted in pieces, so a piece may be no larger than the protocol's:
        // an agent sending bigger ones would have the server hold its backlog many times over.
        if chunk.data.len() > protocol::CHUNK {
            if let Some(p) = pending.remove(&id) {
                p.reply.fail(unavailable(format!(
                    "agent {agent} sent a piece of {} bytes, over the protocol's {}; the \
                     stream was cut",
                    chunk.data.len(),
                    protocol::CHUNK
                )));
            }
            drop(pending);
            tracing::warn!(%agent, request = id, len = chunk.data.len(), "an agent sent an oversized piece");
            self.send_error(
                agent,
                Some(id),
                "a piece is larger than the protocol allows",
            );
            self.cancel(agent, id);
            return;
        }
        if tx.capacity() > 1 {
            let _ = tx.try_send(Ok(ExecEvent::Output(chunk)));
            return;
        }
        if let Some(p) = pending.remove(&id) {
            p.reply.fail(unavailable(
                "the caller fell too far behind the output; the stream was cut",
            ));
        }
        drop(pending);
        self.cancel(agent, id);
    }

    /// The agent's word that request `id` took `pieces` more of its input: room for as many.
    pub(in crate::fleet) fn stdin_read(&self, agent: &str, id: u64, pieces: u32) {
        let pending = lock(&self.pending);
        match pending.get(&id) {
            Some(p) if p.agent == agent => {
                if let Some(window) = &p.window {
                    // An agent claiming more than it was sent gets no more than a whole window:
                    // the count stays bounded, and the link it fills is bounded anyway.
                    let room = protocol::STDIN_WINDOW.saturating_sub(window.available_permits());
                    window.add_permits((pieces as usize).min(room));
                }
            }
            Some(_) => {
                drop(pending);
                tracing::warn!(%agent, request = id, "an agent reported reading input of a request it was not sent");
                self.send_error(agent, Some(id), "no such request");
            }
            // The request ended: its last report can come after its reply.
            None => {}
        }
    }
}

/// Sends the caller's stdin to the agent piece by piece, each when the window has room for it,
/// then closes it.
async fn feed(
    link: mpsc::Sender<ServerMessage>,
    id: u64,
    mut input: ByteStream,
    window: Arc<Semaphore>,
) {
    while let Some(piece) = input.next().await {
        let bytes = match piece {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(id, error = %e, "reading an exec's stdin failed; closing it");
                break;
            }
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let data = rest.split_to(rest.len().min(protocol::CHUNK));
            // Waiting here holds the caller's input back, down to its socket; a connection
            // that closes meanwhile will never report room.
            tokio::select! {
                room = window.acquire() => match room {
                    Ok(room) => room.forget(),
                    Err(_) => return,
                },
                _ = link.closed() => return,
            }
            let msg = ServerMessage::Stdin {
                id,
                data: Some(data),
            };
            if link.send(msg).await.is_err() {
                return;
            }
        }
    }
    let _ = link.send(ServerMessage::Stdin { id, data: None }).await;
}

/// A streamed request's output. Dropped before its end, it cancels the request on the agent.
pub(in crate::fleet) struct Live {
    wire: Arc<Wire>,
    agent: String,
    id: u64,
    rx: mpsc::Receiver<Result<ExecEvent>>,
    feeder: Option<tokio::task::AbortHandle>,
    ended: bool,
}

impl futures::Stream for Live {
    type Item = Result<ExecEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.rx.poll_recv(cx);
        if let Poll::Ready(item) = &next {
            if !matches!(item, Some(Ok(ExecEvent::Output(_)))) {
                self.ended = true;
            }
        }
        next
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(f) = &self.feeder {
            f.abort();
        }
        if !self.ended && self.wire.withdraw(self.id) {
            self.wire.cancel(&self.agent, self.id);
        }
    }
}
