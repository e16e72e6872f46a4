//! Input rules shared by every provider, so bad input fails the same way on every backend and
//! before anything is created.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// Most cores one instance may ask for; a guard against typos (`--cpus 1000000`).
pub const MAX_CPUS: f64 = 1024.0;
/// Least memory an instance may have: below this no container runtime starts a process.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// Label keys under this prefix belong to Nubes itself.
pub const RESERVED_LABEL_PREFIX: &str = "io.nubes.";

/// Names of instances, disks and functions: 1–63 characters, lowercase letters, digits, `-`,
/// `_` and `.`, starting and ending with a letter or digit.
pub fn name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid {what} name `{}`: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            name.escape_debug()
        )))
    }
}

/// Bucket names: 3–63 characters of lowercase letters, digits, `-` and `.`, starting and ending
/// with a letter or digit (the S3 rule, so a bucket can move between backends).
pub fn bucket(name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "invalid bucket name `{}`: use 3-63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
            name.escape_debug()
        )))
    }
}

/// Object keys: 1–1024 bytes of `/`-separated segments, none empty, `.` or `..`; no NUL, no
/// backslash, no leading `/`. Keys therefore map onto a directory tree without escaping it.
pub fn object_key(key: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid_input(format!(
            "invalid object key `{}`: {why}",
            key.escape_debug()
        )))
    };
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if key.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if key.contains('\\') {
        return bad("it contains a backslash");
    }
    if key.starts_with('/') {
        return bad("it starts with '/'");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("it has an empty path segment"),
            "." | ".." => return bad("it has a '.' or '..' path segment"),
            _ => {}
        }
    }
    Ok(())
}

/// CPU and memory requests: positive, finite, within bounds.
pub fn resources(cpus: Option<f64>, memory: Option<u64>) -> Result<()> {
    if let Some(c) = cpus {
        if !c.is_finite() || c <= 0.0 {
            return Err(Error::invalid_input(format!(
                "cpus must be a positive number, got {c}"
            )));
        }
        if c > MAX_CPUS {
            return Err(Error::invalid_input(format!(
                "cpus must be at most {MAX_CPUS}, got {c}"
            )));
        }
    }
    if let Some(m) = memory {
        if m < MIN_MEMORY {
            return Err(Error::invalid_input(format!(
                "memory must be at least 6Mi ({MIN_MEMORY} bytes), got {m} bytes"
            )));
        }
    }
    Ok(())
}

/// Environment variable names: non-empty, no `=` or NUL; values without NUL.
pub fn env(env: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in env {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(Error::invalid_input(format!(
                "invalid environment variable `{}`: names must be non-empty without '=' and nothing may contain NUL",
                k.escape_debug()
            )));
        }
    }
    Ok(())
}

/// User labels: non-empty keys of at most 128 bytes outside the reserved `io.nubes.` prefix.
pub fn labels(labels: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in labels {
        if k.is_empty() || k.len() > 128 || v.len() > 1024 || k.contains('\0') || v.contains('\0') {
            return Err(Error::invalid_input(format!(
                "invalid label `{}`: keys are 1-128 bytes, values at most 1024, no NUL",
                k.escape_debug()
            )));
        }
        if k.starts_with(RESERVED_LABEL_PREFIX) {
            return Err(Error::invalid_input(format!(
                "label `{k}` uses the reserved prefix `{RESERVED_LABEL_PREFIX}`"
            )));
        }
    }
    Ok(())
}

/// Whether `key` is in the platform's label namespace: `io.nubes.` (providers' own) and every
/// `nubes`-prefixed key (`nubes-cluster`, `nubes-priority`, `nubes-fleet`, ...), in any case.
pub fn platform_label(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with(RESERVED_LABEL_PREFIX)
        || k.strip_prefix("nubes")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', '/', '_', ':']))
}

/// Labels a tenant gives: valid as [`labels`], and none in the platform's namespace, whose keys
/// the platform reads back (which cluster an instance counts against, its priority, its agent).
pub fn tenant_labels(labels: &BTreeMap<String, String>) -> Result<()> {
    self::labels(labels)?;
    match labels.keys().find(|k| platform_label(k)) {
        Some(k) => Err(Error::invalid_input(format!(
            "label `{k}` is in the platform's reserved namespace (`nubes*`, `io.nubes.*`)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn names() {
        for good in ["web", "a", "web-1", "db_2.prod", "0x"] {
            name("instance", good).unwrap();
        }
        for bad in [
            "",
            "Web",
            "-web",
            "web-",
            "a b",
            "a/b",
            "über",
            &"a".repeat(64),
        ] {
            assert_eq!(
                name("instance", bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_cannot_escape() {
        for good in [
            "a",
            "a/b/c.txt",
            "dir/.hidden",
            "x..y",
            "a/...",
            "spaces are fine",
        ] {
            object_key(good).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
            "a\\b",
        ] {
            assert_eq!(
                object_key(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
        assert!(object_key(&"k".repeat(1025)).is_err());
    }

    #[test]
    fn buckets() {
        bucket("my-bucket.1").unwrap();
        for bad in ["ab", "Bucket", "-b-", "a..b", "a_b", &"b".repeat(64)] {
            assert!(bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resource_bounds() {
        resources(Some(0.5), Some(64 << 20)).unwrap();
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY, 2048.0] {
            assert!(resources(Some(c), None).is_err(), "{c}");
        }
        assert!(resources(None, Some(0)).is_err());
        assert!(resources(None, Some(MIN_MEMORY - 1)).is_err());
    }

    #[test]
    fn reserved_labels() {
        let mut l = BTreeMap::new();
        l.insert("io.nubes.managed".to_string(), "x".to_string());
        assert!(labels(&l).is_err());
        for k in [
            "nubes-cluster",
            "Nubes-Priority",
            "nubes.anything",
            "NUBES",
            "io.Nubes.kind",
        ] {
            let l = BTreeMap::from([(k.to_string(), "x".to_string())]);
            assert!(tenant_labels(&l).is_err(), "{k}");
        }
        for k in ["nubesque", "app", "my.nubes-cluster"] {
            let l = BTreeMap::from([(k.to_string(), "x".to_string())]);
            assert!(tenant_labels(&l).is_ok(), "{k}");
        }
    }
}
