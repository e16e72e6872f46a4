//! Byte sizes as people write them: `512`, `256Mi`, `1.5G`, `10GiB`.

use crate::{Error, Result};

/// Parses a size. Binary suffixes (Ki, Mi, Gi, Ti, with or without a trailing B) are powers of
/// 1024; decimal ones (K, M, G, T, KB, ...) are powers of 1000; no suffix means bytes.
pub fn parse_bytes(input: &str) -> Result<u64> {
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim();
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(Error::invalid_input(format!(
            "invalid size `{input}`: unknown unit `{unit}` (use B, Ki, Mi, Gi, Ti, K, M, G or T)"
        )))
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        Error::invalid_input(format!(
            "invalid size `{input}`: expected a number with an optional unit, like 256Mi"
        ))
    })?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(Error::invalid_input(format!(
            "invalid size `{input}`: out of range"
        )));
    }
    Ok(bytes.round() as u64)
}

/// Formats bytes with the largest binary unit that keeps the number at least 1.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "Ki", "Mi", "Gi", "Ti"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{}{}", value as u64, UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_bytes("512").unwrap(), 512);
        assert_eq!(parse_bytes("256Mi").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("2G").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("10GiB").unwrap(), 10 << 30);
        for bad in ["", "Mi", "-1", "12Xb", "1.2.3M"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_bytes(512), "512B");
        assert_eq!(format_bytes(256 << 20), "256Mi");
        assert_eq!(format_bytes(3 << 29), "1.5Gi");
    }
}
