//! Console sessions: a VM's serial port or screen, reached through the unix socket QEMU listens
//! on, as a byte stream each way. Sessions are counted per VM and console, so a serial port
//! (which serves one client at a time) has one, and a screen a few.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::StreamExt;
use nubes_core::{ByteStream, Bytes, ConsoleKind, Error, ErrorKind, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::SCHEME;

/// How many sessions one VM's screen takes at once; each costs QEMU an encoder.
const MAX_SCREENS: usize = 4;
/// What one read from the console takes at most: the agent protocol's piece size.
const READ: usize = 64 * 1024;

/// The sessions attached to each VM's consoles.
#[derive(Debug, Default, Clone)]
pub struct Sessions(Arc<Mutex<HashMap<(String, ConsoleKind), usize>>>);

/// A place among a console's sessions, given back when dropped.
#[derive(Debug)]
pub struct Seat {
    sessions: Sessions,
    key: (String, ConsoleKind),
}

impl Sessions {
    pub fn take(&self, vm: &str, kind: ConsoleKind) -> Result<Seat> {
        let max = match kind {
            ConsoleKind::Serial => 1,
            ConsoleKind::Vnc => MAX_SCREENS,
        };
        let key = (vm.to_string(), kind);
        let mut held = self.0.lock().expect("sessions");
        let n = held.entry(key.clone()).or_default();
        if *n >= max {
            let what = match kind {
                ConsoleKind::Serial => {
                    "its serial console is attached elsewhere: one session at a time".to_string()
                }
                ConsoleKind::Vnc => format!("its screen already has {max} sessions"),
            };
            return Err(Error::conflict(format!("instance {vm}: {what}")).with_provider(SCHEME));
        }
        *n += 1;
        Ok(Seat {
            sessions: self.clone(),
            key,
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut held = self.sessions.0.lock().expect("sessions");
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Connects to the console's socket: `input` is written to it as it arrives, and what it sends
/// is the returned stream, which holds `seat` until it is dropped.
pub async fn open(
    path: &Path,
    kind: ConsoleKind,
    input: ByteStream,
    seat: Seat,
) -> Result<ByteStream> {
    let socket = tokio::net::UnixStream::connect(path).await.map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot reach the {kind} console: {e}"),
        )
        .with_provider(SCHEME)
    })?;
    let (read, mut write) = socket.into_split();
    let writer = tokio::spawn(async move {
        let mut input = input;
        while let Some(Ok(piece)) = input.next().await {
            if write.write_all(&piece).await.is_err() {
                break;
            }
        }
    });
    // One buffer for the session; each piece is a copy of what one read filled.
    let output = futures::stream::unfold((read, vec![0; READ]), |(mut read, mut buf)| async move {
        match read.read(&mut buf).await {
            // QEMU closed it: the VM stopped.
            Ok(0) => None,
            Ok(n) => Some((Ok(Bytes::copy_from_slice(&buf[..n])), (read, buf))),
            Err(e) => Some((
                Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("reading the console failed: {e}"),
                )
                .with_provider(SCHEME)),
                (read, buf),
            )),
        }
    })
    .take_while({
        let mut failed = false;
        move |piece| {
            let go = !failed;
            failed |= piece.is_err();
            futures::future::ready(go)
        }
    });
    Ok(Session {
        output: output.boxed(),
        writer: writer.abort_handle(),
        _seat: seat,
    }
    .boxed())
}

/// A console's output; dropping it stops writing its input and gives its seat back.
struct Session {
    output: ByteStream,
    writer: tokio::task::AbortHandle,
    _seat: Seat,
}

impl futures::Stream for Session {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.output.poll_next_unpin(cx)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.writer.abort();
    }
}
