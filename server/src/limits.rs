//! Rate limits and lockout for the unauthenticated routes. State is per server process: with
//! several replicas each enforces its own share (a shared store comes with the cluster work).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nubes::{Error, ErrorKind, Result};

/// Failures before an account locks.
pub const LOCKOUT_AFTER: u32 = 5;
const FIRST_LOCK: Duration = Duration::from_secs(60);
const LONGEST_LOCK: Duration = Duration::from_secs(3600);
/// Attempts one address may make per window on login, OTP and registration routes.
pub const PER_ADDRESS: u32 = 30;
const WINDOW: Duration = Duration::from_secs(60);
/// Entries idle this long are dropped, so the maps cannot grow without bound.
const FORGET_AFTER: Duration = Duration::from_secs(2 * 3600);

fn limited(what: &str, wait: Duration) -> Error {
    Error::new(
        ErrorKind::RateLimited,
        format!("{what}; try again in {}s", wait.as_secs().max(1)),
    )
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Option<Instant>,
}

#[derive(Debug, Default)]
struct Window {
    started: Option<Instant>,
    count: u32,
}

#[derive(Debug, Default)]
pub struct Limits {
    accounts: Mutex<HashMap<String, Failures>>,
    addresses: Mutex<HashMap<String, Window>>,
}

impl Limits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one attempt from `address` (when known); fails once it has made too many.
    pub fn attempt_from(&self, address: Option<&str>) -> Result<()> {
        let Some(address) = address else {
            return Ok(());
        };
        let now = Instant::now();
        let mut map = self.addresses.lock().expect("limits lock");
        map.retain(|_, w| {
            w.started
                .is_some_and(|s| now.duration_since(s) < FORGET_AFTER)
        });
        let w = map.entry(address.to_string()).or_default();
        match w.started {
            Some(s) if now.duration_since(s) < WINDOW => w.count += 1,
            _ => {
                w.started = Some(now);
                w.count = 1;
            }
        }
        if w.count > PER_ADDRESS {
            let wait = WINDOW - now.duration_since(w.started.unwrap_or(now));
            return Err(limited("too many attempts from this address", wait));
        }
        Ok(())
    }

    /// Fails while `account` is locked.
    pub fn check_account(&self, account: &str) -> Result<()> {
        let map = self.accounts.lock().expect("limits lock");
        match map.get(account).and_then(|f| f.locked_until) {
            Some(until) if until > Instant::now() => Err(limited(
                "too many failed attempts for this account",
                until - Instant::now(),
            )),
            _ => Ok(()),
        }
    }

    /// Records a failure; from the `LOCKOUT_AFTER`th on, locks for 1 minute, doubling each time.
    pub fn failed(&self, account: &str) {
        let now = Instant::now();
        let mut map = self.accounts.lock().expect("limits lock");
        map.retain(|_, f| f.last.is_some_and(|l| now.duration_since(l) < FORGET_AFTER));
        let f = map.entry(account.to_string()).or_default();
        f.count += 1;
        f.last = Some(now);
        if f.count >= LOCKOUT_AFTER {
            let doublings = (f.count - LOCKOUT_AFTER).min(6);
            f.locked_until = Some(now + (FIRST_LOCK * 2u32.pow(doublings)).min(LONGEST_LOCK));
        }
    }

    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().expect("limits lock").remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_lock_after_repeated_failures_and_unlock_on_success() {
        let l = Limits::new();
        for _ in 0..LOCKOUT_AFTER - 1 {
            l.failed("a");
            l.check_account("a").unwrap();
        }
        l.failed("a");
        let e = l.check_account("a").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(
            e.message().contains("try again in 60s") || e.message().contains("try again in 59s"),
            "{e}"
        );
        l.check_account("b").unwrap();
        l.failed("a");
        assert!(
            l.check_account("a").unwrap_err().message().contains("in 1"),
            "the lock doubles"
        );
        l.succeeded("a");
        l.check_account("a").unwrap();
    }

    #[test]
    fn addresses_are_limited_per_window() {
        let l = Limits::new();
        for _ in 0..PER_ADDRESS {
            l.attempt_from(Some("10.0.0.1")).unwrap();
        }
        assert_eq!(
            l.attempt_from(Some("10.0.0.1")).unwrap_err().kind(),
            ErrorKind::RateLimited
        );
        l.attempt_from(Some("10.0.0.2")).unwrap();
        l.attempt_from(None).unwrap();
    }
}
