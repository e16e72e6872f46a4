//! Parsers for flag values: sizes, durations, KEY=VALUE pairs, port mappings.

use std::time::Duration;

use nubes::{PortMapping, Protocol, Volume};

pub fn size(s: &str) -> Result<u64, String> {
    nubes::units::parse_bytes(s).map_err(|e| e.message().to_string())
}

/// `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
pub fn disk_format(s: &str) -> Result<nubes::DiskFormat, String> {
    s.parse().map_err(|e: nubes::Error| e.message().to_string())
}

pub fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration `{s}`: expected a number with ms, s, m, h or d"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => {
            return Err(format!(
                "invalid duration `{s}`: unknown unit `{unit}` (use ms, s, m, h or d)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration `{s}`"))
}

pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// `HOST:CONTAINER`, `CONTAINER` (any free host port), optionally `/udp`.
/// `DISK:PATH` or `DISK:PATH:ro`.
pub fn volume(s: &str) -> Result<Volume, String> {
    let (rest, read_only) = match s.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (s.strip_suffix(":rw").unwrap_or(s), false),
    };
    match rest.split_once(':') {
        Some((disk, path)) if !disk.is_empty() && path.starts_with('/') => {
            let v = Volume::new(disk, path);
            Ok(if read_only { v.read_only() } else { v })
        }
        _ => Err(format!(
            "invalid volume `{s}`: use DISK:PATH or DISK:PATH:ro, PATH absolute"
        )),
    }
}

pub fn port(s: &str) -> Result<PortMapping, String> {
    let (ports, protocol) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Protocol::Tcp),
        Some((p, "udp")) => (p, Protocol::Udp),
        Some((_, other)) => {
            return Err(format!(
                "unknown protocol `{other}` in `{s}` (use tcp or udp)"
            ))
        }
        None => (s, Protocol::Tcp),
    };
    let number = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("invalid port `{p}` in `{s}`: use 1-65535"))
    };
    let (host_port, container_port) = match ports.split_once(':') {
        Some((h, c)) => (Some(number(h)?), number(c)?),
        None => (None, number(ports)?),
    };
    let mut mapping = PortMapping::tcp(container_port, host_port);
    mapping.protocol = protocol;
    Ok(mapping)
}

/// `START-END` (end exclusive) or `START-` for an object range.
pub fn range(s: &str) -> Result<nubes::ByteRange, String> {
    let bad = || format!("invalid range `{s}`: use START-END (end exclusive) or START-");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let start = a.parse().map_err(|_| bad())?;
    let end = if b.is_empty() {
        None
    } else {
        Some(b.parse().map_err(|_| bad())?)
    };
    Ok(nubes::ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("5").unwrap(), Duration::from_secs(5));
        assert!(duration("-1s").is_err());
        assert!(duration("3 days").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(port("8080:80").unwrap(), PortMapping::tcp(80, Some(8080)));
        assert_eq!(port("80").unwrap(), PortMapping::tcp(80, None));
        assert_eq!(port("53:53/udp").unwrap().protocol, Protocol::Udp);
        for bad in ["0", "70000", "a:b", "80/sctp", ""] {
            assert!(port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_and_ranges() {
        assert_eq!(key_value("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(key_value("=x").is_err());
        assert!(key_value("novalue").is_err());
        assert_eq!(
            range("2-5").unwrap(),
            nubes::ByteRange {
                start: 2,
                end: Some(5)
            }
        );
        assert_eq!(range("7-").unwrap(), nubes::ByteRange::from(7));
        assert!(range("x").is_err());
    }
}
