//! Carrying out the server's requests on the local provider, and finding a running one again
//! when more of its stdin or its cancellation arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use nubes_core::{Bytes, Compute, Error, ErrorKind, ExecEvent, Instance, LogChunk, Result};
use tokio::sync::mpsc;

use super::FLEET_LABEL;
use crate::protocol::{self, AgentMessage, Op, Outcome};

/// Requests this agent is carrying out, by id.
#[derive(Clone, Default)]
pub(super) struct InFlight(Arc<Mutex<HashMap<u64, Running>>>);

struct Running {
    task: tokio::task::AbortHandle,
    /// Exec, logs or a console: work for a caller, pointless once the connection is gone.
    streams: bool,
    /// Where more input goes, while the exec's stdin or the console is open.
    stdin: Option<mpsc::Sender<Bytes>>,
    control: mpsc::Sender<AgentMessage>,
}

/// How many requests may take input at once on one agent: each holds up to a window of it
/// (see [`protocol::STDIN_WINDOW`]), so this bounds all the input an agent holds, whoever sends
/// it. Past it, a new one is refused as rate-limited.
pub(super) const MAX_INPUTS: usize = 256;

/// A request's input as its command takes it. Once the command will take no more (it closed
/// its stdin, or its provider stopped writing it), the whole window is reported read, and each
/// piece that still comes is dropped and reported: the server's feeder then drains the rest
/// into nothing, as a closed pipe's writer is not kept waiting.
struct Taken {
    rx: mpsc::Receiver<Bytes>,
    control: mpsc::Sender<AgentMessage>,
    id: u64,
}

impl Drop for Taken {
    fn drop(&mut self) {
        report(&self.control, self.id, protocol::STDIN_WINDOW);
    }
}

/// Tells the server that request `id` took `pieces` more of its input, without waiting here:
/// at most a window of these is ever on its way, as the server sends no more pieces than that.
fn report(control: &mpsc::Sender<AgentMessage>, id: u64, pieces: usize) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let control = control.clone();
    let pieces = u32::try_from(pieces).unwrap_or(u32::MAX);
    runtime.spawn(async move {
        let _ = control.send(AgentMessage::StdinRead { id, pieces }).await;
    });
}

/// The two ways into the socket: replies before bulk output.
#[derive(Clone)]
pub(super) struct Outbox {
    pub control: mpsc::Sender<AgentMessage>,
    pub bulk: mpsc::Sender<AgentMessage>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Running>> {
        self.0.lock().expect("in-flight lock")
    }

    pub fn start(&self, compute: Arc<dyn Compute>, tag: String, id: u64, op: Op, out: Outbox) {
        let takes_input = matches!(
            op,
            Op::Exec {
                stdin_follows: true,
                ..
            } | Op::Console { .. }
        );
        // Counted and later inserted without the lock in between: requests start one at a time,
        // from the connection's one reader.
        if takes_input && self.open_inputs() >= MAX_INPUTS {
            let e = Error::new(
                ErrorKind::RateLimited,
                format!(
                    "this agent has {MAX_INPUTS} commands and consoles taking input; try again \
                     later"
                ),
            );
            let control = out.control.clone();
            tokio::spawn(async move {
                let outcome = Outcome::failed(&e);
                let _ = control.send(AgentMessage::Reply { id, outcome }).await;
            });
            return;
        }
        let (stdin_tx, stdin_rx) = if takes_input {
            // The server sends no more than a window of pieces unread, so this never fills
            // unless the server breaks the protocol; each piece taken is reported, for another.
            let (tx, rx) = mpsc::channel(protocol::STDIN_WINDOW);
            let taken = Taken {
                rx,
                control: out.control.clone(),
                id,
            };
            let rx = futures::stream::unfold(taken, |mut taken| async move {
                let piece = taken.rx.recv().await?;
                let _ = taken
                    .control
                    .send(AgentMessage::StdinRead {
                        id: taken.id,
                        pieces: 1,
                    })
                    .await;
                Some((Ok(piece), taken))
            });
            (Some(tx), Some(rx.boxed()))
        } else {
            (None, None)
        };
        // Streaming answers put their reply behind their output on the same queue, so it never
        // overtakes the last piece.
        let streams = matches!(op, Op::Exec { .. } | Op::Logs { .. } | Op::Console { .. });
        let this = self.clone();
        let control = out.control.clone();
        // Held across the spawn, so a request that finishes at once removes its entry after
        // it was made, not before.
        let mut running = self.lock();
        let task = tokio::spawn(async move {
            let outcome = match handle(compute.as_ref(), &tag, id, op, stdin_rx, &out.bulk).await {
                Ok(o) => o,
                Err(e) => Outcome::failed(&e),
            };
            this.lock().remove(&id);
            let reply = AgentMessage::Reply { id, outcome };
            let _ = if streams {
                out.bulk.send(reply).await
            } else {
                out.control.send(reply).await
            };
        });
        running.insert(
            id,
            Running {
                task: task.abort_handle(),
                streams,
                stdin: stdin_tx,
                control,
            },
        );
    }

    /// How many requests still take input.
    fn open_inputs(&self) -> usize {
        self.lock().values().filter(|r| r.stdin.is_some()).count()
    }

    /// More stdin for a running exec; `None` closes it.
    pub fn stdin(&self, id: u64, data: Option<Bytes>) -> Result<()> {
        let mut running = self.lock();
        let Some(r) = running.get_mut(&id) else {
            // It may just have finished; input for it has nowhere to go.
            return Ok(());
        };
        match data {
            Some(bytes) => {
                let tx = r.stdin.as_ref().ok_or_else(|| {
                    Error::invalid_input(format!("request {id} takes no more stdin"))
                })?;
                match tx.try_send(bytes) {
                    Ok(()) => {}
                    // A command that has stopped reading loses its input, as with a closed pipe.
                    Err(mpsc::error::TrySendError::Closed(_)) => report(&r.control, id, 1),
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        return Err(Error::new(
                            ErrorKind::RateLimited,
                            format!(
                                "request {id} was sent more than {} pieces of input it has not \
                                 read; the rest was dropped",
                                protocol::STDIN_WINDOW
                            ),
                        ));
                    }
                }
            }
            None => r.stdin = None,
        }
        Ok(())
    }

    /// Stops a request; dropping its work ends the command or the log stream on the provider.
    pub fn cancel(&self, id: u64) {
        if let Some(r) = self.lock().remove(&id) {
            r.task.abort();
        }
    }

    /// Ends the streams of a connection that closed. Lifecycle requests run to the end: the
    /// next hello reports what they left, and the server reconciles it.
    pub fn cancel_streams(&self) {
        self.lock().retain(|_, r| {
            if r.streams {
                r.task.abort();
            }
            !r.streams
        });
    }
}

async fn piece(bulk: &mpsc::Sender<AgentMessage>, id: u64, chunk: LogChunk) -> Result<()> {
    let mut rest = chunk.data;
    while !rest.is_empty() {
        let data = rest.split_to(rest.len().min(protocol::CHUNK));
        let msg = AgentMessage::Output {
            id,
            stream: chunk.stream,
            data,
        };
        bulk.send(msg)
            .await
            .map_err(|_| Error::new(ErrorKind::Unavailable, "connection lost"))?;
    }
    Ok(())
}

/// Carries out one request on the local provider.
async fn handle(
    compute: &dyn Compute,
    tag: &str,
    id: u64,
    op: Op,
    stdin: Option<nubes_core::ByteStream>,
    bulk: &mpsc::Sender<AgentMessage>,
) -> Result<Outcome> {
    let instance = |i: Instance| Outcome::Instance { instance: i };
    Ok(match op {
        Op::Create { mut spec } => {
            spec.labels.insert(FLEET_LABEL.to_string(), tag.to_string());
            instance(compute.create(*spec).await?)
        }
        Op::Get { name } => instance(compute.get(&name).await?),
        Op::Start { name } => instance(compute.start(&name).await?),
        Op::Stop { name, options } => instance(compute.stop(&name, options).await?),
        Op::Restart { name, options } => instance(compute.restart(&name, options).await?),
        Op::Delete { name, options } => {
            compute.delete(&name, options).await?;
            Outcome::Done
        }
        Op::Exec { name, request, .. } => {
            let mut events = compute.exec_stream(&name, request, stdin).await?;
            while let Some(event) = events.next().await {
                match event? {
                    ExecEvent::Output(chunk) => piece(bulk, id, chunk).await?,
                    ExecEvent::Exit { exit_code } => return Ok(Outcome::Exited { exit_code }),
                }
            }
            return Err(Error::unexpected(
                "the command's output ended without an exit code",
            ));
        }
        Op::Logs { name, options } => {
            let mut stream = compute.logs(&name, options).await?;
            while let Some(chunk) = stream.next().await {
                piece(bulk, id, chunk?).await?;
            }
            Outcome::Done
        }
        Op::Console { name, kind } => {
            let input = stdin.unwrap_or_else(|| futures::stream::pending().boxed());
            let mut output = compute.console(&name, kind, input).await?;
            // An empty piece first: attached (the protocol's word for it).
            bulk.send(AgentMessage::Output {
                id,
                stream: nubes_core::LogStreamKind::Stdout,
                data: Bytes::new(),
            })
            .await
            .map_err(|_| Error::new(ErrorKind::Unavailable, "connection lost"))?;
            while let Some(data) = output.next().await {
                let chunk = LogChunk {
                    stream: nubes_core::LogStreamKind::Stdout,
                    data: data?,
                };
                piece(bulk, id, chunk).await?;
            }
            Outcome::Done
        }
        Op::Stats { name } => Outcome::Stats {
            stats: compute.stats(&name).await?,
        },
        Op::Resize { name, request } => instance(compute.resize(&name, request).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubes_core::memory::MemoryCompute;
    use nubes_core::ExecRequest;

    fn exec(name: &str) -> Op {
        Op::Exec {
            name: name.into(),
            request: ExecRequest::new(["cat"]),
            stdin_follows: true,
        }
    }

    /// However many callers there are, an agent holds input for at most `MAX_INPUTS` requests:
    /// one more is refused as rate-limited, and a request whose input closes makes room.
    #[tokio::test]
    async fn requests_taking_input_are_bounded_per_agent() {
        let compute: Arc<dyn Compute> = Arc::new(MemoryCompute::new());
        // The memory backend reads all stdin before it looks for the instance: each stays open.
        let name = "box";
        let (control, mut replies) = mpsc::channel(MAX_INPUTS * 2);
        let (bulk, _output) = mpsc::channel(MAX_INPUTS * 2);
        let out = Outbox { control, bulk };
        let in_flight = InFlight::default();
        for id in 0..MAX_INPUTS as u64 {
            in_flight.start(compute.clone(), "t".into(), id, exec(name), out.clone());
        }
        assert_eq!(in_flight.open_inputs(), MAX_INPUTS);
        let over = MAX_INPUTS as u64;
        in_flight.start(compute.clone(), "t".into(), over, exec(name), out.clone());
        let refused = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match replies.recv().await.unwrap() {
                    AgentMessage::Reply { id, outcome } => break (id, outcome),
                    _ => continue,
                }
            }
        })
        .await
        .expect("one request over the bound is answered at once");
        let (id, Outcome::Failed { kind, message }) = refused else {
            panic!("not refused: {refused:?}")
        };
        assert_eq!((id, kind.as_str()), (over, "rate_limited"), "{message}");
        assert_eq!(in_flight.open_inputs(), MAX_INPUTS);

        // Closing one's input lets it run (and end); then there is room again.
        in_flight.stdin(0, None).unwrap();
        assert_eq!(in_flight.open_inputs(), MAX_INPUTS - 1);
        in_flight.start(
            compute.clone(),
            "t".into(),
            over + 1,
            exec(name),
            out.clone(),
        );
        assert_eq!(in_flight.open_inputs(), MAX_INPUTS);
    }
}
