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

/// An address range, as `10.0.0.0/8` or `::1/128` (a bare address is the one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

impl std::str::FromStr for Cidr {
    type Err = nubes::Error;

    fn from_str(s: &str) -> nubes::Result<Self> {
        let bad = || {
            nubes::Error::invalid_input(format!("`{s}` is not an address range like 10.0.0.0/8"))
        };
        let (addr, len) = s.split_once('/').unwrap_or((s, ""));
        let net: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = if len.is_empty() {
            max
        } else {
            len.parse().map_err(|_| bad())?
        };
        if len > max {
            return Err(bad());
        }
        Ok(Cidr { net, len })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let prefix = |bits: u128, width: u32| {
            let drop = width - u32::from(self.len);
            if drop >= 128 {
                0
            } else {
                bits >> drop
            }
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix(u128::from(u32::from(n)), 32) == prefix(u128::from(u32::from(a)), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix(u128::from(n), 128) == prefix(u128::from(a), 128)
            }
            _ => false,
        }
    }
}

/// The client a request came from: the peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not one of the trusted proxies (a client can
/// write anything on the left of that header; only what trusted proxies appended counts).
pub fn client_of(peer: IpAddr, forwarded: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(header) = forwarded else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// What one party is, as limits count it: an IPv4 address, or an IPv6 /64 (one host is given
/// a whole /64, so counting its addresses one by one would count nothing).
pub fn party(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
    }
}

/// How long a client may take to send a request's headers, and to start the next request on a
/// kept-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections one address may hold open at once, unless `Bounds` says otherwise.
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

/// Serves `app` on `listener` until the listener fails for good. Behind `trusted` proxies,
/// the client's address (for limits and the audit log) is read from `X-Forwarded-For`.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    trusted: Arc<Vec<Cidr>>,
    per_address: usize,
) -> std::io::Result<()> {
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
        // Behind a proxy, every connection comes from it: its own bound is the proxy's to set.
        let limit = if trusted.iter().any(|c| c.contains(addr.ip())) {
            usize::MAX
        } else {
            per_address
        };
        let Some(slot) = Slot::take(&open, party(addr.ip()), limit) else {
            tracing::warn!(address = %addr.ip(), "too many connections from one address: refused");
            continue;
        };
        let (app, trusted) = (app.clone(), trusted.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                // Every X-Forwarded-For line, in order: a proxy may add its own line rather
                // than append to the client's.
                let forwarded: Vec<&str> = req
                    .headers()
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
                let client = client_of(addr.ip(), forwarded.as_deref(), &trusted);
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::new(client, addr.port())));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_read_through_trusted_proxies_only() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Straight from a client: its header is its own to forge, and ignored.
        assert_eq!(
            client_of(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Through a trusted proxy: the nearest untrusted hop, not what the client wrote first.
        assert_eq!(
            client_of(
                ip("10.0.0.2"),
                Some("1.2.3.4, 198.51.100.7, 10.0.0.3"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(client_of(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_of(ip("10.0.0.2"), Some("garbage"), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_of(ip("::1"), Some("2001:db8::1"), &trusted),
            ip("2001:db8::1")
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert_eq!(party(ip("2001:db8::1:2:3:4")), ip("2001:db8::"));
        assert_eq!(party(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
