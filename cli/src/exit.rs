//! How errors leave cloudctl: one exit code per `ErrorKind`, and a message saying what is wrong.
//! Scripts can rely on these numbers; `instance exec` and `function invoke` instead exit with the
//! remote command's own code.

use nubes::{Error, ErrorKind};

/// The exit code for an error of `kind`.
pub fn code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::NotFound => 3,
        ErrorKind::AlreadyExists => 4,
        ErrorKind::InvalidInput => 5,
        ErrorKind::Unsupported => 6,
        ErrorKind::PermissionDenied => 7,
        ErrorKind::Unauthenticated => 8,
        ErrorKind::QuotaExceeded => 9,
        ErrorKind::InsufficientCredits => 10,
        ErrorKind::Conflict => 11,
        ErrorKind::RateLimited => 12,
        ErrorKind::Timeout => 13,
        ErrorKind::Unavailable => 14,
        _ => 1,
    }
}

/// What to tell the user, with a hint where one helps.
pub fn message(e: &Error) -> String {
    let hint = match e.kind() {
        ErrorKind::Unavailable if e.message().contains("Docker engine") => {
            "\nhint: start the engine (scripts/setup.sh does) or point --provider at another one"
        }
        ErrorKind::Unsupported if e.message().contains("offers no storage") => {
            "\nhint: buckets and objects live on a storage provider, e.g. --provider local:///var/lib/nubes"
        }
        _ => "",
    };
    format!("error[{}]: {}{hint}", e.kind(), e.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own code for bad usage; kept distinct from every kind.
    const USAGE: i32 = 2;

    #[test]
    fn every_kind_has_its_own_code() {
        let mut codes: Vec<i32> = ErrorKind::ALL.iter().map(|k| code(*k)).collect();
        assert!(!codes.contains(&0) && !codes.contains(&USAGE));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }
}
