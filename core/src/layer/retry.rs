use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;

use super::Layer;
use crate::{Operation, Result};

/// Retries idempotent operations that failed with a temporary error, with exponential backoff.
/// Non-idempotent ones (create, exec, invoke, put, ...) run once: their first attempt may have
/// taken effect before the error came back.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryLayer {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryLayer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Total attempts, the first included.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }
}

impl Layer for RetryLayer {
    fn call<'a, T, F, Fut>(&'a self, op: Operation, mut start: F) -> BoxFuture<'a, Result<T>>
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        Box::pin(async move {
            let mut attempt = 1;
            let mut delay = self.initial_delay;
            loop {
                match start().await {
                    Err(e)
                        if e.is_temporary()
                            && op.is_idempotent()
                            && attempt < self.max_attempts =>
                    {
                        tracing::debug!(%op, attempt, error = %e, "retrying after a temporary error");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(self.max_delay);
                        attempt += 1;
                    }
                    result => return result,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::{Error, ErrorKind};

    fn layer() -> RetryLayer {
        RetryLayer::new()
            .max_attempts(3)
            .initial_delay(Duration::from_millis(1))
    }

    async fn run(op: Operation, error: fn() -> Error) -> (Result<()>, u32) {
        let calls = AtomicU32::new(0);
        let result = layer()
            .call(op, || {
                calls.fetch_add(1, Ordering::SeqCst);
                let e = error();
                async move { Err::<(), _>(e) }
            })
            .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn retries_temporary_errors_of_idempotent_operations() {
        let (r, calls) = run(Operation::ComputeGet, || {
            Error::new(ErrorKind::Unavailable, "busy").set_temporary()
        })
        .await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Unavailable);
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn never_retries_permanent_errors() {
        let (_, calls) = run(Operation::ComputeGet, || Error::not_found("gone")).await;
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn never_retries_non_idempotent_operations() {
        let (_, calls) = run(Operation::ComputeCreate, || {
            Error::new(ErrorKind::Unavailable, "busy").set_temporary()
        })
        .await;
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn stops_once_it_succeeds() {
        let calls = AtomicU32::new(0);
        let r = layer()
            .call(Operation::StorageHead, || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(Error::new(ErrorKind::Unavailable, "blip").set_temporary())
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r.unwrap(), 1);
    }
}
