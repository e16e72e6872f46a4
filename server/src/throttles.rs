//! Rate limits and throttles for the unauthenticated routes. State is per server process: with
//! several replicas each enforces its own share (a shared store comes with the cluster work).
//!
//! Guesses at a password or a code are throttled, not locked out: a lockout anyone can trigger
//! is a denial of service. Each (account, address) pair has a few free failures, then waits
//! that double; each account, over all addresses, has more, then shorter waits. An attempt
//! holds its place from before the slow work (the hash) until its outcome is known, so
//! concurrent guesses cannot all be evaluated before the first failure counts. Keys are hashes
//! of what was typed, and the maps hold a bounded number of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nubes::{Error, ErrorKind, Result};
use sha2::{Digest, Sha256};

/// Attempts one address may make per window on login, OTP and registration routes.
pub const PER_ADDRESS: u32 = 30;
const WINDOW: Duration = Duration::from_secs(60);
/// Entries idle this long are dropped.
const FORGET_AFTER: Duration = Duration::from_secs(2 * 3600);
/// The most keys each map holds; past it the stalest idle ones make room.
pub const MAX_KEYS: usize = 100_000;

/// Free failures, then waits from `first` doubling to `longest`.
#[derive(Debug, Clone, Copy)]
struct Rule {
    free: u32,
    first: Duration,
    longest: Duration,
}

/// One account from one address: a person mistyping, or one attacker.
const PER_PAIR: Rule = Rule {
    free: 5,
    first: Duration::from_secs(30),
    longest: Duration::from_secs(15 * 60),
};
/// One account from everywhere: slows guessing spread over many addresses, but never shuts the
/// owner out for long.
const PER_ACCOUNT: Rule = Rule {
    free: 50,
    first: Duration::from_secs(1),
    longest: Duration::from_secs(60),
};

fn limited(what: &str, wait: Duration) -> Error {
    Error::new(
        ErrorKind::RateLimited,
        format!("{what}; try again in {}s", wait.as_secs().max(1)),
    )
}

/// The party an address stands for, as limits count it: an IPv6 client is its /64.
fn party_of(address: &str) -> String {
    address
        .parse()
        .map(|ip| crate::listen::party(ip).to_string())
        .unwrap_or_else(|_| address.to_string())
}

/// A fixed-size key for whatever was typed (an email may be megabytes long).
fn key(parts: &[&str]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let mut k = [0; 16];
    k.copy_from_slice(&h.finalize()[..16]);
    k
}

#[derive(Debug)]
struct Throttle {
    failures: u32,
    in_flight: u32,
    until: Option<Instant>,
    last: Instant,
}

impl Throttle {
    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0 && self.until.is_none_or(|u| u <= now)
    }
}

#[derive(Debug, Default)]
struct Throttles(HashMap<[u8; 16], Throttle>);

impl Throttles {
    /// Takes a place for an attempt on `k`, or says how long to wait.
    fn enter(
        &mut self,
        k: [u8; 16],
        rule: Rule,
        now: Instant,
    ) -> std::result::Result<(), Duration> {
        if !self.0.contains_key(&k) && self.0.len() >= MAX_KEYS {
            self.make_room(now);
            if self.0.len() >= MAX_KEYS {
                // Every entry is busy or throttled: memory stays bounded, newcomers wait.
                return Err(rule.first);
            }
        }
        let t = self.0.entry(k).or_insert(Throttle {
            failures: 0,
            in_flight: 0,
            until: None,
            last: now,
        });
        if let Some(until) = t.until.filter(|u| *u > now) {
            return Err(until - now);
        }
        // Within the free failures, as many at once as are left; past them, one at a time.
        let room = rule.free.saturating_sub(t.failures).max(1);
        if t.in_flight >= room {
            return Err(rule.first);
        }
        t.in_flight += 1;
        t.last = now;
        Ok(())
    }

    fn leave(&mut self, k: &[u8; 16], outcome: Option<bool>, rule: Rule, now: Instant) {
        let Some(t) = self.0.get_mut(k) else {
            return;
        };
        t.in_flight = t.in_flight.saturating_sub(1);
        t.last = now;
        match outcome {
            Some(true) => {
                if t.in_flight == 0 {
                    self.0.remove(k);
                } else {
                    t.failures = 0;
                }
            }
            Some(false) => {
                t.failures += 1;
                if t.failures >= rule.free {
                    let doublings = (t.failures - rule.free).min(16);
                    let wait = rule.first.saturating_mul(1 << doublings).min(rule.longest);
                    t.until = Some(now + wait);
                }
            }
            None => {}
        }
    }

    /// Drops entries idle for long, then, if still full, the stalest idle one.
    fn make_room(&mut self, now: Instant) {
        self.0
            .retain(|_, t| !t.idle(now) || now.duration_since(t.last) < FORGET_AFTER);
        if self.0.len() < MAX_KEYS {
            return;
        }
        let stalest = self
            .0
            .iter()
            .filter(|(_, t)| t.idle(now))
            .min_by_key(|(_, t)| t.last)
            .map(|(k, _)| *k);
        if let Some(k) = stalest {
            self.0.remove(&k);
        }
    }
}

#[derive(Debug, Default)]
struct Window {
    started: Option<Instant>,
    count: u32,
}

#[derive(Debug, Default)]
pub struct Attempts {
    accounts: Mutex<Throttles>,
    pairs: Mutex<Throttles>,
    addresses: Mutex<HashMap<String, Window>>,
}

/// A guess in progress: say how it ended; dropped unsaid, it counts as neither.
#[derive(Debug)]
pub struct Attempt<'a> {
    limits: &'a Attempts,
    account: [u8; 16],
    pair: [u8; 16],
    outcome: Option<bool>,
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.outcome = Some(true);
    }

    pub fn failed(mut self) {
        self.outcome = Some(false);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let l = self.limits;
        l.accounts.lock().expect("limits lock").leave(
            &self.account,
            self.outcome,
            PER_ACCOUNT,
            now,
        );
        l.pairs
            .lock()
            .expect("limits lock")
            .leave(&self.pair, self.outcome, PER_PAIR, now);
    }
}

impl Attempts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one attempt from `address` (when known); fails once it has made too many.
    pub fn attempt_from(&self, address: Option<&str>) -> Result<()> {
        let Some(address) = address else {
            return Ok(());
        };
        let party = party_of(address);
        let address = party.as_str();
        let now = Instant::now();
        let mut map = self.addresses.lock().expect("limits lock");
        if map.len() >= MAX_KEYS {
            map.retain(|_, w| w.started.is_some_and(|s| now.duration_since(s) < WINDOW));
        }
        if map.len() >= MAX_KEYS && !map.contains_key(address) {
            return Err(limited("the server is busy with sign-ins", WINDOW));
        }
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

    /// Takes a place for one guess at `account` from `address`, before any slow work; refused
    /// while either is throttled or has as many guesses in flight as it has failures left.
    pub fn begin(&self, account: &str, address: Option<&str>) -> Result<Attempt<'_>> {
        let now = Instant::now();
        let party = address.map(party_of);
        let address = party.as_deref();
        let (account, pair) = (key(&[account]), key(&[account, address.unwrap_or("")]));
        let mut pairs = self.pairs.lock().expect("limits lock");
        pairs
            .enter(pair, PER_PAIR, now)
            .map_err(|wait| limited("too many failed attempts for this account", wait))?;
        if let Err(wait) =
            self.accounts
                .lock()
                .expect("limits lock")
                .enter(account, PER_ACCOUNT, now)
        {
            pairs.leave(&pair, None, PER_PAIR, now);
            return Err(limited("too many failed attempts for this account", wait));
        }
        Ok(Attempt {
            limits: self,
            account,
            pair,
            outcome: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_are_throttled_per_address_not_locked_for_everyone() {
        let l = Attempts::new();
        for _ in 0..PER_PAIR.free {
            l.begin("a", Some("10.0.0.1")).unwrap().failed();
        }
        let e = l.begin("a", Some("10.0.0.1")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(
            e.message().contains("try again in 30s") || e.message().contains("try again in 29s"),
            "{e}"
        );
        // The owner, elsewhere, is not shut out; another account is untouched.
        l.begin("a", Some("10.0.0.2")).unwrap().succeeded();
        l.begin("b", Some("10.0.0.1")).unwrap().failed();
    }

    #[test]
    fn concurrent_guesses_hold_their_places() {
        let l = Attempts::new();
        let held: Vec<_> = (0..PER_PAIR.free)
            .map(|_| l.begin("a", Some("10.0.0.1")).unwrap())
            .collect();
        assert!(
            l.begin("a", Some("10.0.0.1")).is_err(),
            "all free guesses are in flight"
        );
        drop(held);
        l.begin("a", Some("10.0.0.1")).unwrap().failed();
    }

    #[test]
    fn guesses_from_many_addresses_slow_down_per_account() {
        let l = Attempts::new();
        for i in 0..PER_ACCOUNT.free {
            l.begin("a", Some(&format!("10.1.{}.{}", i / 250, i % 250)))
                .unwrap()
                .failed();
        }
        let e = l.begin("a", Some("10.9.9.9")).unwrap_err();
        assert!(e.message().contains("try again in 1s"), "{e}");
    }

    #[test]
    fn keys_are_bounded_in_size_and_number() {
        let l = Attempts::new();
        let long = "x".repeat(2 << 20);
        l.begin(&long, None).unwrap().failed();
        for i in 0..MAX_KEYS + 10 {
            l.begin(&format!("user{i}"), None).unwrap().failed();
        }
        assert!(l.accounts.lock().unwrap().0.len() <= MAX_KEYS);
        assert!(l.pairs.lock().unwrap().0.len() <= MAX_KEYS);
    }

    #[test]
    fn addresses_are_limited_per_window() {
        let l = Attempts::new();
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
