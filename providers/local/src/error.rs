use std::io;

use nubes_core::{Error, ErrorKind};

use crate::SCHEME;

/// Maps a filesystem error; `what` names the thing the user asked for.
pub fn io(e: io::Error, what: &str) -> Error {
    let (kind, message) = match e.kind() {
        io::ErrorKind::NotFound => (ErrorKind::NotFound, format!("{what} not found")),
        io::ErrorKind::PermissionDenied => (ErrorKind::PermissionDenied, format!("permission denied on {what}")),
        io::ErrorKind::AlreadyExists => (ErrorKind::AlreadyExists, format!("{what} already exists")),
        // A key that runs through another object ("a/b" when "a" is an object) or onto a
        // directory of keys ("a" when "a/b" exists): both cannot coexist on a filesystem.
        io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => (
            ErrorKind::Conflict,
            format!("{what} conflicts with an existing key (a key cannot be both an object and a prefix of others)"),
        ),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => (ErrorKind::QuotaExceeded, format!("no space left for {what}")),
        _ => (ErrorKind::Unexpected, format!("filesystem error on {what}: {e}")),
    };
    Error::new(kind, message)
        .with_provider(SCHEME)
        .with_source(e)
}
