//! Where billing's time comes from: the system clock, or one a test or a simulation sets.

/// Seconds since the epoch, from wherever time comes from.
pub trait Clock: std::fmt::Debug + Send + Sync + 'static {
    fn now(&self) -> i64;
}

#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}
