//! Docker Engine errors become Nubes errors here, and nowhere else.

use bollard::errors::Error as DockerError;
use nubes_core::{Error, ErrorKind};

use crate::SCHEME;

/// Maps an engine error to a kind; the engine's message is kept because it is written for
/// people (it names the image, the limit, the conflicting container).
pub fn map(e: DockerError) -> Error {
    let (kind, temporary, message) = match &e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => {
            let kind = match status_code {
                400 => ErrorKind::InvalidInput,
                401 => ErrorKind::Unauthenticated,
                403 => ErrorKind::PermissionDenied,
                404 => ErrorKind::NotFound,
                409 => ErrorKind::Conflict,
                429 => ErrorKind::RateLimited,
                503 => ErrorKind::Unavailable,
                _ => ErrorKind::Unexpected,
            };
            (kind, *status_code == 503, message.clone())
        }
        DockerError::RequestTimeoutError => (
            ErrorKind::Timeout,
            true,
            "the Docker engine did not answer in time".to_string(),
        ),
        DockerError::SocketNotFoundError(path) => (
            ErrorKind::Unavailable,
            true,
            format!("no Docker engine socket at {path}: is dockerd running?"),
        ),
        // A refused or reset socket (dockerd stopped or restarting) arrives as the legacy
        // client's error.
        DockerError::HyperResponseError { .. }
        | DockerError::HttpClientError { .. }
        | DockerError::HyperLegacyError { .. }
        | DockerError::IOError { .. } => (
            ErrorKind::Unavailable,
            true,
            format!("the Docker engine is not reachable: {e}"),
        ),
        _ => (ErrorKind::Unexpected, false, e.to_string()),
    };
    let mut err = Error::new(kind, message).with_provider(SCHEME);
    if temporary {
        err = err.set_temporary();
    }
    err.with_source(e)
}

/// What the engine said, without the client's framing.
pub fn said(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The engine's HTTP status, if the error is an engine response.
pub fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Why creating the container for a `what` (instance, function) named `name` failed.
pub fn create(e: DockerError, what: &str, name: &str, image: &str) -> Error {
    match status(&e) {
        Some(404) => Error::not_found(format!(
            "image {image} not found on the engine: import or pull it first"
        ))
        .with_provider(SCHEME),
        Some(409) => {
            Error::already_exists(format!("{what} {name} already exists")).with_provider(SCHEME)
        }
        _ => map(e),
    }
}

pub fn not_found(what: &str, id: &str) -> Error {
    Error::not_found(format!("{what} {id} not found")).with_provider(SCHEME)
}

/// Why a container's main process could not start, phrased for the user; `None` when the engine
/// said something else.
pub fn start_failure(message: &str) -> Option<Error> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("executable file not found") || lower.contains("no such file or directory") {
        Some(
            Error::invalid_input(format!("the command cannot be started: {message}"))
                .with_provider(SCHEME),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code,
            message: "m".into(),
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(map(server(404)).kind(), ErrorKind::NotFound);
        assert_eq!(map(server(409)).kind(), ErrorKind::Conflict);
        assert_eq!(map(server(400)).kind(), ErrorKind::InvalidInput);
        assert_eq!(map(server(500)).kind(), ErrorKind::Unexpected);
        assert!(map(server(503)).is_temporary());
        assert!(!map(server(500)).is_temporary());
        let gone = map(DockerError::SocketNotFoundError("/x.sock".into()));
        assert_eq!(gone.kind(), ErrorKind::Unavailable);
        assert!(gone.is_temporary());
    }
}
