//! kube's errors as Nubes errors: the API server's `Status` decides the kind, so RBAC refusals,
//! quota refusals, name clashes and missing objects mean the same here as on every provider.

use kube::core::Status;
use nubes_core::{Error, ErrorKind};

use crate::SCHEME;

/// Converts an error from a call about `what` (an instance, a disk, ...).
pub fn from_kube(e: kube::Error, what: &str) -> Error {
    let err = match &e {
        kube::Error::Api(status) => from_status(status, what),
        kube::Error::Auth(_) => Error::new(
            ErrorKind::Unauthenticated,
            format!("the cluster refused the credentials: {e}"),
        ),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            Error::new(
                ErrorKind::Unavailable,
                format!("the Kubernetes API server did not answer: {e}"),
            )
            .set_temporary()
        }
        kube::Error::UpgradeConnection(_) => Error::new(
            ErrorKind::Unavailable,
            format!("the API server refused to open a stream: {e}"),
        ),
        _ => Error::unexpected(format!("Kubernetes: {e}")),
    };
    err.with_provider(SCHEME).with_source(e)
}

/// Converts an error from creating `what` (`instance web`), naming the clash when the name is
/// taken.
pub fn created(e: kube::Error, what: &str) -> Error {
    match from_kube(e, what) {
        e if e.kind() == ErrorKind::AlreadyExists => {
            Error::already_exists(format!("{what} already exists")).with_provider(SCHEME)
        }
        e => e,
    }
}

/// Whether a ResourceQuota refused the call: past its limits, or before its usage is counted.
pub fn quota_refused(status: &Status) -> bool {
    status.code == 403
        && (status.message.contains("exceeded quota")
            || status.message.contains("status unknown for quota"))
}

/// The kind a `Status` from the API server means.
pub fn from_status(status: &Status, what: &str) -> Error {
    let message = if status.message.is_empty() {
        format!("{what}: {}", status.reason)
    } else {
        status.message.clone()
    };
    let kind = match (status.code, status.reason.as_str()) {
        (404, _) | (_, "NotFound") => ErrorKind::NotFound,
        (409, "AlreadyExists") => ErrorKind::AlreadyExists,
        (409, _) | (_, "Conflict") => ErrorKind::Conflict,
        // A ResourceQuota refusal comes as 403 Forbidden with this wording; a quota whose
        // usage is not counted yet refuses everything for a moment.
        (403, _) if message.contains("exceeded quota") => ErrorKind::QuotaExceeded,
        (403, _) if message.contains("status unknown for quota") => ErrorKind::Unavailable,
        (403, _) | (_, "Forbidden") => ErrorKind::PermissionDenied,
        (401, _) | (_, "Unauthorized") => ErrorKind::Unauthenticated,
        (400 | 422, _) | (_, "Invalid") | (_, "BadRequest") => ErrorKind::InvalidInput,
        (429, _) | (_, "TooManyRequests") => ErrorKind::RateLimited,
        (504, _) | (_, "Timeout") => ErrorKind::Timeout,
        (500..=599, _) | (_, "ServiceUnavailable") => ErrorKind::Unavailable,
        _ => ErrorKind::Unexpected,
    };
    let err = Error::new(kind, message);
    if matches!(
        kind,
        ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Timeout
    ) {
        err.set_temporary()
    } else {
        err
    }
}

/// Whether a call failed on the connection, not at the API server: a pooled keep-alive
/// connection the server had just closed, say.
pub fn transient(e: &kube::Error) -> bool {
    matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_))
}

/// Runs a call that is safe to repeat (a read, a create whose clash is checked), again after
/// a connection failure, up to three times in all.
pub async fn again<T, F, Fut>(mut call: F) -> std::result::Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if attempt < 2 && transient(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
            }
            result => return result,
        }
    }
}

/// Converts a kube-runtime wait error.
pub fn from_wait(e: kube::runtime::wait::Error, what: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("watching {what} failed: {e}"),
    )
    .set_temporary()
    .with_provider(SCHEME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> Status {
        let mut s = Status::failure(message, reason);
        s.code = code;
        s
    }

    #[test]
    fn statuses_map_to_kinds() {
        for (code, reason, message, kind) in [
            (404, "NotFound", "pods \"x\" not found", ErrorKind::NotFound),
            (
                409,
                "AlreadyExists",
                "configmaps \"x\" already exists",
                ErrorKind::AlreadyExists,
            ),
            (
                409,
                "Conflict",
                "the object has been modified",
                ErrorKind::Conflict,
            ),
            (
                403,
                "Forbidden",
                "pods is forbidden: User \"u\" cannot list",
                ErrorKind::PermissionDenied,
            ),
            (
                403,
                "Forbidden",
                "pods \"x\" is forbidden: exceeded quota: nubes, requested: limits.cpu=2",
                ErrorKind::QuotaExceeded,
            ),
            (
                401,
                "Unauthorized",
                "Unauthorized",
                ErrorKind::Unauthenticated,
            ),
            (
                422,
                "Invalid",
                "Pod \"X\" is invalid",
                ErrorKind::InvalidInput,
            ),
            (429, "TooManyRequests", "slow down", ErrorKind::RateLimited),
            (503, "ServiceUnavailable", "etcd", ErrorKind::Unavailable),
            (504, "Timeout", "took too long", ErrorKind::Timeout),
        ] {
            let e = from_status(&status(code, reason, message), "pod x");
            assert_eq!(e.kind(), kind, "{code} {reason}");
            assert_eq!(e.message(), message);
        }
        assert!(from_status(&status(503, "", "down"), "x").is_temporary());
        assert!(!from_status(&status(404, "NotFound", "gone"), "x").is_temporary());
    }
}
