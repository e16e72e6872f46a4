//! How many of one kind of long-lived thing (a running exec, an open WebSocket) one user may
//! hold at once. A pass is held for as long as the thing lives and gives its place back when
//! dropped. Per server process: with several replicas, each holds its own share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nubes::{Error, ErrorKind, Result};

#[derive(Debug)]
pub struct Gate {
    what: &'static str,
    max: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

/// A place at a gate, given back on drop.
#[derive(Debug)]
pub struct Pass {
    user: String,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl Gate {
    /// At most `max` of `what` (plural, for messages) per user.
    pub fn new(what: &'static str, max: usize) -> Self {
        Self {
            what,
            max,
            held: Arc::default(),
        }
    }

    /// A pass for `user`, or `RateLimited` while they hold `max` already.
    pub fn enter(&self, user: &str) -> Result<Pass> {
        let mut held = self.held.lock().expect("gate lock");
        let n = held.entry(user.to_string()).or_default();
        if *n >= self.max {
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "at most {} {} at once per user; wait for one to end",
                    self.max, self.what
                ),
            ));
        }
        *n += 1;
        Ok(Pass {
            user: user.to_string(),
            held: self.held.clone(),
        })
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut held = self.held.lock().expect("gate lock");
        if let Some(n) = held.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_counted_per_user_and_given_back() {
        let gate = Gate::new("execs", 2);
        let a = gate.enter("u").unwrap();
        let _b = gate.enter("u").unwrap();
        let e = gate.enter("u").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(e.message().contains("at most 2 execs"), "{e}");
        gate.enter("v").unwrap();
        drop(a);
        gate.enter("u").unwrap();
        assert!(
            gate.held.lock().unwrap().get("v").is_none(),
            "empty entries go"
        );
    }
}
