//! Serving the API on a socket: HTTP/1.1 with a timer, so a client that sends its headers too
//! slowly (or holds an idle connection) is cut off, and a bound on the connections one address
//! may hold, so a few hundred half-sent requests cannot lock everyone else out.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

/// How long a client may take to send a request's headers, and to start the next request on a
/// kept-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections one address may hold open at once.
pub const CONNECTIONS_PER_ADDRESS: usize = 128;

type Open = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One address's connection, counted while it lives.
struct Slot {
    open: Open,
    ip: IpAddr,
}

impl Slot {
    fn take(open: &Open, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = open.lock().expect("connections lock");
        let n = map.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: open.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.open.lock().expect("connections lock");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until the listener fails for good.
pub async fn serve_router(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    let open: Open = Arc::default();
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like pass; keep serving who is connected.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = Slot::take(&open, addr.ip(), CONNECTIONS_PER_ADDRESS) else {
            tracing::warn!(address = %addr.ip(), "too many connections from one address: refused");
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
                app.clone().oneshot(req)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}
