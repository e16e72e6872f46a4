//! Waiting for an instance to reach a state.

use std::time::Duration;

use tokio::time::Instant;

use crate::{Compute, Error, ErrorKind, Instance, InstanceState, Result};

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitCondition {
    State(InstanceState),
    Deleted,
}

/// Polls the instance with exponential backoff (50 ms doubling up to 1 s) until `condition`
/// holds, and returns the instance (`None` once deleted). Fails with `Timeout` after `timeout`,
/// and with `Conflict` if the instance fails while waiting for another state.
pub async fn wait_for(
    compute: &dyn Compute,
    id: &str,
    condition: WaitCondition,
    timeout: Duration,
) -> Result<Option<Instance>> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(50);
    loop {
        let last = match compute.get(id).await {
            Ok(instance) => {
                match condition {
                    WaitCondition::State(want) if instance.state == want => {
                        return Ok(Some(instance))
                    }
                    WaitCondition::State(_) if instance.state == InstanceState::Failed => {
                        return Err(Error::conflict(format!(
                            "instance {id} failed while waiting for {condition:?}"
                        )))
                    }
                    _ => {}
                }
                instance.state.to_string()
            }
            Err(e) if e.kind() == ErrorKind::NotFound && condition == WaitCondition::Deleted => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "instance {id} is still {last} after {timeout:?}, waiting for {condition:?}"
                ),
            ));
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}
