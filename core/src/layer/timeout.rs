use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;

use super::Layer;
use crate::{Error, ErrorKind, Operation, Result};

/// Fails a call that takes longer than the limit with a temporary `Timeout` error. For streaming
/// operations (logs, get) the limit covers opening the stream, not reading it.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl Layer for TimeoutLayer {
    fn call<'a, T, F, Fut>(&'a self, op: Operation, mut start: F) -> BoxFuture<'a, Result<T>>
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, start()).await {
                Ok(result) => result,
                Err(_) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!("{op} did not finish within {limit:?}"),
                )
                .set_temporary()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_calls_time_out() {
        let layer = TimeoutLayer::new(Duration::from_millis(20));
        let r = layer
            .call(Operation::ComputeGet, || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.is_temporary());
        let fast = layer.call(Operation::ComputeGet, || async { Ok(7) }).await;
        assert_eq!(fast.unwrap(), 7);
    }
}
